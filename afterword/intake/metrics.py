"""Prometheus metrics and the ``X-Response-Time`` header, from one pure-ASGI middleware.

Each app owns its ``CollectorRegistry`` — never prometheus_client's global one — so a test run
can create many apps and each ``/metrics`` shows only its own. The middleware is plain ASGI
(not Starlette's ``BaseHTTPMiddleware``, which costs a task per request): it stamps the header
when the response starts and observes the duration once, labelled by route *template* so an
attacker probing random paths cannot create unbounded label sets.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from afterword.intake import paths

if TYPE_CHECKING:
    from afterword.store.outbox import OutboxStatus

OUTCOMES = ("accepted", "invalid", "rate-limited", "duplicate", "spam", "disconnected")
KNOWN_METHODS = frozenset({"GET", "HEAD", "POST", "OPTIONS", "PUT", "DELETE", "PATCH"})
BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)


class IntakeMetrics:
    """The intake's instruments, registered in a registry of its own."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.request_seconds = Histogram(
            "afterword_http_request_duration_seconds",
            "Time from request to response start, by route and status.",
            ["route", "method", "status"],
            buckets=BUCKETS,
            registry=self.registry,
        )
        self.submissions = Counter(
            "afterword_submissions",
            "Submissions by outcome.",
            ["outcome"],
            registry=self.registry,
        )
        # Labelled children looked up once: ``labels()`` validates and locks on every call.
        self._outcomes = {outcome: self.submissions.labels(outcome) for outcome in OUTCOMES}
        self._timers: dict[tuple[str, str, int], Histogram] = {}
        self.queue_depth = Gauge(
            "afterword_queue_depth",
            "Comments waiting for moderation (status pending), read at scrape time.",
            registry=self.registry,
        )
        self.writer_backlog = Gauge(
            "afterword_writer_backlog",
            "Submissions validated and waiting for the writer thread's next commit.",
            registry=self.registry,
        )
        self.batch_size = Histogram(
            "afterword_writer_batch_size",
            "Submissions committed per transaction (group commit).",
            buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256),
            registry=self.registry,
        )

        self.notifications = Gauge(
            "afterword_notifications",
            "Notification outbox rows by state (queued, sent, failed), read at scrape time.",
            ["state"],
            registry=self.registry,
        )

    def count(self, outcome: str) -> None:
        self._outcomes[outcome].inc()

    def observe_request(self, route: str, method: str, status: int, seconds: float) -> None:
        """One request's duration; ``route`` and ``method`` must come from bounded sets."""
        key = (route, method, status)
        timer = self._timers.get(key)
        if timer is None:
            timer = self._timers[key] = self.request_seconds.labels(route, method, str(status))
        timer.observe(seconds)

    def render(
        self,
        queue_depth: Callable[[], float],
        backlog: int,
        outbox: Callable[[], OutboxStatus | None] = lambda: None,
    ) -> bytes:
        """The text exposition; the queue depth is read now, from the caller's connection."""
        self.queue_depth.set(queue_depth())
        self.writer_backlog.set(backlog)
        status = outbox()
        if status is not None:
            for state in ("queued", "sent", "failed"):
                self.notifications.labels(state).set(getattr(status, state))
        return bytes(generate_latest(self.registry))


class TimingMiddleware:
    """Adds ``X-Response-Time: <ms>ms`` to every response and records its duration.

    It sits inside Starlette's error middleware, so it also catches what nothing else did and
    answers it with ``fallback(exc, scope)`` (the scope: a route family may answer in HTML) —
    otherwise a 500 would go out untimed and uncounted.
    """

    def __init__(
        self,
        app: ASGIApp,
        metrics: IntakeMetrics,
        fallback: Callable[[Exception, Scope], ASGIApp],
    ) -> None:
        self.app = app
        self.metrics = metrics
        self.fallback = fallback

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        path = scope.get("path", "")
        route = paths.route_label(path)
        method = scope.get("method", "")
        method = method if method in KNOWN_METHODS else "OTHER"

        started_response = False

        async def timed_send(message: Message) -> None:
            nonlocal started_response
            if message["type"] == "http.response.start":
                started_response = True
                elapsed = time.perf_counter() - started
                headers = list(message.get("headers", []))
                headers.append((b"x-response-time", f"{elapsed * 1000:.3f}ms".encode()))
                message = {**message, "headers": headers}
                self.metrics.observe_request(route, method, message["status"], elapsed)
            await send(message)

        try:
            await self.app(scope, receive, timed_send)
        except Exception as exc:
            # A bug: answer in our envelope (timed like any other), then let the server log it.
            if not started_response:
                await self.fallback(exc, scope)(scope, receive, timed_send)
            raise
