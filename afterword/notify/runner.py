"""Who drains the outbox: one sender at a time, by a lock file beside the database.

``afterword serve`` (every worker) and ``afterword watch`` run a ``BackgroundSender``; each
pass takes ``<database>.notify-lock`` without waiting, so with several of them running only
one sends and the others skip that pass. ``afterword notify --once`` waits for the lock
instead. The kernel drops an ``flock`` when its process dies, even by ``kill -9``, so a crashed
sender never blocks the next one.
"""

from __future__ import annotations

import fcntl
import logging
import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from afterword.config import Config
from afterword.errors import AfterwordError, NotifyError, StorageError
from afterword.notify.channels import sends_anything
from afterword.notify.sender import DrainReport, Sender
from afterword.store import open_store

LOCK_SUFFIX = ".notify-lock"
POLL_SECONDS = 2.0
WAIT_SECONDS = 30.0

log = logging.getLogger("afterword.notify")


def lock_path_for(database: Path) -> Path:
    return database.with_name(database.name + LOCK_SUFFIX)


@contextmanager
def sender_lock(database: Path, *, wait: float) -> Iterator[bool]:
    """Yields True while this process is the one sender; False if another one is (after
    waiting up to ``wait`` seconds)."""
    path = lock_path_for(database)
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    except OSError as exc:
        raise StorageError(f"{path}: cannot open the sender's lock file: {exc}") from None
    try:
        deadline = time.monotonic() + wait
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    yield False
                    return
                time.sleep(0.1)
        try:
            yield True
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def drain_once(config: Config, *, wait: float = WAIT_SECONDS) -> DrainReport | None:
    """One pass with its own connection; None when another sender holds the lock."""
    with sender_lock(config.database_path, wait=wait) as mine:
        if not mine:
            return None
        with open_store(
            config.database_path, busy_timeout_ms=config.database.busy_timeout_ms
        ) as store:
            return Sender(config, store).drain()


class BackgroundSender:
    """A daemon thread that drains the outbox every ``POLL_SECONDS`` until stopped."""

    def __init__(self, config: Config, poll: float = POLL_SECONDS) -> None:
        self.config = config
        self.poll = poll
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def wanted(self) -> bool:
        """Only when notifications are configured (and not left to ``afterword notify``), and
        only beside the database: an SQS intake has none, the pulling machine sends them."""
        if self.config.intake.queue != "sqlite":
            return False
        return self.config.notify.background and sends_anything(self.config)

    def start(self) -> BackgroundSender:
        if self.wanted:
            self._thread = threading.Thread(target=self._run, name="afterword-notify", daemon=True)
            self._thread.start()
        return self

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                drain_once(self.config, wait=0)
            except NotifyError as exc:
                log.warning("notifications: %s", exc)
            except AfterwordError as exc:  # config or storage: say so, keep trying
                log.error("notifications: %s", exc)
            except Exception:  # a bug must not end the thread silently
                log.exception("the notification sender failed")
            self._stop.wait(self.poll)
