"""``/healthz``: would a submission be stored right now?

Reading the database and taking its write lock is not enough: with the disk full SQLite opens,
reads and locks happily, and only the commit — the WAL growing — fails, so every post got a 503
while the health check said 200. The probe therefore does what a commit needs:

1. the writer thread is running;
2. a fresh connection reads the database and takes (then releases) its write lock within a
   second (``store.submissions.check_health``) — not locked by another process, writable;
3. a scratch file of ``ROOM_BYTES`` beside the database is written, fsynced and removed — the
   filesystem really has room for a batch of commits (ENOSPC, a quota or a read-only mount
   fail here exactly as they fail the WAL).

The scratch file, not a row in the database: a write to the database would wake
``afterword watch`` (it watches the database's size and mtime) at every probe.

The outcome — ok or the failure — is kept for ``TTL_SECONDS``, so a load balancer polling
``/healthz`` many times a second costs one probe per second; concurrent requests share the
probe in flight. A cached "ok" is dropped as soon as the writer reports a storage failure
(``Writer.failed_at``), so health turns 503 with the first failed commit.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from starlette.concurrency import run_in_threadpool

from afterword.errors import CommentNotStored, StorageError
from afterword.intake.writer import Writer
from afterword.store.errors import sqlite_errors
from afterword.store.submissions import check_health

TTL_SECONDS = 1.0
ROOM_BYTES = 256 * 1024  # a full batch of typical submissions, with its WAL frames


@dataclass(frozen=True)
class Health:
    """A passed probe: what ``/healthz`` reports besides "ok"."""

    queue_depth: int


@dataclass(frozen=True)
class _Probe:
    started: float  # a storage failure after this is news the probe may have missed
    finished: float  # the cache time counts from here (a probe can wait a second for a lock)
    outcome: Health | StorageError


class HealthCheck:
    """The cached write probe for one intake process."""

    def __init__(
        self, database: Path, writer: Writer, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.database = database
        self.writer = writer
        self._clock = clock
        self._last: _Probe | None = None
        self._lock = asyncio.Lock()

    async def check(self) -> Health:
        """The probe's result, fresh or at most ``TTL_SECONDS`` old; raises when unhealthy."""
        if not self.writer.alive:
            raise CommentNotStored("the intake's writer is not running")
        probe = self._fresh()
        if probe is None:
            async with self._lock:
                probe = self._fresh()  # another request may have probed while we waited
                if probe is None:
                    probe = await run_in_threadpool(self._probe)
                    self._last = probe
        if isinstance(probe.outcome, StorageError):
            raise probe.outcome
        return probe.outcome

    def _fresh(self) -> _Probe | None:
        last = self._last
        if last is None or self._clock() - last.finished >= TTL_SECONDS:
            return None
        if self.writer.failed_at >= last.started:
            return None  # a commit failed since: look again
        return last

    def _probe(self) -> _Probe:
        started = self._clock()
        outcome: Health | StorageError
        try:
            report = check_health(self.database)
            write_room(self.database)
            outcome = Health(report.queue_depth)
        except StorageError as exc:
            outcome = exc
        return _Probe(started, self._clock(), outcome)


def write_room(database: Path, size: int = ROOM_BYTES) -> None:
    """Write, fsync and remove ``size`` bytes beside ``database``; ENOSPC → ``StorageFull``."""
    scratch = database.with_name(f"{database.name}.health-{os.getpid()}")
    with sqlite_errors(database, "no room for a write"):
        fd = os.open(scratch, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600)
        try:
            block = bytes(min(size, 65536))
            written = 0
            while written < size:
                written += os.write(fd, block[: size - written])
            os.fsync(fd)
        finally:
            os.close(fd)
            scratch.unlink(missing_ok=True)
