"""``PATCH`` and ``DELETE /api/comments/<id>``: a commenter changes their own comment.

The request carries the edit capability from the submission's 202 answer in
``Authorization: Bearer <capability>`` (a header rather than a body field: ``DELETE`` has no
body, and a header never ends up in a form or a log of bodies). The order is fixed, cheapest
refusal first, so that nothing is read or written for a request that will be refused:

1. a foreign ``Origin`` → 403 ``forbidden_origin`` (as for submissions);
2. the rate limiter counts the attempt (``attempts_per_minute``, as refused submissions are
   counted) → 429 ``rate_limited``: the endpoint cannot be used to hammer the database or to
   guess capabilities;
3. the capability (``capability``): 401 missing, 403 malformed, forged, expired or for
   another comment — all before the database is asked whether the id exists;
4. ``PATCH`` only: the body, validated and rendered exactly as a submission's body is
   (``validate.validate_body``, ``markup.render_markdown``) → 422;
5. the change itself, one transaction (``store.revisions``): 404 unknown id, 409
   ``not_editable`` for a rejected or deleted comment, 403 ``edit_window_closed`` once a
   published comment is older than ``edit_window_minutes``.

A refusal at any step leaves the stored comment exactly as it was. The routes write through a
short-lived connection of their own, in a worker thread; edits are rare next to submissions,
so they do not go through the submission writer's batches, and SQLite's busy timeout queues
them behind it.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from afterword.errors import AfterwordError, CommentRejected
from afterword.intake.answers import answer_json
from afterword.intake.capability import bearer_token, verify
from afterword.intake.cors import EDIT_HEADERS, EDIT_METHODS
from afterword.intake.parse import parse_content_type, parse_fields, read_capped
from afterword.intake.validate import body_hash, validate_body
from afterword.markup import RENDERER_VERSION, render_markdown
from afterword.store import open_store
from afterword.store.revisions import (
    MISSING,
    NOT_EDITABLE,
    REVISED,
    WINDOW_CLOSED,
    AuthorChange,
    NewText,
    author_delete,
    author_edit,
)

if TYPE_CHECKING:
    from afterword.intake.app import Intake


def _intake(request: Request) -> Intake:
    intake: Intake = request.app.state.intake
    return intake


async def one_comment(request: Request) -> Response:
    """The route for ``paths.COMMENT``: preflight, edit or delete."""
    if request.method == "OPTIONS":
        return preflight(request)
    intake = _intake(request)
    cors = intake.origins.cors_headers(request.headers.get("origin"))
    try:
        if request.method == "PATCH":
            return await _edit(request, intake, cors)
        return await _delete(request, intake, cors)
    except AfterwordError as exc:
        return answer_json(exc, cors)


def preflight(request: Request) -> Response:
    """An allowed origin asking for PATCH or DELETE gets the grant (with Authorization)."""
    intake = _intake(request)
    origin = request.headers.get("origin")
    method = request.headers.get("access-control-request-method")
    if method is None:
        return Response(status_code=204, headers={"Allow": EDIT_METHODS, "Vary": "Origin"})
    if not intake.origins.allows(origin) or method.upper() not in ("PATCH", "DELETE"):
        raise CommentRejected(
            f"origin {origin} may not change comments here", code="forbidden_origin", status=403
        )
    assert origin is not None
    headers = intake.origins.preflight_headers(origin, EDIT_METHODS, EDIT_HEADERS)
    return Response(status_code=204, headers=headers)


def _admit(request: Request, intake: Intake) -> int:
    """Steps 1–3 of the module's order; the id of the comment the capability is for."""
    origin = request.headers.get("origin")
    if origin is not None and not intake.origins.allows(origin):
        raise CommentRejected(
            f"origin {origin} may not change comments here", code="forbidden_origin", status=403
        )
    _, client = intake.client_key(request)
    intake.limiter.attempt(client)  # an edit is an attempt, never an accepted submission
    comment_id = int(request.path_params["comment_id"])
    token = bearer_token(request.headers.get("authorization"))
    verify(intake.capability_key, token, comment_id, time.time())
    return comment_id


async def _edit(request: Request, intake: Intake, cors: dict[str, str]) -> Response:
    comment_id = _admit(request, intake)
    content_type = parse_content_type(request.headers.get("content-type"))
    limit = intake.config.intake.max_request_bytes
    raw = await read_capped(request.stream(), request.headers.get("content-length"), limit)
    body = validate_body(parse_fields(content_type, raw), intake.config.limits)
    text = NewText(body, render_markdown(body), RENDERER_VERSION, body_hash(body))
    change = await run_in_threadpool(_write, intake, "edit", comment_id, text)
    _refuse(change, comment_id)
    assert change.comment is not None
    data: dict[str, Any] = {
        "id": comment_id,
        "status": "pending" if change.comment.status == "spam" else change.comment.status,
        "html": text.body_html,
        "revision": change.outcome == REVISED,
    }
    return JSONResponse({"data": data}, 200, cors)


async def _delete(request: Request, intake: Intake, cors: dict[str, str]) -> Response:
    comment_id = _admit(request, intake)
    change = await run_in_threadpool(_write, intake, "delete", comment_id, None)
    _refuse(change, comment_id)
    return JSONResponse({"data": {"id": comment_id, "status": "deleted"}}, 200, cors)


def _write(intake: Intake, kind: str, comment_id: int, text: NewText | None) -> AuthorChange:
    """One transaction on a connection of this request's own (see the module's doc)."""
    config = intake.config
    window = timedelta(minutes=config.limits.edit_window_minutes)
    now = datetime.now(UTC)
    with open_store(
        config.database_path, busy_timeout_ms=config.database.busy_timeout_ms, migrate=False
    ) as store:
        if text is None:
            return author_delete(store, comment_id, window=window, now=now)
        return author_edit(store, comment_id, text, window=window, now=now)


def _refuse(change: AuthorChange, comment_id: int) -> None:
    """Step 5's refusals as ``CommentRejected``; nothing was written for any of them."""
    if change.outcome == MISSING:
        raise CommentRejected(f"no comment {comment_id}", code="not_found", status=404)
    if change.outcome == NOT_EDITABLE:
        raise CommentRejected(
            f"comment {comment_id} can no longer be changed", code="not_editable", status=409
        )
    if change.outcome == WINDOW_CLOSED:
        raise CommentRejected(
            f"comment {comment_id} was published too long ago to be changed",
            code="edit_window_closed",
            status=403,
        )
