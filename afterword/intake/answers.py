"""The one place where refusals become HTTP answers.

Every refusal is a ``CommentRejected`` (or another ``AfterwordError``, or Starlette's own 404
and 405) raised wherever it was found. ``answer_error`` turns it into
``{"error": {"code", "message", "fields"}}`` with the right status and headers — or, for a
plain HTML form post, into a 303 back to the page with ``?afterword_error=<code>``, because a
browser without JavaScript would otherwise show the visitor raw JSON.

A ``StorageError``'s text names the database file and SQLite's complaint, a ``QueueError``'s
the queue URL (with the AWS account) and SQS's: useful to the operator, a map of the server to
anyone else. So either is logged (logger ``afterword.intake``) and the client gets the same
fixed ``STORAGE_MESSAGE`` with ``Retry-After`` — the SQS intake answers exactly like SQLite's.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlencode, urlsplit

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response

from afterword.errors import (
    AfterwordError,
    CommentRejected,
    InvalidPageKey,
    QueueError,
    StorageError,
)
from afterword.pagekey import normalize_page_key

if TYPE_CHECKING:
    from afterword.intake.app import Intake

OUTCOME_BY_CODE = {"rate_limited": "rate-limited", "duplicate": "duplicate"}
STATUS_CODES = {404: "not_found", 405: "method_not_allowed"}
STORAGE_MESSAGE = "the comment store is temporarily unavailable; try again shortly"
STORAGE_RETRY_AFTER = "5"

log = logging.getLogger("afterword.intake")


def _state(request: Request) -> Intake:
    intake: Intake = request.app.state.intake
    return intake


async def answer_error(request: Request, exc: Exception) -> Response:
    """The one translation of refusals into HTTP (JSON envelope, or 303 for a form post)."""
    rejected = _as_rejected(exc)
    if request.url.path == "/api/comments" and request.method == "POST":
        if rejected.status < 500:
            _state(request).metrics.count(OUTCOME_BY_CODE.get(rejected.code, "invalid"))
        if getattr(request.state, "form", False):
            return _form_error(request, rejected)
    headers = {**getattr(request.state, "cors", {}), **rejected.headers}
    error = {"code": rejected.code, "message": rejected.message, "fields": rejected.fields}
    return JSONResponse({"error": error}, rejected.status, headers)


def internal_error(exc: Exception) -> Response:
    """What a bug looks like from outside: the envelope, no details."""
    rejected = _as_rejected(exc)
    error = {"code": rejected.code, "message": rejected.message, "fields": {}}
    return JSONResponse({"error": error}, rejected.status)


def _as_rejected(exc: Exception) -> CommentRejected:
    if isinstance(exc, CommentRejected):
        return exc
    if isinstance(exc, HTTPException):
        code = STATUS_CODES.get(exc.status_code, "http_error")
        return CommentRejected(
            str(exc.detail), code=code, status=exc.status_code, headers=exc.headers
        )
    if isinstance(exc, StorageError | QueueError):
        log.warning("storage unavailable: %s", exc)
        return CommentRejected(
            STORAGE_MESSAGE,
            code="unavailable",
            status=503,
            headers={"Retry-After": STORAGE_RETRY_AFTER},
        )
    if isinstance(exc, AfterwordError):
        return CommentRejected(str(exc), code="error", status=500)
    return CommentRejected("internal error", code="internal", status=500)


def _form_error(request: Request, rejected: CommentRejected) -> Response:
    """A no-JavaScript form post: back to the page, the error named in the query string."""
    intake = _state(request)
    fields: dict[str, Any] = getattr(request.state, "fields", {})
    target = intake.origins.redirect_target(fields.get("redirect"), _page_key(fields))
    params = {"afterword_error": rejected.code}
    if rejected.fields:
        params["afterword_fields"] = ",".join(sorted(rejected.fields))
    location = without_our_params(target, params) + "#afterword-error"
    return RedirectResponse(location, 303, {**request.state.cors, **rejected.headers})


def without_our_params(url: str, add: dict[str, str] | None = None) -> str:
    """Drop earlier ``afterword_*`` query parameters (a second failed attempt), add new ones."""
    parts = urlsplit(url)
    pairs = [
        (k, v)
        for k, v in parse_qsl(parts.query, keep_blank_values=True)
        if not k.startswith("afterword_")
    ]
    pairs.extend((add or {}).items())
    query = f"?{urlencode(pairs)}" if pairs else ""
    return f"{parts.scheme}://{parts.netloc}{parts.path}{query}"


def _page_key(fields: dict[str, Any]) -> str | None:
    page = fields.get("page")
    try:
        return normalize_page_key(page) if isinstance(page, str) else None
    except InvalidPageKey:
        return None
