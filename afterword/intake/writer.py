"""Group commit: one thread owns the write connection and commits submissions in batches.

The database runs with ``synchronous=FULL``, so every COMMIT waits for the disk; one commit per
request would cap the intake at the disk's fsync rate. Instead requests hand their validated,
rendered submission to a queue and wait on a future. The writer thread takes everything queued
(up to ``MAX_BATCH``) and, inside one ``BEGIN IMMEDIATE`` transaction, checks the thread is
open, the parent and the duplicate rule and applies the moderation rules — each submission
succeeds or fails alone (its checks only read; its writes are one statement or a SAVEPOINT), so
one refusal does not sink its neighbours — commits once, and only then resolves the futures. A
202 therefore always means "on disk". Batching needs no timer: while one batch is being synced,
the next one queues.

CPU work (parsing, validation, Markdown) stays on the event loop; this thread only runs SQL.
It shares the GIL with the event loop and must win it back after every statement, so the
number of statements per row is what limits it: page facts are looked up once per batch and a
pending comment on a known page is a duplicate check plus one INSERT.

Every job taken off the queue gets an outcome, whatever happens: a batch that fails anywhere —
in its transaction, or in the preparation before it — answers each of its requests
(``CommentNotStored``, a 503, for storage trouble; ``InternalError``, a 500, for anything else,
logged here with its traceback) and the thread goes on with the next batch. A dead writer would
leave requests waiting forever. The time of the last storage failure is kept
(``failed_at``), so ``/healthz`` stops trusting a cached "ok" the moment a commit fails.

With several worker processes (``shared=True``) each writer takes a lock file before
``BEGIN IMMEDIATE`` (see ``lockfile``), so writers queue in the kernel, not in SQLite's busy
handler.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from afterword.config import Config
from afterword.errors import CommentNotStored, InternalError, StorageError
from afterword.intake.batch import Cutoffs, Entry, Stored, apply_batch
from afterword.intake.lockfile import WriteLock, lock_path_for
from afterword.intake.validate import Submission
from afterword.markup import RENDERER_VERSION
from afterword.store import Store, format_time, open_store, site_secret, utc_now
from afterword.store.models import NewComment

MAX_BATCH = 256

log = logging.getLogger("afterword.intake")


@dataclass(frozen=True)
class Job:
    submission: Submission
    body_html: str
    ip_hash: str
    page_url: str
    future: asyncio.Future[Stored]
    loop: asyncio.AbstractEventLoop


class Writer:
    """The single writer thread; ``submit`` is called from the event loop."""

    def __init__(
        self,
        config: Config,
        on_batch: Callable[[int], None] | None = None,
        *,
        shared: bool = False,
    ) -> None:
        """``shared``: other intake processes write the same database (``--workers``)."""
        self.config = config
        self._shared = shared
        self._lock: WriteLock | None = None
        self._queue: queue.SimpleQueue[Job | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._store: Store | None = None
        self._on_batch = on_batch
        self._running = False
        self._gate = threading.Lock()  # no job may be queued behind the stop sentinel
        self.secret = b""
        self.failed_at = float("-inf")  # time.monotonic() of the last storage failure

    def start(self) -> None:
        """Open the database (errors surface here, at startup) and start the thread."""
        self._store = open_store(
            self.config.database_path, busy_timeout_ms=self.config.database.busy_timeout_ms
        )
        self.secret = site_secret(self._store)
        if self._shared:
            self._lock = WriteLock(lock_path_for(self.config.database_path))
        self._thread = threading.Thread(target=self._run, name="afterword-writer", daemon=True)
        self._running = True
        self._thread.start()

    def stop(self, timeout: float = 30.0) -> None:
        """Commit what is queued, then end the thread and close the connection."""
        with self._gate:
            if not self._running:
                return
            self._running = False
            self._queue.put(None)
        if self._thread is not None:
            self._thread.join(timeout)

    @property
    def alive(self) -> bool:
        """True from ``start`` until ``stop`` (or the thread's end)."""
        return self._running

    @property
    def backlog(self) -> int:
        return self._queue.qsize()

    async def submit(
        self, submission: Submission, body_html: str, ip_hash: str, page_url: str, address: str = ""
    ) -> Stored:
        """Queue one submission and wait until its batch is committed (or refused).

        ``address`` (the client's) is not used: the database keeps only ``ip_hash``.
        """
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Stored] = loop.create_future()
        with self._gate:
            if not self._running:
                raise CommentNotStored("the intake's writer is not running")
            self._queue.put(Job(submission, body_html, ip_hash, page_url, future, loop))
        return await future

    def _run(self) -> None:
        assert self._store is not None
        try:
            while True:
                job = self._queue.get()
                if job is None:
                    return
                batch, stopping = self._drain(job)
                self._settle_batch(self._store, batch)
                if stopping:
                    return
        finally:
            self._store.close()
            if self._lock is not None:
                self._lock.close()
            self._fail_leftovers()

    def _fail_leftovers(self) -> None:
        """Should the loop ever end early, nobody is left waiting for an answer."""
        with self._gate:
            self._running = False
            leftovers: list[Job] = []
            while not self._queue.empty():
                job = self._queue.get_nowait()
                if job is not None:
                    leftovers.append(job)
        _deliver(leftovers, [CommentNotStored("the intake is shutting down") for _ in leftovers])

    def _drain(self, first: Job) -> tuple[list[Job], bool]:
        batch = [first]
        while len(batch) < MAX_BATCH:
            try:
                job = self._queue.get_nowait()
            except queue.Empty:
                break
            if job is None:
                return batch, True
            batch.append(job)
        return batch, False

    def _settle_batch(self, store: Store, batch: list[Job]) -> None:
        """Commit one batch; whatever goes wrong, every job in it is answered."""
        try:
            outcomes = self._commit(store, batch)
        except Exception as exc:  # the whole batch failed: nobody may wait forever
            outcomes = [_batch_error(exc) for _ in batch]
            if isinstance(exc, StorageError):
                self.failed_at = time.monotonic()
            else:
                log.error("a batch of %d comments failed", len(batch), exc_info=exc)
        try:
            if self._on_batch is not None:
                self._on_batch(len(batch))
        except Exception:
            log.exception("the batch observer failed")
        _deliver(batch, outcomes)

    def _commit(self, store: Store, batch: list[Job]) -> list[Stored | Exception]:
        """Everything a batch needs, then its one transaction: one outcome per job."""
        now = datetime.now(UTC)
        window = timedelta(seconds=self.config.limits.duplicate_window_seconds)
        days = self.config.build.close_after_days
        cut = Cutoffs(
            duplicates_since=format_time(now - window),
            close_before=format_time(now - timedelta(days=days)) if days else None,
        )
        created = utc_now()  # one timestamp per batch: they are committed together
        entries = [Entry(j.submission, j.body_html, j.ip_hash, j.page_url, created) for j in batch]

        def make_row(entry: Entry, status: str) -> NewComment:
            return _new_comment(entry, status, created)

        with self._transaction(store) as conn:
            return list(apply_batch(conn, self.config, entries, cut, make_row))

    @contextmanager
    def _transaction(self, store: Store) -> Iterator[sqlite3.Connection]:
        """``store.write()``, queued behind the other workers' writers when there are any."""
        lock = self._lock.held() if self._lock is not None else nullcontext()
        with lock, store.write() as conn:
            yield conn


