"""Running the intake on uvicorn: in the foreground for the CLI, in a thread for tests.

uvloop and httptools are chosen explicitly (both come with ``uvicorn[standard]``): the
intake's throughput target is met on them, not on the pure-Python fallbacks.
"""

from __future__ import annotations

import socket
import threading
import time
from types import TracebackType
from typing import Any

import uvicorn
from starlette.applications import Starlette

from afterword.config import Config
from afterword.errors import AfterwordError
from afterword.intake import create_app
from afterword.store import open_store

STARTUP_TIMEOUT_SECONDS = 15.0


def uvicorn_config(app: Starlette, host: str, port: int, **extra: Any) -> uvicorn.Config:
    return uvicorn.Config(
        app,
        host=host,
        port=port,
        loop="uvloop",
        http="httptools",
        lifespan="on",
        access_log=False,
        server_header=False,
        proxy_headers=False,  # X-Forwarded-For is judged by the app's trusted_proxies
        **extra,
    )


def serve(config: Config, host: str | None = None, port: int | None = None) -> None:
    """Serve until interrupted; Ctrl-C and SIGTERM first finish open requests and commits.

    After a graceful shutdown uvicorn re-raises the signal: SIGTERM then ends the process
    as SIGTERM does (what process managers expect), Ctrl-C simply returns.
    """
    check_database(config)
    chosen_host = host or config.intake.host
    chosen_port = config.intake.port if port is None else port
    server = uvicorn.Server(uvicorn_config(create_app(config), chosen_host, chosen_port))
    try:
        server.run()
    except KeyboardInterrupt:  # uvicorn re-raises Ctrl-C after its graceful shutdown
        return
    if not server.started:
        raise AfterwordError(f"the intake could not start on {chosen_host}:{chosen_port}")


def check_database(config: Config) -> None:
    """Open (create, migrate) the database first, so a bad path is a one-line StorageError.

    Failing later, inside the ASGI lifespan, would make uvicorn print a traceback.
    """
    open_store(config.database_path, busy_timeout_ms=config.database.busy_timeout_ms).close()


class BackgroundServer:
    """The intake on an ephemeral loopback port, in a thread; ``url`` is where it listens."""

    def __init__(self, config: Config, host: str = "127.0.0.1", port: int = 0) -> None:
        self.config = config
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self._socket = socket.socket(family, socket.SOCK_STREAM)
        self._socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._socket.bind((host, port))
        self.host, self.port = host, int(self._socket.getsockname()[1])
        self.app = create_app(config)
        self._server = uvicorn.Server(
            uvicorn_config(self.app, host, self.port, log_config=None, log_level="warning")
        )
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [self._socket]}, daemon=True
        )

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    def start(self) -> BackgroundServer:
        try:
            check_database(self.config)
        except AfterwordError:
            self._socket.close()
            raise
        self._thread.start()
        deadline = time.monotonic() + STARTUP_TIMEOUT_SECONDS
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                raise AfterwordError(f"the intake did not start on {self.url}")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        """Stop accepting, finish open requests and queued commits, join the thread."""
        self._server.should_exit = True
        if self._thread.is_alive():
            self._thread.join(STARTUP_TIMEOUT_SECONDS)
        self._socket.close()

    def __enter__(self) -> BackgroundServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
