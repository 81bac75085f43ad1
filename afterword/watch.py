"""``afterword watch``: rebuild when the database, the templates or the config change.

watchdog reports file events from its own thread; they only *note* a change. The main thread
waits until changes settle (``watch.settle_seconds`` of quiet, at most
``watch.max_wait_seconds`` after the first), then runs one rebuild. A failing rebuild is
logged and retried with exponential backoff while events keep being noted. SIGINT/SIGTERM
let the current rebuild finish and then stop; a second Ctrl-C aborts at once.

Our own rebuild writes to the database too (manifest, published rows). Those writes must not
trigger the next rebuild, or watch would loop forever: database events are ignored while a
rebuild runs and when the files' (size, mtime) still equal the snapshot taken after it; a
change made by someone else *during* a rebuild is caught by checking for dirty pages.
"""

from __future__ import annotations

import logging
import os
import signal
import sqlite3
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from watchdog.events import FileSystemEvent, FileSystemEventHandler
from watchdog.observers import Observer
from watchdog.observers.polling import PollingObserver

from afterword.config import Config, load_config
from afterword.errors import AfterwordError
from afterword.store import Store, iter_dirty_pages

log = logging.getLogger("afterword.watch")
CHANGE_EVENTS = {"modified", "created", "deleted", "moved", "closed"}
BACKOFF_FIRST = 1.0
BACKOFF_MAX = 60.0
POLL_INTERVAL = 0.5
STOP_CHECK = 0.5  # how often an idle loop looks at the stop flag


