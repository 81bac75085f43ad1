"""The one place where refusals and failures become HTTP answers.

``answer_for`` is the single mapping from an exception to status, code, message and headers:

* ``CommentRejected`` — a 4xx the client can fix; its own status, code and ``fields``;
* Starlette's ``HTTPException`` — 404 ``not_found``, 405 ``method_not_allowed``;
* ``StorageError`` / ``CommentNotStored`` — 503 ``unavailable`` with ``Retry-After``;
* anything else (``InternalError``, a bug) — 500 ``internal``, no details.

It is used three ways: ``answer_post`` for the submission route (which knows whether the post
came from a plain HTML form — then the answer is a 303 back to the page with
``?afterword_error=<code>``, because a browser without JavaScript would otherwise show the
visitor raw JSON — and which CORS headers it earns), ``answer_error`` as Starlette's
exception handler for every other route, and ``internal_error`` for the timing middleware's
last-resort answer to a bug. The last two shape the answer by route family (``shaped``): under
``paths.PAGE_PREFIXES`` (``/moderate``, ``/subscription``) — the links a person opens from a
mail — a small, self-contained HTML page in the site's language (a bug there too: a 500 page
with no detail, logged once, by the server, with its traceback); everywhere else the JSON
envelope.

A storage failure's text names the database file and SQLite's complaint, a ``QueueError``'s
the queue URL (with the AWS account) and SQS's: useful to the operator, a map of the server to
anyone else. So it is logged (logger ``afterword.intake``) and the client gets the fixed
``STORAGE_MESSAGE``, plus a ``reason`` word (``full``, ``busy``, ``read_only``, ``corrupt``,
``storage``, ``stopped``, ``queue``) that names the kind of failure and no file.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlencode, urlsplit

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.types import Scope

from afterword.errors import (
    AfterwordError,
    CommentNotStored,
    CommentRejected,
    InternalError,
    InvalidPageKey,
    QueueError,
    StorageBusy,
    StorageCorrupt,
    StorageError,
    StorageFull,
    StorageReadOnly,
)
from afterword.intake import paths
from afterword.notify.linkpage import ENGLISH, PageStrings, render_page
from afterword.notify.linkpage import HEADERS as LINK_HEADERS
from afterword.pagekey import normalize_page_key

if TYPE_CHECKING:
    from afterword.intake.app import Intake

OUTCOME_BY_CODE = {
    "rate_limited": "rate-limited",
    "duplicate": "duplicate",
    "client_closed": "disconnected",
}
STATUS_CODES = {404: "not_found", 405: "method_not_allowed"}
STORAGE_MESSAGE = "the comment store is temporarily unavailable; try again shortly"
STORAGE_RETRY_AFTER = "5"
REASONS: tuple[tuple[type[StorageError], str], ...] = (
    (StorageFull, "full"),
    (StorageBusy, "busy"),
    (StorageReadOnly, "read_only"),
    (StorageCorrupt, "corrupt"),
)

log = logging.getLogger("afterword.intake")


@dataclass(frozen=True)
class Answer:
    """An HTTP error answer before it is shaped as JSON or as a form redirect."""

    status: int
    code: str
    message: str
    fields: dict[str, str] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)
    reason: str | None = None

    def envelope(self) -> dict[str, Any]:
        error: dict[str, Any] = {"code": self.code, "message": self.message, "fields": self.fields}
        if self.reason is not None:
            error["reason"] = self.reason
        return {"error": error}


@dataclass
class PostContext:
    """What an answer to one submission depends on, gathered as the route reads the request."""

    cors: dict[str, str]
    form: bool = False  # a plain HTML form post: answered with a 303 back to the page
    fields: dict[str, object] = field(default_factory=dict)


def answer_for(exc: Exception) -> Answer:
    """The one translation of an exception into an HTTP error (see the module docstring)."""
    if isinstance(exc, CommentRejected):
        return Answer(exc.status, exc.code, exc.message, exc.fields, exc.headers)
    if isinstance(exc, HTTPException):
        code = STATUS_CODES.get(exc.status_code, "http_error")
        return Answer(exc.status_code, code, str(exc.detail), headers=dict(exc.headers or {}))
    if isinstance(exc, QueueError):  # the SQS intake answers exactly as SQLite's does
        log.warning("queue unavailable: %s", exc)
        return Answer(
            503,
            "unavailable",
            STORAGE_MESSAGE,
            headers={"Retry-After": STORAGE_RETRY_AFTER},
            reason="queue",
        )
    if isinstance(exc, StorageError | CommentNotStored):
        log.warning("storage unavailable: %s", exc)
        return Answer(
            503,
            "unavailable",
            STORAGE_MESSAGE,
            headers={"Retry-After": STORAGE_RETRY_AFTER},
            reason=storage_reason(exc),
        )
    if isinstance(exc, AfterwordError) and not isinstance(exc, InternalError):
        log.error("unexpected error: %s: %s", type(exc).__name__, exc)
    return Answer(500, "internal", "internal error")


def storage_reason(exc: StorageError | CommentNotStored) -> str:
    """The kind of storage failure, in one word that names no file."""
    if isinstance(exc, CommentNotStored):
        if exc.cause is None:
            return "stopped"
        exc = exc.cause
    return next((word for kind, word in REASONS if isinstance(exc, kind)), "storage")


async def answer_error(request: Request, exc: Exception) -> Response:
    """Starlette's exception handler, for every route but a submission (see ``shaped``)."""
    return shaped(request.scope, answer_for(exc))


