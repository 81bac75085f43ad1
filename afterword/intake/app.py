"""The intake's routes and the state they share.

Starlette directly, not FastAPI: the contract is four routes with a custom error envelope, a
raw-body cap enforced before parsing, and JSON, urlencoded and multipart on one route —
FastAPI's validation layer would have to be overridden at every one of those points.

Routes raise ``CommentRejected`` (or another ``AfterwordError``) wherever a problem is found;
``answers.answer_error`` is the one place that turns those into HTTP.
"""

from __future__ import annotations

import functools
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

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
from afterword.intake.answers import answer_error, internal_error, without_our_params
from afterword.intake.cors import OriginPolicy
from afterword.intake.limits import RateLimiter, client_address, parse_networks
from afterword.intake.metrics import IntakeMetrics, TimingMiddleware
from afterword.intake.parse import parse_content_type, parse_fields, read_capped
from afterword.intake.sink import Queued, Receipt, open_sink
from afterword.intake.validate import Submission, validate_submission
from afterword.markup import render_markdown
from afterword.privacy import hash_address

ADDRESS_CACHE = 4096
POST_PATH = "/api/comments"


class Intake:
    """Everything the routes share: config, limiter, origins, metrics and the writer.

    ``writer`` is the sink ``intake.queue`` chose: the SQLite writer or the SQS sender.
    """

    def __init__(self, config: Config, workers: int = 1) -> None:
        self.config = config
        self.metrics = IntakeMetrics()
        self.writer = open_sink(config, self.metrics.batch_size.observe, shared=workers > 1)
        self.limiter = RateLimiter(config.limits)
        self.origins = OriginPolicy.from_config(config)
        self.trusted = parse_networks(config.intake.trusted_proxies)
        self._hash_address = functools.lru_cache(maxsize=ADDRESS_CACHE)(self._hash_uncached)

    def client_key(self, request: Request) -> tuple[str, str]:
        """The client's address, and the salted hash of its network (rate-limit key)."""
        peer = request.client.host if request.client else ""
        address = client_address(peer, request.headers.get("x-forwarded-for"), self.trusted)
        return address, self._hash_address(address)

    def _hash_uncached(self, address: str) -> str:
        """HMAC of the client's network; cached, since the same clients post again."""
        return hash_address(self.writer.secret, address)

    def read_queue_depth(self) -> float:
        return self.writer.queue_depth()


def _intake(request: Request) -> Intake:
    intake: Intake = request.app.state.intake
    return intake


class IntakeApp(Starlette):
    """Starlette, with a short way in for ``POST /api/comments``.

    Nearly every request is a submission, and Starlette's generic layers around it (error
    middleware, exception middleware, router, the per-route exception wrapper) cost about as
    much CPU as validating it. The submission route therefore goes straight to the timing
    middleware and the handler; errors still become HTTP in ``answers`` only, and a bug still
    gets the envelope and reaches the server's log. Every other request takes the normal path.
    """

    def __init__(self, intake: Intake, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.state.intake = intake
        self._post = TimingMiddleware(_post_asgi, metrics=intake.metrics, fallback=internal_error)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "POST" and scope["path"] == POST_PATH:
            scope["app"] = self
            await self._post(scope, receive, send)
            return
        await super().__call__(scope, receive, send)


async def _post_asgi(scope: Scope, receive: Receive, send: Send) -> None:
    request = Request(scope, receive)
    try:
        response = await post_comment(request)
    except AfterwordError as exc:
        response = await answer_error(request, exc)
    await response(scope, receive, send)


async def comments(request: Request) -> Response:
    if request.method == "OPTIONS":
        return preflight(request)
    return await post_comment(request)


async def post_comment(request: Request) -> Response:
    intake = _intake(request)
    origin = request.headers.get("origin")
    request.state.cors = intake.origins.cors_headers(origin)
    content_type = parse_content_type(request.headers.get("content-type"))
    request.state.form = content_type.is_form and not _wants_json(request)
    if origin is not None and not intake.origins.allows(origin):
        raise CommentRejected(
            f"origin {origin} may not post here", code="forbidden_origin", status=403
        )
    limit = intake.config.intake.max_request_bytes
    body = await read_capped(request.stream(), request.headers.get("content-length"), limit)
    fields = parse_fields(content_type, body)
    request.state.fields = fields
    address, client = intake.client_key(request)
    intake.limiter.hit(client)
    config = intake.config
    submission = validate_submission(
        fields, config.limits, config.site.pages, config.build.closed_pages
    )
    body_html = render_markdown(submission.body)
    page_url = intake.origins.site_origin + submission.page_key
    stored = await intake.writer.submit(submission, body_html, client, page_url, address)
    intake.metrics.count("spam" if submission.honeypot else "accepted")
    return _accepted(request, intake, submission, body_html, stored)


def _accepted(
    request: Request, intake: Intake, sub: Submission, body_html: str, stored: Receipt
) -> Response:
    shown_status = "pending" if stored.status == "spam" else stored.status
    if request.state.form:
        target = intake.origins.redirect_target(request.state.fields.get("redirect"), sub.page_key)
        return RedirectResponse(
            f"{without_our_params(target)}#afterword-{shown_status}", 303, request.state.cors
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
    }
    if isinstance(stored, Queued):  # SQS: no database id yet (docs/intake-api.md)
        data["submission"] = stored.submission
    return JSONResponse({"data": data}, 202, request.state.cors)


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
    """200 when the writer runs and the database (or the SQS queue) answers."""
    intake = _intake(request)
    if not intake.writer.alive:
        raise StorageError("the intake's writer is not running")
    depth = await run_in_threadpool(intake.writer.health)
    body = {"status": "ok", "queue_depth": depth, "backlog": intake.writer.backlog}
    return JSONResponse(body, headers={"Cache-Control": "no-store"})


async def metrics(request: Request) -> Response:
    intake = _intake(request)
    text = await run_in_threadpool(
        intake.metrics.render, intake.read_queue_depth, intake.writer.backlog
    )
    return Response(text, media_type="text/plain; version=0.0.4; charset=utf-8")


def _wants_json(request: Request) -> bool:
    return "application/json" in request.headers.get("accept", "")


def build_app(config: Config, workers: int = 1) -> IntakeApp:
    """The Starlette application; the writer starts and stops with its lifespan.

    ``workers``: how many intake processes share the database (their writers then queue on
    a lock file).
    """
    intake = Intake(config, workers)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        intake.writer.start()
        try:
            yield
        finally:
            await run_in_threadpool(intake.writer.stop)

    return IntakeApp(
        intake,
        routes=[
            Route("/api/comments", comments, methods=["POST", "OPTIONS"]),
            Route("/healthz", healthz, methods=["GET"]),
            Route("/metrics", metrics, methods=["GET"]),
        ],
        middleware=[Middleware(TimingMiddleware, metrics=intake.metrics, fallback=internal_error)],
        exception_handlers={AfterwordError: answer_error, HTTPException: answer_error},
        lifespan=lifespan,
    )