def _batch_error(exc: Exception) -> Exception:
    """One fresh exception per job (each request raises its own).

    Storage trouble (``store`` maps SQLite's errors to ``StorageError``) is a 503 for the
    client (``answers`` logs the detail and hides it); anything else is a bug, logged here
    once per batch, and a plain 500 for the client.
    """
    if isinstance(exc, StorageError):
        return CommentNotStored(f"the comment could not be stored: {exc}", cause=exc)
    return InternalError("internal error")


def _new_comment(entry: Entry, status: str, created: str) -> NewComment:
    sub = entry.submission
    return NewComment(
        page_key=sub.page_key,
        author=sub.author,
        body=sub.body,
        body_html=entry.body_html,
        renderer=RENDERER_VERSION,
        parent_id=sub.parent_id,
        email=sub.email,
        website=sub.website,
        status=status,
        ip_hash=entry.ip_hash,
        body_hash=sub.body_hash,
        source="intake",
        created=created,
        page_url=entry.page_url,
    )


def _deliver(batch: list[Job], outcomes: list[Stored | Exception]) -> None:
    """Hand each outcome to its request's event loop (one wake-up per loop per batch)."""
    by_loop: dict[asyncio.AbstractEventLoop, list[tuple[asyncio.Future[Stored], object]]] = {}
    for job, outcome in zip(batch, outcomes, strict=True):
        by_loop.setdefault(job.loop, []).append((job.future, outcome))
    for loop, pairs in by_loop.items():
        try:
            loop.call_soon_threadsafe(_settle, pairs)
        except RuntimeError:  # the loop closed: nobody is waiting any more
            continue


def _settle(pairs: list[tuple[asyncio.Future[Stored], object]]) -> None:
    for future, outcome in pairs:
        if future.done():
            continue
        if isinstance(outcome, BaseException):
            future.set_exception(outcome)
        else:
            assert isinstance(outcome, Stored)
            future.set_result(outcome)


__all__ = ["MAX_BATCH", "Job", "Stored", "Writer"]
