"""Running the intake on uvicorn: in the foreground for the CLI, in a thread for tests.

Either can run several worker processes instead of one (``workers``, see ``workers.py``).
The listening socket is always bound here, before uvicorn starts, so that a port already in
use is one ``ConfigError`` naming the port (exit 2), for one process as for several.

uvloop and httptools are chosen explicitly (both come with ``uvicorn[standard]``): the
intake's throughput target is met on them, not on the pure-Python fallbacks. Every uvicorn
setting, limits included, is made in ``workers.uvicorn_config``.
"""

from __future__ import annotations

import errno
import resource
import signal
import socket
import sys
import threading
import time
from types import FrameType, TracebackType

import uvicorn

from afterword.config import Config
from afterword.errors import AfterwordError, ConfigError
from afterword.intake import create_app
from afterword.intake.lockfile import WriteLock, lock_path_for
from afterword.intake.workers import NotifyingServer, WorkerPool, uvicorn_config
from afterword.store import open_store

STARTUP_TIMEOUT_SECONDS = 15.0
FILES_BESIDES_CLIENTS = 64  # database, WAL, lock file, pipes, logs: what is not a connection
WORKER_STARTUP_TIMEOUT_SECONDS = 60.0

__all__ = ["BackgroundServer", "bind_socket", "check_database", "listen_error", "serve"]


def serve(
    config: Config, host: str | None = None, port: int | None = None, workers: int = 1
) -> None:
    """Serve until interrupted; Ctrl-C and SIGTERM first finish open requests and commits.

    After a graceful shutdown uvicorn re-raises the signal: SIGTERM then ends the process
    as SIGTERM does (what process managers expect), Ctrl-C simply returns. ``workers`` > 1
    runs that many processes on one socket (see ``workers``).
    """
    check_database(config, workers)
    raise_file_limit(config.intake.max_connections)
    chosen_host = host or config.intake.host
    chosen_port = config.intake.port if port is None else port
    sock = bind_socket(chosen_host, chosen_port)
    if workers > 1:
        _serve_workers(config, sock, workers)
        return
    url = _url(chosen_host, int(sock.getsockname()[1]))

    def announce() -> None:
        print(f"afterword: intake listening on {url}", file=sys.stderr, flush=True)

    try:
        app = create_app(config)
        server = NotifyingServer(uvicorn_config(app, chosen_host, chosen_port, config), announce)
        server.run(sockets=[sock])
    except KeyboardInterrupt:  # uvicorn re-raises Ctrl-C after its graceful shutdown
        return
    finally:
        sock.close()
    if not server.started:
        raise AfterwordError(f"the intake could not start on {url}")


def raise_file_limit(connections: int) -> None:
    """Let each process hold ``connections`` sockets: raise the soft open-files limit.

    Below it, ``accept`` fails and clients wait unanswered in the backlog instead of getting
    the ``max_connections`` 503. Workers inherit the raised limit. A hard limit too low to
    reach is said once on stderr (``ulimit -Hn``, or the service's ``LimitNOFILE``).
    """
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = connections + FILES_BESIDES_CLIENTS
    if soft == resource.RLIM_INFINITY or soft >= wanted:
        return
    reachable = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    resource.setrlimit(resource.RLIMIT_NOFILE, (reachable, hard))
    if reachable < wanted:
        print(
            f"afterword: warning: open files are limited to {reachable}, too few for "
            f"intake.max_connections = {connections}; raise the hard limit (ulimit -Hn)",
            file=sys.stderr,
            flush=True,
        )


