"""uvicorn's httptools protocol plus the two limits uvicorn lacks: header size, read deadlines.

uvicorn's own settings are used where they exist (``workers.uvicorn_config``):
``limit_concurrency`` answers 503 once that many connections are open, ``timeout_keep_alive``
closes a connection idle between requests, ``timeout_graceful_shutdown`` bounds the wait for
slow clients at shutdown. Measured over raw sockets, uvicorn with httptools has no bound on
the size of a request's headers (httptools gathers each header in memory however long it is:
eight 8 MB headers cost 64 MB) and no deadline for a request that arrives slowly — a client
sending one header byte every few seconds (slowloris), or a body that never ends, holds its
connection for good, and a fresh connection that never sends a byte is never timed out at all
(uvicorn arms its keep-alive timer only after a response). uvicorn's other parser, h11, is
no way out: ``h11_max_incomplete_event_size`` refuses only headers still incomplete past the
limit, with a 400 (an 8 KB header that arrives in one read passes a 4 KB limit), it has no
deadline either, and it is the slower parser.

``GuardedHttpToolsProtocol`` adds exactly those:

* at most ``header_max_bytes`` from a request's first byte to the end of its headers, counted
  before they reach the parser; beyond it, ``431`` and the connection is closed;
* a new connection gets uvicorn's keep-alive timer at once, as if it had just been answered;
* every response leaves in one write (``transport.CoalescingTransport``: lower p99);
* a request's headers must be complete ``header_timeout`` after its first byte arrived, its
  body ``body_timeout`` after its headers; else ``408`` (if no answer has started) and close;
* at shutdown, a body still arriving shortly before ``shutdown_timeout`` gets ``503`` and is
  closed, so the app sees a disconnect rather than being cancelled mid-request.

The answers are the intake's JSON error envelope. A pipelined request that begins in the same
read as the end of the previous one is counted from the next read on, so it may exceed the
cap by at most one read — still bounded.

It subclasses uvicorn's ``HttpToolsProtocol``, whose module is not public API: it relies on
the methods in ``UVICORN_METHODS`` (the parser calls the ``on_*`` ones on the protocol), on
the attributes ``loop``, ``transport``, ``cycle``, ``pipeline``, ``timeout_keep_alive`` and
``timeout_keep_alive_task``, and on the cycle's ``response_started`` and
``response_complete``. Importing this module fails if a method is gone, and
``tests/test_intake_limits.py`` checks the attributes and every behaviour over real sockets.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from afterword.config import IntakeConfig
from afterword.intake.transport import CoalescingTransport

UVICORN_METHODS = (
    "connection_made",
    "connection_lost",
    "data_received",
    "on_message_begin",
    "on_headers_complete",
    "on_message_complete",
    "shutdown",
    "timeout_keep_alive_handler",
)

_missing = [
    name for name in UVICORN_METHODS if not callable(getattr(HttpToolsProtocol, name, None))
]
if _missing:  # pragma: no cover - only with a uvicorn that changed its internals
    raise ImportError(
        f"uvicorn's HttpToolsProtocol no longer has {', '.join(_missing)}: "
        "afterword.intake.protocol must be updated for this uvicorn version"
    )


@dataclass(frozen=True)
class RequestLimits:
    """The limits one connection enforces (from ``[intake]``)."""

    header_max_bytes: int = 16384
    header_timeout: float = 10.0
    body_timeout: float = 30.0
    shutdown_timeout: float = 10.0

    @classmethod
    def from_config(cls, intake: IntakeConfig) -> RequestLimits:
        return cls(
            intake.header_max_bytes,
            intake.header_timeout_seconds,
            intake.body_timeout_seconds,
            intake.shutdown_timeout_seconds,
        )

    @property
    def shutdown_cut(self) -> float:
        """When, after shutdown began, a body still arriving is cut: a little before uvicorn
        cancels what still runs at ``shutdown_timeout``, so the app sees a disconnect instead."""
        return self.shutdown_timeout - min(1.0, self.shutdown_timeout / 2)


def guarded_protocol(limits: RequestLimits) -> type[GuardedHttpToolsProtocol]:
    """The protocol class for uvicorn's ``http`` setting, with ``limits`` built in."""
    return type("GuardedHttpToolsProtocol", (GuardedHttpToolsProtocol,), {"limits": limits})