class Debouncer:
    """Due when changes have been quiet for ``settle`` or the first is ``max_wait`` old."""

    def __init__(
        self, settle: float, max_wait: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.settle = settle
        self.max_wait = max(settle, max_wait)
        self.clock = clock
        self.first: float | None = None
        self.last: float | None = None

    def touch(self) -> None:
        now = self.clock()
        self.first = now if self.first is None else self.first
        self.last = now

    def delay(self) -> float | None:
        """Seconds until due (0: now), or None when nothing changed."""
        if self.first is None or self.last is None:
            return None
        due = min(self.last + self.settle, self.first + self.max_wait)
        return max(0.0, due - self.clock())

    def clear(self) -> None:
        self.first = self.last = None


class Watcher:
    """The loop: note changes, wait for them to settle, rebuild, retry failures."""

    def __init__(
        self,
        config: Config,
        rebuild: Callable[[Config], str],
        *,
        store: Store,
        poll: bool = False,
    ) -> None:
        self.config = config
        self.rebuild = rebuild
        self.store = store
        self.poll = poll
        self.changes = Debouncer(config.watch.settle_seconds, config.watch.max_wait_seconds)
        self.wake = threading.Event()
        self.lock = threading.Lock()
        self.busy = False
        self.config_changed = False
        self.db_files = {config.database_path, Path(f"{config.database_path}-wal")}
        self.db_token = self._db_token()
        self.retry_at: float | None = None
        self.backoff = BACKOFF_FIRST

    def run(self, stop: threading.Event) -> None:
        """Rebuild once to catch up, then on every settled change until ``stop`` is set."""
        observer = self._observer()
        observer.start()
        restore = _install_signals(stop, self.wake)
        log.info("watching %s", ", ".join(str(p) for p in self._watched_paths()))
        try:
            self._attempt()
            while not stop.is_set():
                delay = self._next_delay()
                self.wake.wait(STOP_CHECK if delay is None else min(delay, STOP_CHECK))
                self.wake.clear()
                if not stop.is_set() and self._due():
                    self._attempt()
        finally:
            restore()
            observer.stop()
            observer.join()
            log.info("stopped watching")

    def note(self, path: Path) -> None:
        """Called from the observer's thread for every event on a watched path."""
        with self.lock:
            if path in self.db_files:
                if self.busy or self._db_token() == self.db_token:
                    return
            elif path == self.config.source:
                self.config_changed = True
            self.changes.touch()
        self.wake.set()

    def _attempt(self) -> None:
        with self.lock:
            self.changes.clear()
            self.retry_at = None
            self.busy = True
        ok = False
        try:
            self._reload_config()
            log.info("rebuilt: %s", self.rebuild(self.config))
            ok = True
        except (AfterwordError, OSError, sqlite3.Error) as exc:
            self._failed(str(exc))
        except Exception as exc:  # a bug must not end the watch; log it whole
            log.exception("rebuild crashed")
            self._failed(type(exc).__name__)
        finally:
            with self.lock:
                self.busy = False
                self.db_token = self._db_token()
        if ok:
            self.backoff = BACKOFF_FIRST
            if next(iter_dirty_pages(self.store), None) is not None:
                with self.lock:
                    self.changes.touch()  # someone changed a page while we built: go again

    def _failed(self, reason: str) -> None:
        self.retry_at = time.monotonic() + self.backoff
        log.error("rebuild failed (retrying in %.0f s): %s", self.backoff, reason)
        self.backoff = min(BACKOFF_MAX, self.backoff * 2)

    def _reload_config(self) -> None:
        if not self.config_changed or self.config.source is None:
            return
        self.config_changed = False
        self.config = load_config(self.config.source)
        log.info("reloaded %s", self.config.source)

    def _due(self) -> bool:
        delay = self._next_delay()
        return delay is not None and delay <= 0

    def _next_delay(self) -> float | None:
        with self.lock:
            pending = self.changes.delay()
        if self.retry_at is not None:
            retry = max(0.0, self.retry_at - time.monotonic())
            pending = retry if pending is None else min(pending, retry)
        return pending

    def _db_token(self) -> tuple[tuple[int, int], ...]:
        token = []
        for path in sorted(self.db_files):
            try:
                info = os.stat(path)
                token.append((info.st_size, info.st_mtime_ns))
            except FileNotFoundError:
                token.append((-1, -1))
        return tuple(token)

    def _watched_paths(self) -> list[Path]:
        paths = [self.config.database_path]
        if self.config.source is not None:
            paths.append(self.config.source)
        templates = self.config.build.templates_dir
        if templates and Path(templates).is_dir():
            paths.append(Path(templates))
        return paths

    def _observer(self) -> Any:
        observer = PollingObserver(timeout=POLL_INTERVAL) if self.poll else Observer()
        templates = Path(self.config.build.templates_dir or "/nonexistent")
        files = set(self.db_files)
        if self.config.source is not None:
            files.add(self.config.source)
        handler = Handler(self, files, templates)
        folders = {path.parent for path in self._watched_paths() if path != templates}
        for folder in sorted(folders):
            observer.schedule(handler, str(folder), recursive=False)
        if templates.is_dir():
            observer.schedule(handler, str(templates), recursive=True)
        return observer


class Handler(FileSystemEventHandler):
    """Forwards events on the files we care about to the watcher."""

    def __init__(self, watcher: Watcher, files: set[Path], templates: Path) -> None:
        self.watcher = watcher
        self.files = files
        self.templates = templates

    def on_any_event(self, event: FileSystemEvent) -> None:
        if event.event_type not in CHANGE_EVENTS:
            return
        for raw in (event.src_path, getattr(event, "dest_path", "")):
            if not raw:
                continue
            path = Path(os.fsdecode(raw))
            if path in self.files or self.templates in path.parents:
                self.watcher.note(path)


def _install_signals(stop: threading.Event, wake: threading.Event) -> Callable[[], None]:
    """SIGINT/SIGTERM: finish the current rebuild, then stop; a second SIGINT aborts."""
    if threading.current_thread() is not threading.main_thread():
        return lambda: None

    def handle(signum: int, frame: object) -> None:
        if stop.is_set() and signum == signal.SIGINT:
            raise KeyboardInterrupt
        log.info("stopping after the current rebuild")
        stop.set()
        wake.set()

    previous = {sig: signal.signal(sig, handle) for sig in (signal.SIGINT, signal.SIGTERM)}

    def restore() -> None:
        for sig, handler in previous.items():
            signal.signal(sig, handler)

    return restore