def _serve_workers(config: Config, sock: socket.socket, workers: int) -> None:
    """The parent of ``workers`` processes on ``sock``: start them, wait for a signal or a crash."""
    stopping = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stopping.set()

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    pool = WorkerPool(config, sock, workers, quiet=False)
    try:
        pool.start(WORKER_STARTUP_TIMEOUT_SECONDS)
        # One line once every worker listens: for operators, and a fact tests can wait for.
        print(f"afterword: {workers} intake workers listening", file=sys.stderr, flush=True)
        while not stopping.wait(0.5):
            crashed = pool.failed()
            if crashed is not None:
                raise AfterwordError(
                    f"intake worker {crashed.name} exited (code {crashed.exitcode}); stopping"
                )
    finally:
        pool.stop()
        sock.close()
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def bind_socket(host: str, port: int) -> socket.socket:
    """A bound TCP socket (uvicorn calls ``listen`` on it); ``port`` 0 picks a free one.

    A port that cannot be had is a ``ConfigError`` that says why and what to change.
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise listen_error(host, port, exc) from None
    return sock


def listen_error(host: str, port: int, exc: OSError) -> ConfigError:
    """One line for a failed bind: a taken port suggests ``--port``, the rest say why."""
    where = _url(host, port).removeprefix("http://")
    if exc.errno == errno.EADDRINUSE:
        return ConfigError(
            f"port {port} is already in use on {host}: stop what holds it, "
            "or choose another port with --port"
        )
    if exc.errno == errno.EACCES:
        return ConfigError(
            f"cannot listen on {where}: permission denied (ports below 1024 need privileges; "
            "choose another with --port)"
        )
    reason = exc.strerror or str(exc)
    return ConfigError(f"cannot listen on {where}: {reason} (check --host and --port)")


def _url(host: str, port: int) -> str:
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def check_database(config: Config, workers: int = 1) -> None:
    """Open (create, migrate) the database first, so a bad path is a one-line StorageError.

    Failing later, inside the ASGI lifespan, would make uvicorn print a traceback. Several
    workers also need the lock file beside it (``lockfile``). With an SQS queue there is no
    database here: the queue must answer instead (a one-line ``QueueError``).
    """
    if config.intake.queue != "sqlite":
        from afterword.intake.sqs_sink import check_queue  # boto3 only in SQS mode

        check_queue(config)
        return
    open_store(config.database_path, busy_timeout_ms=config.database.busy_timeout_ms).close()
    if workers > 1:
        WriteLock(lock_path_for(config.database_path)).close()


class BackgroundServer:
    """The intake on an ephemeral loopback port; ``url`` is where it listens.

    One worker runs in a thread of this process (``app`` is the running app); ``workers`` > 1
    runs that many processes instead, exactly as ``afterword serve --workers`` does (``app``
    is then only this process's unused copy).
    """

    def __init__(
        self, config: Config, host: str = "127.0.0.1", port: int = 0, workers: int = 1
    ) -> None:
        self.config = config
        self.workers = workers
        self._socket = bind_socket(host, port)
        self.host, self.port = host, int(self._socket.getsockname()[1])
        self.app = create_app(config)
        self._server = uvicorn.Server(
            uvicorn_config(self.app, host, self.port, config, log_config=None, log_level="warning")
        )
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [self._socket]}, daemon=True
        )
        self._pool = WorkerPool(config, self._socket, workers, quiet=True) if workers > 1 else None

    @property
    def worker_pids(self) -> list[int]:
        """Process ids of the worker processes (empty with one worker: it is this process)."""
        return self._pool.pids if self._pool is not None else []

    @property
    def url(self) -> str:
        return _url(self.host, self.port)

    def start(self) -> BackgroundServer:
        try:
            check_database(self.config, self.workers)
        except AfterwordError:
            self._socket.close()
            raise
        if self._pool is not None:
            try:
                self._pool.start(WORKER_STARTUP_TIMEOUT_SECONDS)
            finally:
                self._socket.close()  # the workers hold their own copies
            return self
        self._thread.start()
        deadline = time.monotonic() + STARTUP_TIMEOUT_SECONDS
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                raise AfterwordError(f"the intake did not start on {self.url}")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        """Stop accepting, finish open requests and queued commits, join the thread(s)."""
        if self._pool is not None:
            self._pool.stop()
        self._server.should_exit = True
        if self._thread.is_alive():
            self._thread.join(self.config.intake.shutdown_timeout_seconds + STARTUP_TIMEOUT_SECONDS)
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
