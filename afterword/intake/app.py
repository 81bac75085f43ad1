"""The intake's routes and the state they share.

Starlette directly, not FastAPI: the contract is four routes with a custom error envelope, a
raw-body cap enforced before parsing, and JSON, urlencoded and multipart on one route —
FastAPI's validation layer would have to be overridden at every one of those points.

Every request takes the same path: Starlette's error middleware, the timing middleware
(``X-Response-Time``, the request histogram, the envelope for a bug), Starlette's exception
middleware and router, then the route. Routes raise ``CommentRejected`` (or another
``AfterwordError``) wherever a problem is found; ``answers`` is the one place that turns those
into HTTP. The submission route answers its own errors through ``answers.answer_post``, because
the answer depends on what it learnt from the request (a plain form post is redirected back to
the page; an allowed origin gets its CORS headers) — that context is a ``PostContext`` passed
along explicitly, not hidden in ``request.state``.
"""

from __future__ import annotations

import functools
import math
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from afterword.config import Config
from afterword.errors import AfterwordError, CommentRejected, StorageError
from afterword.intake import paths
from afterword.intake.answers import (
    PostContext,
    answer_error,
    answer_post,
    internal_error,
    without_our_params,
)
from afterword.intake.capability import capability_key, issue
from afterword.intake.cors import OriginPolicy
from afterword.intake.edit import one_comment
from afterword.intake.limits import RateLimiter, client_address, parse_networks
from afterword.intake.metrics import IntakeMetrics, TimingMiddleware
from afterword.intake.moderate import moderate_link
from afterword.intake.parse import parse_content_type, parse_fields, read_capped
from afterword.intake.sink import Queued, Receipt, open_sink
from afterword.intake.subscribe import SUBSCRIPTION_METHODS, subscription_link
from afterword.intake.validate import Submission, validate_submission
from afterword.markup import render_markdown
from afterword.notify.linkpage import page_strings
from afterword.privacy import hash_address
from afterword.store import parse_time

if TYPE_CHECKING:
    from afterword.store.outbox import OutboxStatus

ADDRESS_CACHE = 4096


class Intake:
    """Everything the routes share: config, limiter, origins, metrics and the writer.

    ``writer`` is the sink ``intake.queue`` chose (``sink.open_sink``): the SQLite writer, or
    the SQS sender. It also answers ``/healthz`` and the queue-depth gauge.
    """

    def __init__(self, config: Config, workers: int = 1) -> None:
        self.config = config
        self.metrics = IntakeMetrics()
        self.writer = open_sink(config, self.metrics.batch_size.observe, shared=workers > 1)
        self.limiter = RateLimiter(config.limits)
        self.origins = OriginPolicy.from_config(config)
        self.trusted = parse_networks(config.intake.trusted_proxies)
        self._hash_address = functools.lru_cache(maxsize=ADDRESS_CACHE)(self._hash_uncached)
        self._capability_key: bytes | None = None
        self.page_strings = page_strings(config)  # the link pages' words, read once

    @property
    def capability_key(self) -> bytes:
        """The edit capabilities' signing key, from the site secret the writer loaded."""
        if self._capability_key is None:
            self._capability_key = capability_key(self.writer.secret)
        return self._capability_key

    def client_key(self, request: Request) -> tuple[str, str]:
        """The client's address, and the salted hash of its network (the rate-limit and
        duplicate key; the SQS sink sends the network itself, see ``envelope``)."""
        peer = request.client.host if request.client else ""
        forwarded = request.headers.getlist("x-forwarded-for") if self.trusted else None
        address = client_address(peer, forwarded, self.trusted)
        return address, self._hash_address(address)

    def _hash_uncached(self, address: str) -> str:
        """HMAC of the client's network; cached, since the same clients post again."""
        return hash_address(self.writer.secret, address)

    def read_outbox(self) -> OutboxStatus | None:
        from afterword.notify.status import read_status  # the outbox: only beside a database

        if self.config.intake.queue != "sqlite":  # the outbox is on the pulling machine
            return None
        try:
            return read_status(self.config)
        except StorageError:
            return None

    def read_queue_depth(self) -> float:
        return self.writer.queue_depth()


