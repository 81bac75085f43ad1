"""Page keys: one canonical name per page, computed identically here and in the widget.

A comment thread is found by its page key in three places -- the intake (which gets the
``page`` field the widget sent), the builder (which writes ``threads/<folder>/...``) and the
widget (which fetches that folder). Python and JavaScript must agree byte for byte, so the
rules below are deliberately mechanical; ``tests/vectors/page_keys.json`` is the executable
form of this docstring and both implementations are tested against it.

``normalize_page_key(value)``, in this order:

1. Reject (``InvalidPageKey``) if ``value`` is longer than 2048 code points (count code
   points, not UTF-16 units: JS ``[...value].length``) or contains a lone surrogate
   (U+D800..U+DFFF).
2. Strip leading and trailing ASCII whitespace -- TAB, LF, FF, CR, SPACE, exactly the set
   HTML uses for attribute values. Nothing else is stripped (NBSP is page content). Reject
   if nothing is left.
3. Reject if what is left contains a control character: U+0000..U+001F, U+007F..U+009F.
4. If it matches ``^[A-Za-z][A-Za-z0-9+.-]*://`` remove that match; otherwise if it starts
   with ``//`` remove those two characters. In both cases then remove the authority: every
   character up to, not including, the first ``/``, ``\\``, ``?`` or ``#`` (all of it if
   there is none). Input without a scheme or ``//`` is a path and keeps everything.
5. Cut at the first ``?`` or ``#`` (query and fragment are not part of the page).
6. Replace every ``\\`` with ``/``.
7. Percent-decode: encode the string as UTF-8, replace each ``%`` followed by two hex digits
   (either case) with that byte, scanning left to right without re-scanning output (so
   ``%2541`` gives ``%41``), leave any other ``%`` as is, and decode the bytes as strict
   UTF-8 (JS: ``new TextDecoder("utf-8", {fatal: true, ignoreBOM: true})`` -- without
   ``ignoreBOM`` a leading ``%EF%BB%BF`` would vanish in JS but not here). Invalid UTF-8 →
   reject. ``%2F`` deliberately becomes a separator and ``%2E%2E`` a ``..`` segment.
8. Reject if the decoded string contains a control character (as in 3).
9. Unicode NFC.
10. Split on ``/``. Drop empty and ``.`` segments; ``..`` removes the previous segment, if
    any (never climbs above the root).
11. While the last segment is exactly ``index.html`` or ``index.htm``, drop it (the page is
    its folder; the loop keeps ``/index.html/index.html`` idempotent).
12. Escape these five characters inside segments, so that the key normalizes to itself and
    does not get reinterpreted as syntax: ``%`` → ``%25``, ``?`` → ``%3F``, ``#`` → ``%23``,
    ``\\`` → ``%5C``, SPACE → ``%20``. Everything else stays decoded (``/café/``).
13. No segments → ``/``. Else if the last (unescaped) segment contains ``.`` the key is
    ``/a/b/last`` (a file-like page); otherwise ``/a/b/last/``.
14. Reject if the key is longer than 1024 code points, or if its folder (below) is longer
    than 900 characters or has a segment longer than 255 characters.

Case is preserved throughout: ``/About/`` and ``/about/`` are different pages.

``encode_page_path(key)`` gives the folder under ``threads/`` (``page_folder`` prefixes it):
each segment of the key, as UTF-8, percent-encoded with uppercase hex, keeping only
``A-Z a-z 0-9 - . _ ~`` literal (JS ``encodeURIComponent`` also keeps ``! ' ( ) *``, so it
needs a further replace); segments joined with ``/``; the root key gives ``""``. A segment
that then starts with ``comments`` or ``feed`` (case-sensitive) has its first character
encoded (``%63omments.json``, ``%66eed``): a page's own files are all named ``comments*``
or ``feed*``, and this keeps a child page's folder from ever having one of those names.
Because ``%`` is always encoded, the result is injective.

The limits in step 14 exist because the folder becomes part of an object key: S3 allows 1024
bytes per key (we leave room for ``threads/``, a prefix and the file name) and most local
filesystems 255 bytes per name.
"""

from __future__ import annotations

import re
import unicodedata

from afterword.errors import InvalidPageKey

__all__ = [
    "MAX_ENCODED_LENGTH",
    "MAX_ENCODED_SEGMENT_LENGTH",
    "MAX_INPUT_LENGTH",
    "MAX_KEY_LENGTH",
    "encode_page_path",
    "normalize_page_key",
    "page_folder",
]

MAX_INPUT_LENGTH = 2048
MAX_KEY_LENGTH = 1024
MAX_ENCODED_LENGTH = 900
MAX_ENCODED_SEGMENT_LENGTH = 255

THREADS_ROOT = "threads"