def refusal(status: int, reason: str, code: str, message: str, extra: str = "") -> bytes:
    """A complete HTTP/1.1 answer with the error envelope, closing the connection."""
    body = json.dumps({"error": {"code": code, "message": message, "fields": {}}}).encode()
    head = (
        f"HTTP/1.1 {status} {reason}\r\n"
        "content-type: application/json\r\n"
        f"content-length: {len(body)}\r\n"
        f"{extra}connection: close\r\n\r\n"
    )
    return head.encode("ascii") + body


class GuardedHttpToolsProtocol(HttpToolsProtocol):
    """``HttpToolsProtocol`` with a header cap and read deadlines (see the module's doc)."""

    limits: ClassVar[RequestLimits] = RequestLimits()

    _in_headers = True  # reading a request line and headers (or waiting for one)
    _header_bytes = 0
    _deadline: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(CoalescingTransport(transport, self.loop))
        self.timeout_keep_alive_task = self.loop.call_later(
            self.timeout_keep_alive, self.timeout_keep_alive_handler
        )

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        limit = self.limits.header_max_bytes
        while data and not self.transport.is_closing():
            if not self._in_headers:
                super().data_received(data)
                return
            if self._deadline is None:
                self._arm(self.limits.header_timeout, self._headers_too_slow)
            head, data = data[: limit - self._header_bytes], data[limit - self._header_bytes :]
            self._header_bytes += len(head)
            if head:
                super().data_received(head)
            # Still the same request's headers (no message ended meanwhile), and more to come:
            if data and self._in_headers and self._header_bytes >= limit:
                message = f"the request's headers are larger than {limit} bytes"
                self._refuse(
                    refusal(431, "Request Header Fields Too Large", "headers_too_large", message)
                )

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._in_headers = True
        if self._deadline is None:
            self._arm(self.limits.header_timeout, self._headers_too_slow)

    def on_headers_complete(self) -> None:
        self._in_headers = False
        self._arm(self.limits.body_timeout, self._body_too_slow)
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        self._disarm()
        self._in_headers, self._header_bytes = True, 0
        super().on_message_complete()

    def shutdown(self) -> None:
        """uvicorn's graceful shutdown; a request whose body is still arriving gets until
        ``shutdown_cut`` (or its body deadline, if sooner) to finish."""
        super().shutdown()
        if self._in_headers or self.transport.is_closing():
            return
        cut = self.limits.shutdown_cut
        if self._deadline is None or self._deadline.when() > self.loop.time() + cut:
            self._arm(cut, self._cut_at_shutdown)

    def _arm(self, seconds: float, callback: Callable[[], None]) -> None:
        self._disarm()
        self._deadline = self.loop.call_later(seconds, callback)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _headers_too_slow(self) -> None:
        """408, unless an earlier (pipelined) request is still being answered: then close."""
        self._deadline = None
        cycle = self.cycle
        limit = self.limits.header_timeout
        if cycle is None or cycle.response_complete:
            message = f"the request's headers took longer than {limit:g} s"
            self._refuse(refusal(408, "Request Timeout", "request_timeout", message))
        else:
            self.transport.close()

    def _body_too_slow(self) -> None:
        self._deadline = None
        message = f"the request's body took longer than {self.limits.body_timeout:g} s"
        self._refuse_unless_answering(refusal(408, "Request Timeout", "request_timeout", message))

    def _cut_at_shutdown(self) -> None:
        """503 with Retry-After (the client may retry on the next process)."""
        self._deadline = None
        message = "the intake is shutting down; try again shortly"
        answer = refusal(503, "Service Unavailable", "unavailable", message, "retry-after: 5\r\n")
        self._refuse_unless_answering(answer)

    def _refuse_unless_answering(self, answer: bytes) -> None:
        """``answer`` for the request being read, unless an answer is already on its way —
        its own, or an earlier pipelined request's (``pipeline`` holds the ones waiting):
        then only close."""
        cycle = self.cycle
        if cycle is None or cycle.response_started or self.pipeline:
            self.transport.close()
        else:
            self._refuse(answer)

    def _refuse(self, answer: bytes) -> None:
        """Send ``answer`` and close; what the app may still send is dropped by the transport."""
        self._disarm()
        self.transport.write(answer)
        self.transport.close()
