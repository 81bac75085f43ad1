"""Request body → a dict of text fields, with the size cap enforced before any parsing.

One route takes JSON (the widget), ``application/x-www-form-urlencoded`` (a plain HTML form)
and ``multipart/form-data`` (a ``FormData`` post). The order of refusals is fixed and tested:
415 for a content type we do not parse, 413 as soon as the declared or the received length
passes ``max_request_bytes`` (we stop reading there), 400 when the bytes do not parse or are
not UTF-8. Field *values* are judged later, by ``validate``.

A client that hangs up before its body is complete is not an error of ours: it becomes a
``CommentRejected`` with the non-standard status 499 (nginx's "client closed request", code
``client_closed``), which nobody receives but which keeps it out of the 500s and the log.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import parse_qsl

from python_multipart.exceptions import FormParserError
from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.requests import ClientDisconnect

from afterword.errors import CommentRejected

if TYPE_CHECKING:
    from python_multipart.multipart import MultipartCallbacks

JSON_TYPE = "application/json"
URLENCODED_TYPE = "application/x-www-form-urlencoded"
MULTIPART_TYPE = "multipart/form-data"
FORM_TYPES = frozenset({URLENCODED_TYPE, MULTIPART_TYPE})
MAX_FIELDS = 32
CLIENT_CLOSED = 499


@dataclass(frozen=True)
class ContentType:
    media_type: str
    params: dict[str, str]

    @property
    def is_form(self) -> bool:
        return self.media_type in FORM_TYPES


def parse_content_type(header: str | None) -> ContentType:
    """The media type we parse, or 415 (code ``unsupported_media_type``)."""
    media, raw = parse_options_header(header or "")
    media_type = media.decode("latin-1").lower()
    params = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in raw.items()}
    charset = params.get("charset", "utf-8").lower()
    if media_type not in FORM_TYPES | {JSON_TYPE} or charset not in ("utf-8", "utf8"):
        raise CommentRejected(
            "send application/json, application/x-www-form-urlencoded or multipart/form-data "
            "in UTF-8",
            code="unsupported_media_type",
            status=415,
        )
    return ContentType(media_type, params)


async def read_capped(
    chunks: AsyncIterator[bytes], declared_length: str | None, limit: int
) -> bytes:
    """Read the body, refusing (413) a declared or actual length over ``limit`` bytes."""
    if declared_length is not None:
        try:
            declared = int(declared_length)
        except ValueError:
            raise _malformed("Content-Length is not a number") from None
        if declared > limit:
            raise _too_large(limit)
    body = bytearray()
    try:
        async for chunk in chunks:
            body += chunk
            if len(body) > limit:
                raise _too_large(limit)
    except ClientDisconnect:
        raise CommentRejected(
            "the client closed the connection before sending the whole body",
            code="client_closed",
            status=CLIENT_CLOSED,
        ) from None
    return bytes(body)


def parse_fields(content_type: ContentType, body: bytes) -> dict[str, object]:
    """Decode the body into fields; the first occurrence of a repeated form field wins."""
    if content_type.media_type == JSON_TYPE:
        return _parse_json(body)
    if content_type.media_type == URLENCODED_TYPE:
        return _parse_urlencoded(body)
    return _parse_multipart(body, content_type.params.get("boundary", ""))


def _parse_json(body: bytes) -> dict[str, object]:
    try:
        data = json.loads(body.decode("utf-8"))
    except UnicodeDecodeError:
        raise _malformed("the body is not valid UTF-8") from None
    except ValueError as exc:
        raise _malformed(f"the body is not valid JSON: {exc}") from None
    except RecursionError:  # "[[[[…" under the size cap: deeper than the parser may go
        raise _malformed("the body is not valid JSON: nested too deeply") from None
    if not isinstance(data, dict):
        raise _malformed("the body must be a JSON object")
    return data


def _parse_urlencoded(body: bytes) -> dict[str, object]:
    try:
        pairs = parse_qsl(
            body.decode("utf-8"),
            keep_blank_values=True,
            strict_parsing=False,
            encoding="utf-8",
            errors="strict",
            max_num_fields=MAX_FIELDS,
        )
    except UnicodeDecodeError:
        raise _malformed("the form is not valid UTF-8") from None
    except ValueError as exc:
        raise _malformed(f"the form cannot be parsed: {exc}") from None
    fields: dict[str, object] = {}
    for name, value in pairs:
        fields.setdefault(name, value)
    return fields


def _parse_multipart(body: bytes, boundary: str) -> dict[str, object]:
    if not boundary:
        raise _malformed("multipart body without a boundary")
    collector = _PartCollector()
    try:
        parser = MultipartParser(boundary, collector.callbacks())
        parser.write(body)
        parser.finalize()
    except FormParserError as exc:
        raise _malformed(f"the multipart body cannot be parsed: {exc}") from None
    if not collector.complete:
        raise _malformed("the multipart body ends early")
    return collector.fields


class _PartCollector:
    """python-multipart callbacks gathering text parts; a file part is refused."""

    def __init__(self) -> None:
        self.fields: dict[str, object] = {}
        self.complete = False
        self._header_name = b""
        self._headers: dict[bytes, bytes] = {}
        self._data = bytearray()

    def callbacks(self) -> MultipartCallbacks:
        return {
            "on_part_begin": self._begin,
            "on_part_data": self._part_data,
            "on_part_end": self._end,
            "on_header_field": self._header_field,
            "on_header_value": self._header_value,
            "on_end": self._finish,
        }

    def _begin(self) -> None:
        self._headers, self._data, self._header_name = {}, bytearray(), b""

    def _part_data(self, data: bytes, start: int, end: int) -> None:
        self._data += data[start:end]

    def _header_field(self, data: bytes, start: int, end: int) -> None:
        self._header_name = data[start:end].lower()

    def _header_value(self, data: bytes, start: int, end: int) -> None:
        key = self._header_name
        self._headers[key] = self._headers.get(key, b"") + data[start:end]

    def _end(self) -> None:
        _, options = parse_options_header(self._headers.get(b"content-disposition", b""))
        if b"filename" in options:
            raise _malformed("file uploads are not accepted")
        if b"name" not in options:
            raise _malformed("a multipart part has no name")
        if len(self.fields) >= MAX_FIELDS:
            raise _malformed("too many fields")
        try:
            name = options[b"name"].decode("utf-8")
            value = self._data.decode("utf-8")
        except UnicodeDecodeError:
            raise _malformed("the form is not valid UTF-8") from None
        self.fields.setdefault(name, value)

    def _finish(self) -> None:
        self.complete = True


def _malformed(message: str) -> CommentRejected:
    return CommentRejected(message, code="malformed", status=400)


def _too_large(limit: int) -> CommentRejected:
    return CommentRejected(
        f"the request body is larger than {limit} bytes", code="too_large", status=413
    )