def internal_error(exc: Exception, scope: Scope | None = None) -> Response:
    """What a bug looks like from outside, shaped for its route: no details either way."""
    return shaped(scope or {}, answer_for(exc))


def shaped(scope: Scope, answer: Answer) -> Response:
    """The answer in the representation its route family speaks.

    Under a page prefix (``paths.PAGE_PREFIXES``: ``/moderate``, ``/subscription``) a person
    follows a link from a mail: a small HTML page (404 without a token, 403 for a bad or
    expired one, 500 for a bug), never JSON. Every other route is an API: the envelope.
    """
    if paths.is_page(str(scope.get("path", ""))):
        return html_error(answer, _page_strings(scope))
    return JSONResponse(answer.envelope(), answer.status, answer.headers)


def html_error(answer: Answer, strings: PageStrings = ENGLISH) -> Response:
    """A refusal as a plain, self-contained page (the link page's look and headers).

    Title by status, text by code, both in the site's language. A refusal this version has
    no words for keeps its own message (a 4xx names what the client can fix); a 5xx never
    shows more than its fixed text.
    """
    words = strings.strings
    title = words.get(f"page_error_{answer.status}") or words["page_error_500"]
    message = words.get(f"page_error_{answer.code}")
    if message is None:
        if answer.status >= 500:
            message = words["page_error_internal"]
        else:
            message = answer.message[:1].upper() + answer.message[1:] + "."
    page = render_page(title, message=message, strings=strings)
    return HTMLResponse(page, answer.status, {**answer.headers, **LINK_HEADERS})


def _page_strings(scope: Scope) -> PageStrings:
    """The words of the intake that serves this request (English outside an intake app)."""
    state = getattr(scope.get("app"), "state", None)
    strings = getattr(getattr(state, "intake", None), "page_strings", None)
    return strings if isinstance(strings, PageStrings) else ENGLISH


def answer_post(intake: Intake, post: PostContext, exc: Exception) -> Response:
    """A refused or failed submission: counted, then JSON — or a 303 for a plain form post."""
    answer = answer_for(exc)
    if answer.status < 500:
        intake.metrics.count(OUTCOME_BY_CODE.get(answer.code, "invalid"))
    if post.form:
        return _form_error(intake, post, answer)
    return JSONResponse(answer.envelope(), answer.status, {**post.cors, **answer.headers})


def answer_json(exc: Exception, cors: dict[str, str]) -> Response:
    """The envelope with the CORS headers the request earned (an author's edit or delete)."""
    answer = answer_for(exc)
    return JSONResponse(answer.envelope(), answer.status, {**cors, **answer.headers})


def _form_error(intake: Intake, post: PostContext, answer: Answer) -> Response:
    """A no-JavaScript form post: back to the page, the error named in the query string."""
    target = intake.origins.redirect_target(post.fields.get("redirect"), _page_key(post.fields))
    params = {"afterword_error": answer.code}
    if answer.fields:
        params["afterword_fields"] = ",".join(sorted(answer.fields))
    location = without_our_params(target, params) + "#afterword-error"
    return RedirectResponse(location, 303, {**post.cors, **answer.headers})


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


def _page_key(fields: dict[str, object]) -> str | None:
    page = fields.get("page")
    try:
        return normalize_page_key(page) if isinstance(page, str) else None
    except InvalidPageKey:
        return None