def _intake(request: Request) -> Intake:
    intake: Intake = request.app.state.intake
    return intake


class CommentsEndpoint:
    """``/api/comments`` as a plain ASGI endpoint: the router calls it directly.

    A function endpoint would be wrapped once more by Starlette (``request_response``: another
    Request and another exception-handling layer around ``send``), and nearly every request
    the intake gets is a submission; with this class the one path costs what the old private
    shortcut did (side-by-side CPU per request, docs/benchmarks.md, "One request path"). Errors
    still reach the same handlers: what the route does not answer itself propagates to
    Starlette's exception middleware, then to the timing and error middleware.
    """

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive)
        response = await comments(request)
        await response(scope, receive, send)


async def comments(request: Request) -> Response:
    if request.method == "OPTIONS":
        return preflight(request)
    intake = _intake(request)
    origin = request.headers.get("origin")
    post = PostContext(cors=intake.origins.cors_headers(origin))
    try:
        return await post_comment(request, intake, post)
    except AfterwordError as exc:
        return answer_post(intake, post, exc)


async def post_comment(request: Request, intake: Intake, post: PostContext) -> Response:
    """Parse, check, limit, validate, render and store one submission (the documented order)."""
    content_type = parse_content_type(request.headers.get("content-type"))
    post.form = content_type.is_form and not _wants_json(request)
    origin = request.headers.get("origin")
    if origin is not None and not intake.origins.allows(origin):
        raise CommentRejected(
            f"origin {origin} may not post here", code="forbidden_origin", status=403
        )
    limit = intake.config.intake.max_request_bytes
    body = await read_capped(request.stream(), request.headers.get("content-length"), limit)
    post.fields = parse_fields(content_type, body)
    address, client = intake.client_key(request)
    slot = intake.limiter.admit(client)
    try:
        config = intake.config
        submission = validate_submission(
            post.fields,
            config.limits,
            config.site.pages,
            config.build.closed_pages,
            reply_mails=config.notify.reply_mails,
        )
        body_html = render_markdown(submission.body)
        page_url = intake.origins.site_origin + submission.page_key
        stored = await intake.writer.submit(submission, body_html, client, page_url, address)
    except BaseException:
        intake.limiter.release(slot)  # refused or not stored: only the attempt counts
        raise
    intake.metrics.count("spam" if submission.honeypot else "accepted")
    return _accepted(intake, post, submission, body_html, stored)


def _accepted(
    intake: Intake, post: PostContext, sub: Submission, body_html: str, stored: Receipt
) -> Response:
    shown_status = "pending" if stored.status == "spam" else stored.status
    if post.form:
        target = intake.origins.redirect_target(post.fields.get("redirect"), sub.page_key)
        return RedirectResponse(
            f"{without_our_params(target)}#afterword-{shown_status}", 303, post.cors
        )
    data = {
        "id": stored.id,
        "page": sub.page_key,
        "parent": sub.parent_id,
        "author": sub.author,
        "website": sub.website,
        "html": body_html,
        "created": stored.created,
        "status": shown_status,
        **_edit_grant(intake, stored),
    }
    if isinstance(stored, Queued):  # SQS: no database id yet (docs/intake-api.md)
        data["submission"] = stored.submission
    return JSONResponse({"data": data}, 202, post.cors)