_HTML_WHITESPACE = "\t\n\f\r "
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f]")
_SURROGATE = re.compile("[\ud800-\udfff]")
_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*://")
_AUTHORITY_END = re.compile(r"[/\\?#]")
_QUERY_OR_FRAGMENT = re.compile(r"[?#]")
_PERCENT_BYTE = re.compile(rb"%([0-9A-Fa-f]{2})")
_KEY_ESCAPES = str.maketrans({"%": "%25", "?": "%3F", "#": "%23", "\\": "%5C", " ": "%20"})
_UNRESERVED = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
_RESERVED_PREFIXES = ("comments", "feed")
_INDEX_FILES = frozenset({"index.html", "index.htm"})


def normalize_page_key(value: str) -> str:
    """Turn a URL or path into the page key (rules in the module docstring).

    Raises ``InvalidPageKey`` rather than guessing: a key is an identity, and a guess that
    differs from the widget's would silently split one page's thread in two.
    """
    segments = _segments(value)
    key = _join_key(segments)
    if len(key) > MAX_KEY_LENGTH:
        raise InvalidPageKey(f"page key is longer than {MAX_KEY_LENGTH} characters")
    encoded = [_encode_segment(segment) for segment in _key_segments(key)]
    if any(len(part) > MAX_ENCODED_SEGMENT_LENGTH for part in encoded):
        raise InvalidPageKey(
            f"a path segment encodes to more than {MAX_ENCODED_SEGMENT_LENGTH} characters"
        )
    if len("/".join(encoded)) > MAX_ENCODED_LENGTH:
        raise InvalidPageKey(f"page path encodes to more than {MAX_ENCODED_LENGTH} characters")
    return key


def encode_page_path(key: str) -> str:
    """Map a page key to its folder below ``threads/`` (no leading or trailing slash).

    Only canonical keys are accepted: encoding a raw path would let ``..`` or an
    un-normalized twin of a page reach the object store, so anything that does not
    normalize to itself is refused instead of being fixed up.
    """
    if normalize_page_key(key) != key:
        raise InvalidPageKey(f"not a canonical page key: {key!r}")
    return "/".join(_encode_segment(segment) for segment in _key_segments(key))


def page_folder(key: str) -> str:
    """Return ``threads`` or ``threads/<encoded>`` so nobody joins (and mis-joins) by hand."""
    encoded = encode_page_path(key)
    return f"{THREADS_ROOT}/{encoded}" if encoded else THREADS_ROOT


def _segments(value: str) -> list[str]:
    """Steps 1-11: the decoded, resolved segments of the page's path."""
    if len(value) > MAX_INPUT_LENGTH:
        raise InvalidPageKey(f"page URL is longer than {MAX_INPUT_LENGTH} characters")
    if _SURROGATE.search(value):
        raise InvalidPageKey("page URL contains a lone surrogate")
    text = value.strip(_HTML_WHITESPACE)
    if not text:
        raise InvalidPageKey("page URL is empty")
    if _CONTROL.search(text):
        raise InvalidPageKey("page URL contains a control character")

    scheme = _SCHEME.match(text)
    if scheme or text.startswith("//"):
        rest = text[scheme.end() :] if scheme else text[2:]
        end = _AUTHORITY_END.search(rest)
        text = rest[end.start() :] if end else ""
    cut = _QUERY_OR_FRAGMENT.search(text)
    if cut:
        text = text[: cut.start()]
    text = text.replace("\\", "/")

    raw = _PERCENT_BYTE.sub(lambda m: bytes((int(m[1], 16),)), text.encode("utf-8"))
    try:
        path = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidPageKey("page URL is not valid UTF-8 once percent-decoded") from None
    if _CONTROL.search(path):
        raise InvalidPageKey("page URL contains an encoded control character")
    path = unicodedata.normalize("NFC", path)

    segments: list[str] = []
    for segment in path.split("/"):
        if segment in ("", "."):
            continue
        if segment == "..":
            if segments:
                segments.pop()
            continue
        segments.append(segment)
    while segments and segments[-1] in _INDEX_FILES:
        segments.pop()
    return segments


def _join_key(segments: list[str]) -> str:
    """Steps 12-13: escape and join; the trailing slash marks a folder-like page."""
    if not segments:
        return "/"
    body = "/" + "/".join(segment.translate(_KEY_ESCAPES) for segment in segments)
    return body if "." in segments[-1] else body + "/"


def _key_segments(key: str) -> list[str]:
    """Split a canonical key back into segments; the root has none."""
    return [segment for segment in key.split("/") if segment]


def _encode_segment(segment: str) -> str:
    """Percent-encode one key segment, and shield the names a page's own files use."""
    encoded = "".join(
        chr(byte) if byte in _UNRESERVED else f"%{byte:02X}" for byte in segment.encode("utf-8")
    )
    if encoded.startswith(_RESERVED_PREFIXES):
        encoded = f"%{ord(encoded[0]):02X}{encoded[1:]}"
    return encoded
