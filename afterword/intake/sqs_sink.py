"""The intake's SQS backend: each accepted submission becomes one SendMessage.

With ``intake.queue`` set to a queue URL, the intake parses, validates and renders exactly
as with SQLite, then sends a ``QueuedSubmission`` and answers ``202`` only once SQS has
acknowledged it (botocore's standard retries first); a failure is a ``QueueError``, which
``answers`` turns into ``503 unavailable``. What needs the database — thread closed by a
moderator, parent, duplicates, auto-approve, limits across intakes — is decided by
``afterword pull`` (see ``pull``'s docstring).

There is no database here, hence no site secret: the rate limiter's key is a hash of the
client's network with a random key made when the process starts (``secret``), and the
message carries the network itself, which ``pull`` hashes with the site's secret.

SendMessage blocks, so it runs on a thread pool of ``SENDERS`` threads sized like boto3's
connection pool; ``backlog`` is the number of sends in flight. ``health`` is
GetQueueAttributes, remembered for ``HEALTH_TTL_SECONDS`` so a monitor polling ``/healthz``
does not turn into a stream of SQS calls.
"""

from __future__ import annotations

import asyncio
import math
import secrets
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from starlette.concurrency import run_in_threadpool

from afterword.config import Config
from afterword.errors import QueueError
from afterword.intake.envelope import QueuedSubmission
from afterword.intake.sink import Queued
from afterword.intake.sqs import queue_depth, send, sqs_client
from afterword.intake.validate import Submission
from afterword.privacy import client_network
from afterword.store import utc_now

SENDERS = 32
HEALTH_TTL_SECONDS = 5.0
UNKNOWN_CLIENT = "unknown"


class SqsSink:
    """Sends submissions to ``config.intake.queue``; one per process, shared by requests."""

    def __init__(self, config: Config, on_batch: Callable[[int], None] | None = None) -> None:
        self.config = config
        self.url = config.intake.queue
        self.secret = secrets.token_bytes(32)
        self._on_batch = on_batch
        self._client: Any = None
        self._executor: ThreadPoolExecutor | None = None
        self._running = False
        self._in_flight = 0
        self._health_lock = threading.Lock()
        self._health: tuple[float, int | QueueError] | None = None

    def start(self) -> None:
        """Make the boto3 client (no request yet: a Lambda may only be allowed to send)."""
        self._client = sqs_client(self.url, max_pool_connections=SENDERS)
        self._executor = ThreadPoolExecutor(SENDERS, thread_name_prefix="afterword-sqs")
        self._running = True

    def stop(self, timeout: float = 30.0) -> None:
        """Refuse new submissions; sends already under way finish first."""
        self._running = False
        if self._executor is not None:
            self._executor.shutdown(wait=True)

    @property
    def alive(self) -> bool:
        return self._running

    @property
    def backlog(self) -> int:
        return self._in_flight

    async def submit(
        self, submission: Submission, body_html: str, ip_hash: str, page_url: str, address: str
    ) -> Queued:
        """Send the submission; returns once SQS acknowledged it (then the 202)."""
        if not self._running or self._executor is None:
            raise QueueError("the intake's queue sender is not running")
        queued = QueuedSubmission.new(
            submission, client_network(address) or UNKNOWN_CLIENT, page_url, utc_now()
        )
        loop = asyncio.get_running_loop()
        self._in_flight += 1
        try:
            await loop.run_in_executor(self._executor, send, self._client, self.url, queued)
        finally:
            self._in_flight -= 1
        if self._on_batch is not None:
            self._on_batch(1)  # every SendMessage carries exactly one submission
        return Queued(submission=queued.id, created=queued.received)

    async def health(self) -> int:
        """Visible messages in the queue; raises ``QueueError`` when SQS cannot be asked."""
        return await run_in_threadpool(self._queue_health)

    def _queue_health(self) -> int:
        """``health``, blocking: one GetQueueAttributes at most every ``HEALTH_TTL_SECONDS``."""
        now = time.monotonic()
        with self._health_lock:
            if self._health is None or now - self._health[0] >= HEALTH_TTL_SECONDS:
                try:
                    outcome: int | QueueError = queue_depth(self._client, self.url)
                except QueueError as exc:
                    outcome = exc
                self._health = (time.monotonic(), outcome)
            found = self._health[1]
        if isinstance(found, QueueError):
            raise QueueError(str(found))
        return found

    def queue_depth(self) -> float:
        try:
            return float(self._queue_health())
        except QueueError:
            return math.nan


def check_queue(config: Config) -> None:
    """At ``serve`` start-up: the queue must exist and answer (a one-line error otherwise)."""
    url = config.intake.queue
    queue_depth(sqs_client(url), url)
