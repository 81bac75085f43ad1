"""Several intake processes (``--workers``): one port, one database, a write lock, no orphans
when the parent dies; and one write per response."""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from conftest import add_rendered
from fixtures_intake import UNLIMITED, RunningIntake, comment_fields

from afterword.config import Config
from afterword.errors import StorageError
from afterword.intake.lockfile import WriteLock, lock_path_for
from afterword.intake.transport import CoalescingTransport
from afterword.intake.workers import watch_lifeline
from afterword.privacy import hash_address
from afterword.store import Store, site_secret


def _post_many(intake: RunningIntake, count: int) -> list[httpx.Response]:
    """``count`` posts from four threads, a fresh connection each (so both workers accept)."""
    answers: list[httpx.Response] = []
    lock = threading.Lock()

    def poster(number: int) -> None:
        for n in range(count // 4):
            fields = comment_fields(body=f"worker test {number}-{n}", page=f"/p/{n % 3}/")
            response = httpx.post(intake.api, json=fields, timeout=30)
            with lock:
                answers.append(response)

    threads = [threading.Thread(target=poster, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    return answers


@pytest.mark.slow
def test_workers_share_one_port_and_one_database(
    start_intake: Callable[..., RunningIntake], store: Store
) -> None:
    intake = start_intake(limits=UNLIMITED, workers=2)
    pids = intake.server.worker_pids
    assert len(set(pids)) == 2
    assert os.getpid() not in pids
    answers = _post_many(intake, 80)
    assert [a.status_code for a in answers] == [202] * 80
    ids = {a.json()["data"]["id"] for a in answers}
    assert len(ids) == 80
    rows = store.query("SELECT id FROM comments")
    assert {int(r[0]) for r in rows} == ids
    assert lock_path_for(intake.config.database_path).is_file()
    versions = store.query("SELECT key, url FROM pages ORDER BY key")
    assert [tuple(r) for r in versions] == [
        (f"/p/{n}/", f"https://blog.example.com/p/{n}/") for n in range(3)
    ]


@pytest.mark.slow
def test_workers_stop_answers_and_commits_before_exiting(
    start_intake: Callable[..., RunningIntake], store: Store
) -> None:
    intake = start_intake(limits=UNLIMITED, workers=2)
    assert intake.post().status_code == 202
    intake.stop()
    assert store.scalar("SELECT count(*) FROM comments") == 1
    for pid in intake.server.worker_pids:
        assert not Path(f"/proc/{pid}").exists() or "Z" in _state(pid)
    with pytest.raises(httpx.ConnectError):
        httpx.post(intake.api, json=comment_fields(), timeout=2)


def _state(pid: int) -> str:
    return Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0]


SERVE = """
import sys
from afterword.config import load_config
from afterword.intake.server import serve
from afterword.errors import AfterwordError
try:
    serve(load_config(sys.argv[1]), "127.0.0.1", int(sys.argv[2]), workers=2)
except AfterwordError as exc:
    print(f"Error: {exc}", file=sys.stderr)
    sys.exit(exc.exit_code)
"""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _start_serve(config: Config) -> tuple[subprocess.Popen[str], str]:
    port = _free_port()
    process = subprocess.Popen(
        [sys.executable, "-c", SERVE, str(config.source), str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(url + "/healthz", timeout=2).status_code == 200:
                return process, url
        except httpx.TransportError:
            time.sleep(0.1)
    process.kill()
    raise AssertionError(f"serve --workers 2 did not start: {process.communicate()}")


def _children(pid: int) -> list[int]:
    found = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    return [int(child) for child in found]


@pytest.mark.slow
def test_serve_workers_sigterm_is_graceful(config: Config, store: Store) -> None:
    process, url = _start_serve(config)
    answer = httpx.post(url + "/api/comments", json=comment_fields(), timeout=10)
    assert answer.status_code == 202
    process.terminate()
    _, stderr = process.communicate(timeout=60)
    assert "Traceback" not in stderr
    assert store.scalar("SELECT count(*) FROM comments") == 1


@pytest.mark.slow
def test_serve_workers_stops_when_a_worker_dies(config: Config) -> None:
    process, _ = _start_serve(config)
    seen = _read_until(process, "2 intake workers listening")  # both started, not just one
    workers = [c for c in _children(process.pid) if "spawn_main" in _cmdline(c)]
    assert len(workers) == 2
    os.kill(workers[0], 9)
    _, rest = process.communicate(timeout=60)
    stderr = seen + rest
    assert process.returncode == 1
    assert "Error: intake worker afterword-intake-" in stderr
    assert "exited (code -9); stopping" in stderr


def _read_until(process: subprocess.Popen[str], marker: str) -> str:
    """Stderr lines up to and including the one holding ``marker``."""
    assert process.stderr is not None
    lines: list[str] = []
    for line in process.stderr:
        lines.append(line)
        if marker in line:
            return "".join(lines)
    raise AssertionError(f"no {marker!r} before stderr closed: {''.join(lines)}")


def _cmdline(pid: int) -> str:
    return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()


def test_write_lock_queues_the_second_holder(tmp_path: Path) -> None:
    path = tmp_path / "db.intake-lock"
    first, second = WriteLock(path), WriteLock(path)
    order: list[str] = []
    try:
        with first.held():
            waiter = threading.Thread(target=lambda: _hold(second, order))
            waiter.start()
            time.sleep(0.2)
            order.append("first releases")
        waiter.join(10)
    finally:
        first.close()
        second.close()
    assert order == ["first releases", "second holds"]
    assert oct(path.stat().st_mode & 0o777) == "0o600"


def _hold(lock: WriteLock, order: list[str]) -> None:
    with lock.held():
        order.append("second holds")


def test_write_lock_in_a_missing_folder_is_a_storage_error(tmp_path: Path) -> None:
    with pytest.raises(StorageError, match="cannot open the intake's lock file"):
        WriteLock(tmp_path / "missing" / "db.intake-lock")


def test_lock_path_sits_beside_the_database() -> None:
    assert lock_path_for(Path("/srv/c/comments.db")) == Path("/srv/c/comments.db.intake-lock")


class _Recorder(asyncio.Transport):
    """A transport that only records what reaches it."""

    def __init__(self) -> None:
        super().__init__()
        self.writes: list[bytes] = []
        self.closed = False
        self.aborted = False

    def write(self, data: bytes | bytearray | memoryview) -> None:
        self.writes.append(bytes(data))

    def is_closing(self) -> bool:
        return self.closed or self.aborted

    def close(self) -> None:
        self.closed = True

    def abort(self) -> None:
        self.aborted = True

    def get_extra_info(self, name: str, default: object = None) -> object:
        return {"peername": ("127.0.0.1", 9)}.get(name, default)

    def get_write_buffer_size(self) -> int:
        return 0


def test_coalescing_transport_sends_one_write_per_loop_turn() -> None:
    async def scenario() -> _Recorder:
        real = _Recorder()
        transport = CoalescingTransport(real, asyncio.get_running_loop())
        transport.write(b"HTTP/1.1 202\r\n\r\n")
        transport.write(memoryview(b"body"))
        assert real.writes == []
        assert transport.get_write_buffer_size() == len(b"HTTP/1.1 202\r\n\r\nbody")
        await asyncio.sleep(0)
        transport.write(b"next")
        await asyncio.sleep(0)
        assert transport.get_extra_info("peername") == ("127.0.0.1", 9)
        return real

    real = asyncio.run(scenario())
    assert real.writes == [b"HTTP/1.1 202\r\n\r\nbody", b"next"]


def test_coalescing_transport_close_flushes_and_abort_drops() -> None:
    async def scenario() -> tuple[_Recorder, _Recorder]:
        loop = asyncio.get_running_loop()
        closed, aborted = _Recorder(), _Recorder()
        first, second = CoalescingTransport(closed, loop), CoalescingTransport(aborted, loop)
        first.write(b"last words")
        first.close()
        second.write(b"never sent")
        second.abort()
        await asyncio.sleep(0)
        assert first.is_closing()
        assert second.is_closing()
        return closed, aborted

    closed, aborted = asyncio.run(scenario())
    assert (closed.writes, closed.closed) == ([b"last words"], True)
    assert (aborted.writes, aborted.aborted) == ([], True)


def test_workers_without_a_usable_lock_file_do_not_start(config: Config) -> None:
    from afterword.intake.server import BackgroundServer

    lock_path_for(config.database_path).mkdir(parents=True)  # the lock file cannot be opened
    server = BackgroundServer(config, workers=2)
    with pytest.raises(StorageError, match="cannot open the intake's lock file"):
        server.start()
    assert server.worker_pids == []


@pytest.mark.slow
def test_worker_pool_that_cannot_start_is_an_error(config: Config) -> None:
    from afterword.errors import AfterwordError
    from afterword.intake.server import bind_socket
    from afterword.intake.workers import WorkerPool

    lock_path_for(config.database_path).mkdir(parents=True)  # each worker's writer fails
    sock = bind_socket("127.0.0.1", 0)
    pool = WorkerPool(config, sock, 2, quiet=True)
    try:
        with pytest.raises(AfterwordError, match="intake worker afterword-intake-1 did not start"):
            pool.start(timeout=60)
    finally:
        sock.close()
    assert pool.failed() is not None
    assert all(not Path(f"/proc/{pid}").exists() or _state(pid) == "Z" for pid in pool.pids)


def _alive(pid: int) -> bool:
    """Running, as opposed to gone or a zombie nobody has reaped yet."""
    try:
        return _state(pid) != "Z"
    except FileNotFoundError:
        return False


@pytest.mark.slow
def test_serve_workers_die_with_a_killed_parent_and_the_port_is_free_again(
    config: Config,
) -> None:
    """SIGKILL runs no cleanup in the parent: the workers must notice and go, and a new
    ``afterword serve`` on the same port must bind and answer."""
    port = _free_port()
    command = [sys.executable, "-m", "afterword", "--config", str(config.source), "serve"]
    parent = subprocess.Popen(
        [*command, "--port", str(port), "--workers", "2"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        _read_until(parent, "2 intake workers listening")
        workers = [c for c in _children(parent.pid) if "spawn_main" in _cmdline(c)]
        assert len(workers) == 2
        os.kill(parent.pid, signal.SIGKILL)
        parent.wait(10)
        deadline = time.monotonic() + 10
        while any(_alive(pid) for pid in workers) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not any(_alive(pid) for pid in workers), "workers outlived their parent"
    finally:
        if parent.poll() is None:
            parent.kill()
        parent.communicate(timeout=30)
    restarted = subprocess.Popen(
        [*command, "--port", str(port)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        _read_until(restarted, "intake listening on")
        answer = httpx.post(f"http://127.0.0.1:{port}/api/comments", json=comment_fields())
        assert answer.status_code == 202
    finally:
        restarted.terminate()
        restarted.communicate(timeout=30)


def test_lifeline_eof_means_the_parent_is_gone() -> None:
    """The portable way (beside Linux's PR_SET_PDEATHSIG): EOF on the parent's pipe."""
    reader, writer = multiprocessing.get_context("spawn").Pipe(duplex=False)
    gone = threading.Event()
    try:
        watch_lifeline(reader, gone.set)
        assert not gone.wait(0.3)  # the parent still holds the writing end
        writer.close()  # what the kernel does when the parent dies, however it dies
        assert gone.wait(10)
    finally:
        reader.close()


@pytest.mark.slow
def test_a_burst_across_two_workers_gets_exactly_per_minute_accepted(
    start_intake: Callable[..., RunningIntake], store: Store
) -> None:
    intake = start_intake(workers=2)  # default limits: 5 per minute
    per_minute = intake.config.limits.per_minute
    answers: list[httpx.Response] = []
    lock = threading.Lock()

    def poster(number: int) -> None:
        for n in range(10):  # a fresh connection each, so both workers take a share
            fields = comment_fields(body=f"burst {number}-{n}")
            response = httpx.post(intake.api, json=fields, timeout=30)
            with lock:
                answers.append(response)

    threads = [threading.Thread(target=poster, args=(n,)) for n in range(5)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)

    statuses = sorted(a.status_code for a in answers)
    assert statuses == [202] * per_minute + [429] * (50 - per_minute)
    assert all(int(a.headers["Retry-After"]) >= 1 for a in answers if a.status_code == 429)
    assert store.scalar("SELECT count(*) FROM comments") == per_minute


def test_submissions_another_process_stored_count_against_this_ones_limit(
    start_intake: Callable[..., RunningIntake], store: Store
) -> None:
    """The limit is read from the shared database, not from this process's memory."""
    intake = start_intake()
    per_minute = intake.config.limits.per_minute
    ip_hash = hash_address(site_secret(store), "127.0.0.1")
    for n in range(per_minute):  # as if another worker or intake machine had taken them
        add_rendered(store, f"elsewhere {n}", page_key="/blog/hello/", ip_hash=ip_hash)

    refused = intake.post(body="the first this process sees")

    assert refused.status_code == 429, refused.text
    assert refused.json()["error"]["code"] == "rate_limited"
    assert 1 <= int(refused.headers["Retry-After"]) <= 60
    other = intake.post(body="someone else", headers={"X-Forwarded-For": "198.51.100.4"})
    assert other.status_code == 429  # no trusted proxy: the header changes nothing
