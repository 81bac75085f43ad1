"""Where an accepted submission goes: the SQLite writer, or an SQS queue (``intake.queue``).

The routes see one interface, ``Sink``: ``start``/``stop`` with the app's lifespan, ``submit``
(answered only once the submission is durable: committed to disk, or acknowledged by SQS),
``alive`` and ``backlog`` for ``/healthz`` and ``/metrics``, ``health`` and ``queue_depth``
for what those endpoints report, and ``secret``, the key client networks are hashed with for
the rate limiter. ``open_sink`` chooses the implementation from the config, once.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from afterword.config import Config
from afterword.errors import StorageError
from afterword.intake.batch import Stored
from afterword.intake.health import HealthCheck
from afterword.intake.validate import Submission
from afterword.intake.writer import Writer
from afterword.store.submissions import probe, queue_depth


@dataclass(frozen=True)
class Queued:
    """What a request learns once SQS has the submission: no database id exists yet.

    ``submission`` is the message's id; ``afterword pull`` stores it as the comment's
    external id. ``id`` is always ``None`` (docs/deploying.md, "What the client sees").
    """

    submission: str
    created: str
    status: str = "pending"
    id: None = None


Receipt = Stored | Queued


class Sink(Protocol):
    """What the intake's routes need of the place submissions go."""

    secret: bytes

    def start(self) -> None: ...

    def stop(self, timeout: float = 30.0) -> None: ...

    @property
    def alive(self) -> bool: ...

    @property
    def backlog(self) -> int: ...

    async def submit(
        self, submission: Submission, body_html: str, ip_hash: str, page_url: str, address: str
    ) -> Receipt: ...

    async def health(self) -> int:
        """The queue depth when a submission would be stored now; raises
        ``StorageError``/``CommentNotStored``/``QueueError`` otherwise (then a 503)."""
        ...

    def queue_depth(self) -> float:
        """Submissions waiting (NaN when unknown): a gauge, so it never raises."""
        ...


class DatabaseSink(Writer):
    """The SQLite group-commit writer, with the write probe ``/healthz`` uses (``health``)."""

    def __init__(
        self, config: Config, on_batch: Callable[[int], None] | None = None, *, shared: bool
    ) -> None:
        super().__init__(config, on_batch, shared=shared)
        self._health = HealthCheck(config.database_path, self)

    async def health(self) -> int:
        return (await self._health.check()).queue_depth

    def queue_depth(self) -> float:
        try:
            with probe(self.config.database_path) as conn:
                return queue_depth(conn)
        except StorageError:
            return math.nan


def open_sink(
    config: Config, on_batch: Callable[[int], None] | None = None, *, shared: bool = False
) -> Sink:
    """The SQLite writer for ``intake.queue = "sqlite"``, else the SQS sender.

    ``shared``: other processes write the same database (only meaningful for SQLite).
    """
    if config.intake.queue == "sqlite":
        return DatabaseSink(config, on_batch, shared=shared)
    from afterword.intake.sqs_sink import SqsSink  # boto3 is imported only in SQS mode

    return SqsSink(config, on_batch)
