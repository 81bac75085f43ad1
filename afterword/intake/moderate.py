"""``/moderate/<token>``: the one-click moderation links, over the intake's request path.

GET shows (``notify.act.show``), POST acts (``notify.act.act``) — only when the request's
``Origin`` (or, failing that, its ``Referer``) is the intake's own public origin, and the
token in the form body is the one in the path (CSRF: another site cannot make a moderator's
browser post here, and a link alone, fetched by a scanner, never acts). Refusals are raised
and answered as small HTML pages by ``answers``; database work runs in the thread pool on a
short-lived connection of its own, never the writer's. Pages and refusals alike speak the
site's language (``Intake.page_strings``).

Nothing here serves comments to readers: every page needs a valid token.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from afterword.config import Config
from afterword.errors import CommentRejected
from afterword.intake.parse import parse_content_type, parse_fields, read_capped
from afterword.notify.act import LinkAnswer, act, show
from afterword.notify.linkpage import HEADERS
from afterword.store import Store, open_store

if TYPE_CHECKING:
    from afterword.intake.app import Intake

FORM_LIMIT = 65536


async def moderate_link(request: Request) -> Response:
    intake: Intake = request.app.state.intake
    config = intake.config
    token = str(request.path_params["token"])
    secret = intake.writer.secret
    if request.method in ("GET", "HEAD"):  # reading only, whatever fetches it
        answer = await run_in_threadpool(
            _with_store, config, lambda s: show(config, s, secret, token, intake.page_strings)
        )
        return _html(answer)
    check_origin(request, config)
    body = await read_capped(request.stream(), request.headers.get("content-length"), FORM_LIMIT)
    fields: dict[str, object] = {}
    if body:  # an empty POST is no media type at all: it simply carries no token
        fields = parse_fields(parse_content_type(request.headers.get("content-type")), body)
    if fields.get("token") != token:
        raise CommentRejected("the form carries no valid token", code="invalid_link", status=403)
    answer = await run_in_threadpool(
        _with_store, config, lambda s: act(config, s, secret, token, fields, intake.page_strings)
    )
    return _html(answer)


def _with_store(config: Config, work: Callable[[Store], LinkAnswer]) -> LinkAnswer:
    with open_store(
        config.database_path, busy_timeout_ms=config.database.busy_timeout_ms, migrate=False
    ) as store:
        return work(store)


def check_origin(request: Request, config: Config) -> None:
    """The POST must come from a page of the intake itself."""
    expected = _origin(config.intake_base)
    origin = request.headers.get("origin")
    if origin is None:
        referer = request.headers.get("referer")
        origin = _origin(referer) if referer else None
    if origin != expected:
        raise CommentRejected(
            "this form may only be sent from its own page", code="cross_site", status=403
        )


def _origin(url: str) -> str | None:
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    if not parts.scheme or not parts.netloc:
        return None
    return f"{parts.scheme}://{parts.netloc}".lower()


def _html(answer: LinkAnswer) -> Response:
    return HTMLResponse(answer.html, answer.status, headers=HEADERS)
