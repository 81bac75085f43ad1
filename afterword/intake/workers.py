"""Several intake processes on one listening socket (``afterword serve --workers N``).

One intake process is bound by the GIL to one core: its event loop and its writer thread take
turns. Worker processes each run the whole intake — event loop, group-commit writer — and
accept from the same socket, which the parent binds once and hands down. Their writers queue
for the database through a lock file (``lockfile``), not SQLite's busy handler.

Workers are started with the ``spawn`` method (a fresh interpreter, no threads inherited) and
stopped with SIGTERM, which uvicorn turns into a graceful shutdown: open requests are answered
and every queued submission is committed before the worker exits (waiting at most
``intake.shutdown_timeout_seconds`` for slow clients).

Workers die with their parent, however it ends — even by SIGKILL, which runs no cleanup in
the parent — so that no orphan keeps serving and holding the port. Two independent ways:
on Linux the kernel sends the worker SIGTERM when its parent dies (``prctl(PR_SET_PDEATHSIG)``);
everywhere, the worker watches a pipe whose only writing end the parent holds, and the pipe's
EOF means the parent is gone. Either leads to the same graceful shutdown.

What stays per worker: rate-limit counters, the duplicate-address cache and ``/metrics``
counters (each scrape sees the worker that accepted it) — see docs/intake-api.md.
"""

from __future__ import annotations

import contextlib
import ctypes
import multiprocessing
import os
import signal
import socket
import sys
import threading
import time
from collections.abc import Callable
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from multiprocessing.synchronize import Event
from typing import Any

import uvicorn

from afterword.config import Config
from afterword.errors import AfterwordError
from afterword.intake.protocol import RequestLimits, guarded_protocol

STOP_MARGIN_SECONDS = 5.0
PR_SET_PDEATHSIG = 1  # from <linux/prctl.h>


def uvicorn_config(app: Any, host: str, port: int, config: Config, **extra: Any) -> uvicorn.Config:
    """uvicorn with the intake's choices and limits (the one place they are set).

    uvloop and httptools explicitly: the throughput target is met on them. ``limit_concurrency``
    (503 beyond it), ``timeout_keep_alive`` and ``timeout_graceful_shutdown`` are uvicorn's own;
    the header cap and the read deadlines uvicorn lacks come with the protocol (``protocol``).
    """
    intake = config.intake
    return uvicorn.Config(
        app,
        host=host,
        port=port,
        loop="uvloop",
        http=guarded_protocol(RequestLimits.from_config(intake)),
        ws="none",  # no WebSocket routes: an Upgrade header is just a header
        lifespan="on",
        access_log=False,
        server_header=False,
        proxy_headers=False,  # X-Forwarded-For is judged by the app's trusted_proxies
        limit_concurrency=intake.max_connections,
        timeout_keep_alive=intake.keep_alive_seconds,
        timeout_graceful_shutdown=intake.shutdown_timeout_seconds,
        **extra,
    )


class NotifyingServer(uvicorn.Server):
    """A uvicorn server that calls ``on_started`` once it accepts connections."""

    def __init__(self, config: uvicorn.Config, on_started: Callable[[], None]) -> None:
        super().__init__(config)
        self._on_started = on_started

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        if self.started:
            self._on_started()


def die_with_parent(parent_pid: int, lifeline: Connection, stop: Callable[[], None]) -> None:
    """Make this worker shut down when the process ``parent_pid`` is gone.

    Linux: the kernel sends SIGTERM (uvicorn's graceful shutdown) when the parent dies —
    strictly, when the parent's thread that started the worker ends, so a ``WorkerPool`` is
    started by the thread that keeps it (``serve``'s main thread). And everywhere
    ``watch_lifeline``. If the parent died before either was in place, stop now.
    """
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
    watch_lifeline(lifeline, stop)
    if os.getppid() != parent_pid:
        stop()


def watch_lifeline(lifeline: Connection, stop: Callable[[], None]) -> None:
    """Call ``stop`` from a thread once ``lifeline`` reaches EOF: its only writing end is the
    parent's, which the kernel closes when the parent dies, however it dies."""

    def watch() -> None:
        with contextlib.suppress(EOFError, OSError):
            lifeline.recv_bytes()  # the parent never writes: this returns at its death
        stop()

    threading.Thread(target=watch, name="afterword-parent-watch", daemon=True).start()


def _worker_main(
    config: Config,
    sock: socket.socket,
    workers: int,
    ready: Event,
    quiet: bool,
    parent_pid: int,
    lifeline: Connection,
) -> None:
    """A worker's whole life: build the app (its writer shares the lock file), serve."""
    from afterword.intake import create_app  # the intake imports this module

    host, port = sock.getsockname()[:2]
    extra: dict[str, Any] = {"log_config": None, "log_level": "warning"} if quiet else {}
    app = create_app(config, workers=workers)
    server = NotifyingServer(uvicorn_config(app, host, port, config, **extra), ready.set)

    def stop() -> None:
        server.should_exit = True

    die_with_parent(parent_pid, lifeline, stop)
    try:
        server.run(sockets=[sock])
    except KeyboardInterrupt:  # Ctrl-C reaches the whole process group; the parent reports
        return


class WorkerPool:
    """N worker processes serving ``sock``; ``start`` returns once all of them accept."""

    def __init__(self, config: Config, sock: socket.socket, workers: int, *, quiet: bool) -> None:
        self._context = multiprocessing.get_context("spawn")
        self._stop_timeout = config.intake.shutdown_timeout_seconds + STOP_MARGIN_SECONDS
        self._ready = [self._context.Event() for _ in range(workers)]
        # The parent keeps the only writing end: its death, however it happens, is EOF here.
        lifeline, self._lifeline = self._context.Pipe(duplex=False)
        self._processes: list[BaseProcess] = [
            self._context.Process(
                target=_worker_main,
                args=(config, sock, workers, ready, quiet, os.getpid(), lifeline),
                name=f"afterword-intake-{number + 1}",
                daemon=True,
            )
            for number, ready in enumerate(self._ready)
        ]
        self._lifeline_reader = lifeline

    def start(self, timeout: float) -> None:
        """Start every worker and wait until each listens (or fail, stopping the others)."""
        for process in self._processes:
            process.start()
        self._lifeline_reader.close()  # the workers hold their own copies
        deadline = time.monotonic() + timeout
        for process, ready in zip(self._processes, self._ready, strict=True):
            while not ready.wait(0.05):
                if not process.is_alive() or time.monotonic() > deadline:
                    self.stop()
                    raise AfterwordError(f"intake worker {process.name} did not start")

    @property
    def pids(self) -> list[int]:
        return [p.pid for p in self._processes if p.pid is not None]

    def failed(self) -> BaseProcess | None:
        """A worker that has exited (crashed, or killed from outside), if any."""
        return next((p for p in self._processes if p.exitcode is not None), None)

    def stop(self, timeout: float | None = None) -> None:
        """SIGTERM every worker (graceful: answers sent, queues committed), then join.

        A worker still alive after the shutdown timeout and a margin is killed.
        """
        for process in self._processes:
            if process.is_alive():
                process.terminate()
        deadline = time.monotonic() + (self._stop_timeout if timeout is None else timeout)
        for process in self._processes:
            if process.pid is not None:
                process.join(max(0.0, deadline - time.monotonic()))
            if process.is_alive():
                process.kill()
                process.join()
        self._lifeline.close()