def _edit_grant(intake: Intake, stored: Receipt) -> dict[str, str | int | None]:
    """``capability``, ``editable_until`` and ``edit_window_minutes``: the poster's right to
    edit or delete, and how long it lasts once published (the widget cannot see the
    approval, so it closes the buttons that long after it first sees the comment live).

    A comment stored approved can be changed for ``edit_window_minutes``; one that waits for
    a moderator until ``edit_token_hours`` after it was posted (once approved, the window
    closes ``edit_window_minutes`` after its first approval, if that is sooner; see
    docs/intake-api.md).
    An SQS intake has no comment id to sign yet, hence no capability.
    """
    limits = intake.config.limits
    if not limits.edit_token_hours or stored.id is None:
        return {"capability": None, "editable_until": None, "edit_window_minutes": None}
    created = parse_time(stored.created)
    span = (
        timedelta(minutes=limits.edit_window_minutes)
        if stored.status == "approved"
        else timedelta(hours=limits.edit_token_hours)
    )
    expires = math.ceil((created + span).timestamp())
    until = datetime.fromtimestamp(expires, UTC)
    return {
        "capability": issue(intake.capability_key, stored.id, expires),
        "editable_until": until.isoformat().replace("+00:00", "Z"),
        "edit_window_minutes": limits.edit_window_minutes,
    }


def preflight(request: Request) -> Response:
    """CORS preflight: allowed origin + POST → 204 with the grant; anything else → 403."""
    intake = _intake(request)
    origin = request.headers.get("origin")
    method = request.headers.get("access-control-request-method")
    if method is None:
        return Response(status_code=204, headers={"Allow": "POST, OPTIONS", "Vary": "Origin"})
    if origin is None or not intake.origins.allows(origin) or method.upper() != "POST":
        raise CommentRejected(
            f"origin {origin} may not post here", code="forbidden_origin", status=403
        )
    return Response(status_code=204, headers=intake.origins.preflight_headers(origin))


async def healthz(request: Request) -> Response:
    """200 when a submission would be stored now (see ``health``, or the SQS queue answers);
    503 with a reason if not."""
    intake = _intake(request)
    depth = await intake.writer.health()
    body = {"status": "ok", "queue_depth": depth, "backlog": intake.writer.backlog}
    return JSONResponse(body, headers={"Cache-Control": "no-store"})


async def metrics(request: Request) -> Response:
    intake = _intake(request)
    text = await run_in_threadpool(
        intake.metrics.render, intake.read_queue_depth, intake.writer.backlog, intake.read_outbox
    )
    return Response(text, media_type="text/plain; version=0.0.4; charset=utf-8")


def _wants_json(request: Request) -> bool:
    return "application/json" in request.headers.get("accept", "")


def build_app(config: Config, workers: int = 1) -> Starlette:
    """The Starlette application; the writer starts and stops with its lifespan.

    ``workers``: how many intake processes share the database (their writers then queue on
    a lock file).
    """
    intake = Intake(config, workers)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        intake.writer.start()
        # Imported here: the sender pulls in the mail composer, smtplib and the webhooks, which
        # an SQS intake (a Lambda among them) never uses.
        from afterword.notify.runner import BackgroundSender

        sender = BackgroundSender(config).start()
        try:
            yield
        finally:
            await run_in_threadpool(sender.stop)
            await run_in_threadpool(intake.writer.stop)

    app = Starlette(
        routes=[
            Route(paths.COMMENTS, CommentsEndpoint(), methods=["POST", "OPTIONS"]),
            Route(paths.COMMENT, one_comment, methods=["PATCH", "DELETE", "OPTIONS"]),
            Route(paths.HEALTH, healthz, methods=["GET"]),
            Route(paths.METRICS, metrics, methods=["GET"]),
            Route(paths.MODERATE, moderate_link, methods=["GET", "POST"]),
            Route(paths.SUBSCRIPTION, subscription_link, methods=SUBSCRIPTION_METHODS),
        ],
        middleware=[Middleware(TimingMiddleware, metrics=intake.metrics, fallback=internal_error)],
        exception_handlers={AfterwordError: answer_error, HTTPException: answer_error},
        lifespan=lifespan,
    )
    app.state.intake = intake
    return app
