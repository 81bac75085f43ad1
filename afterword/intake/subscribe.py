"""``/subscription/<token>``: the commenters' confirmation and unsubscribe links.

GET shows (``notify.subscriptions.show``) and changes nothing. POST acts:

* a **confirmation** needs the same CSRF guard as ``/moderate`` — the request's origin is the
  intake's own and the form's ``token`` is the one in the path — so another site cannot
  confirm an address its owner never confirmed;
* an **unsubscribe** is RFC 8058's one-click POST, sent by the recipient's mail provider with
  the body ``List-Unsubscribe=One-Click`` and no ``Origin`` a browser would add: the signed
  token in the URL is the authority (it was only ever mailed to that address). The GET page's
  button posts the form's ``token`` instead; either body is accepted.

Every answer, refusals included, is a small HTML page (``notify.linkpage``) in the site's
language (``Intake.page_strings``). Refusals are raised and shaped by ``answers`` — the
mapping ``/moderate`` uses, since ``/subscription`` is one of ``paths.PAGE_PREFIXES``: 404
without a token, 403 for a bad or expired one, 405 for another method, a 500 page for a bug.
Database work runs in the thread pool on a short-lived connection of its own, never the
writer's.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from afterword.config import Config
from afterword.errors import CommentRejected
from afterword.intake.moderate import FORM_LIMIT, check_origin
from afterword.intake.parse import parse_content_type, parse_fields, read_capped
from afterword.notify.act import LinkAnswer
from afterword.notify.linkpage import HEADERS
from afterword.notify.subscriptions import act, check_token, show
from afterword.store import Store, open_store

if TYPE_CHECKING:
    from afterword.intake.app import Intake

ONE_CLICK = ("List-Unsubscribe", "One-Click")
# Routed here so that the 405 for a method other than GET/HEAD/POST is a page too.
SUBSCRIPTION_METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]


async def subscription_link(request: Request) -> Response:
    """The route; refusals are raised, for ``answers`` to shape as pages."""
    intake: Intake = request.app.state.intake
    config, strings = intake.config, intake.page_strings
    token = str(request.path_params["token"])
    secret = intake.writer.secret
    if request.method in ("GET", "HEAD"):  # reading only, whatever fetches it
        answer = await run_in_threadpool(
            _with_store, config, lambda s: show(s, secret, token, strings)
        )
        return _html(answer)
    if request.method != "POST":
        raise CommentRejected(
            "only GET and POST are answered here",
            code="method_not_allowed",
            status=405,
            headers={"Allow": "GET, HEAD, POST"},
        )
    claims = check_token(secret, token)  # a bad or expired token: 403 before anything else
    fields = await _form(request)
    one_click = fields.get(ONE_CLICK[0]) == ONE_CLICK[1]
    if claims.kind == "confirm":
        check_origin(request, config)
        if fields.get("token") != token:
            raise CommentRejected(
                "the form carries no valid token", code="invalid_link", status=403
            )
    elif not one_click and fields.get("token") != token:
        raise CommentRejected(
            "an unsubscribe POST carries List-Unsubscribe=One-Click or the page's token",
            code="invalid_link",
            status=403,
        )
    answer = await run_in_threadpool(_with_store, config, lambda s: act(s, secret, token, strings))
    return _html(answer)


async def _form(request: Request) -> dict[str, object]:
    body = await read_capped(request.stream(), request.headers.get("content-length"), FORM_LIMIT)
    if not body:  # an empty POST is no media type at all: it simply carries nothing
        return {}
    return parse_fields(parse_content_type(request.headers.get("content-type")), body)


def _with_store(config: Config, work: Callable[[Store], LinkAnswer]) -> LinkAnswer:
    with open_store(
        config.database_path, busy_timeout_ms=config.database.busy_timeout_ms, migrate=False
    ) as store:
        return work(store)


def _html(answer: LinkAnswer) -> Response:
    return HTMLResponse(answer.html, answer.status, headers=HEADERS)
