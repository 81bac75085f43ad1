"""Several intake processes on one listening socket (``afterword serve --workers N``).

One intake process is bound by the GIL to one core: its event loop and its writer thread take
turns. Worker processes each run the whole intake — event loop, group-commit writer — and
accept from the same socket, which the parent binds once and hands down. Their writers queue
for the database through a lock file (``lockfile``), not SQLite's busy handler.

Workers are started with the ``spawn`` method (a fresh interpreter, no threads inherited) and
stopped with SIGTERM, which uvicorn turns into a graceful shutdown: open requests are answered
and every queued submission is committed before the worker exits.

What stays per worker: rate-limit counters, the duplicate-address cache and ``/metrics``
counters (each scrape sees the worker that accepted it) — see docs/intake-api.md.
"""

from __future__ import annotations

import multiprocessing
import socket
import time
from multiprocessing.process import BaseProcess
from multiprocessing.synchronize import Event
from typing import Any

import uvicorn

from afterword.config import Config
from afterword.errors import AfterwordError
from afterword.intake.transport import CoalescingHttpToolsProtocol

STOP_TIMEOUT_SECONDS = 30.0


def uvicorn_config(app: Any, host: str, port: int, **extra: Any) -> uvicorn.Config:
    """uvloop and httptools chosen explicitly: the throughput target is met on them (the
    httptools protocol wrapped so each response leaves in one write, see ``transport``)."""
    return uvicorn.Config(
        app,
        host=host,
        port=port,
        loop="uvloop",
        http=CoalescingHttpToolsProtocol,
        lifespan="on",
        access_log=False,
        server_header=False,
        proxy_headers=False,  # X-Forwarded-For is judged by the app's trusted_proxies
        **extra,
    )


class _ReadyServer(uvicorn.Server):
    """A uvicorn server that tells the parent once it accepts connections."""

    def __init__(self, config: uvicorn.Config, ready: Event) -> None:
        super().__init__(config)
        self._ready = ready

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        if self.started:
            self._ready.set()


def _worker_main(
    config: Config, sock: socket.socket, workers: int, ready: Event, quiet: bool
) -> None:
    """A worker's whole life: build the app (its writer shares the lock file), serve."""
    from afterword.intake import create_app  # the intake imports this module

    host, port = sock.getsockname()[:2]
    extra: dict[str, Any] = {"log_config": None, "log_level": "warning"} if quiet else {}
    app = create_app(config, workers=workers)
    server = _ReadyServer(uvicorn_config(app, host, port, **extra), ready)
    try:
        server.run(sockets=[sock])
    except KeyboardInterrupt:  # Ctrl-C reaches the whole process group; the parent reports
        return


class WorkerPool:
    """N worker processes serving ``sock``; ``start`` returns once all of them accept."""

    def __init__(self, config: Config, sock: socket.socket, workers: int, *, quiet: bool) -> None:
        self._context = multiprocessing.get_context("spawn")
        self._ready = [self._context.Event() for _ in range(workers)]
        self._processes: list[BaseProcess] = [
            self._context.Process(
                target=_worker_main,
                args=(config, sock, workers, ready, quiet),
                name=f"afterword-intake-{number + 1}",
                daemon=True,
            )
            for number, ready in enumerate(self._ready)
        ]

    def start(self, timeout: float) -> None:
        """Start every worker and wait until each listens (or fail, stopping the others)."""
        for process in self._processes:
            process.start()
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

    def stop(self, timeout: float = STOP_TIMEOUT_SECONDS) -> None:
        """SIGTERM every worker (graceful: answers sent, queues committed), then join."""
        for process in self._processes:
            if process.is_alive():
                process.terminate()
        deadline = time.monotonic() + timeout
        for process in self._processes:
            if process.pid is not None:
                process.join(max(0.0, deadline - time.monotonic()))
            if process.is_alive():
                process.kill()
                process.join()
