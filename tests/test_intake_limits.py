"""What the intake's connections may cost: header size, slow clients, idle and too many
connections — over raw loopback sockets, against the real server (``BackgroundServer``, or
``afterword serve`` as a subprocess where memory or signals are measured)."""

from __future__ import annotations

import asyncio
import json
import os
import resource
import select
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import httpx
import pytest
import uvicorn
from conftest import require
from fixtures_intake import UNLIMITED, RunningIntake, comment_fields
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from uvicorn.server import ServerState

from afterword.config import Config
from afterword.intake.protocol import UVICORN_METHODS, RequestLimits, guarded_protocol

TIMEOUT = 10.0


def _connect(intake: RunningIntake) -> socket.socket:
    return socket.create_connection((intake.server.host, intake.server.port), timeout=TIMEOUT)


def _read_all(sock: socket.socket) -> bytes:
    """Everything the server sends until it closes the connection (bounded by TIMEOUT)."""
    chunks: list[bytes] = []
    deadline = time.monotonic() + TIMEOUT
    while time.monotonic() < deadline:
        try:
            chunk = sock.recv(65536)
        except ConnectionResetError:
            break
        if not chunk:
            break
        chunks.append(chunk)
    return b"".join(chunks)


def _status(answer: bytes) -> int:
    return int(answer.split(b" ", 2)[1])


def _error(answer: bytes) -> dict[str, object]:
    head, _, body = answer.partition(b"\r\n\r\n")
    assert b"content-type: application/json" in head.lower()
    assert b"connection: close" in head.lower()
    error: dict[str, object] = json.loads(body)["error"]
    assert set(error) == {"code", "message", "fields"}
    return error


def _post_bytes(body: bytes, extra: bytes = b"") -> bytes:
    return (
        b"POST /api/comments HTTP/1.1\r\nHost: intake\r\nContent-Type: application/json\r\n"
        + extra
        + b"Content-Length: "
        + str(len(body)).encode()
        + b"\r\n\r\n"
        + body
    )


@pytest.fixture
def limited(start_intake: Callable[..., RunningIntake]) -> RunningIntake:
    """Small limits, so that each can be crossed quickly."""
    return start_intake(
        limits=UNLIMITED,
        intake={
            "header_max_bytes": 4096,
            "header_timeout_seconds": 1.0,
            "body_timeout_seconds": 1.0,
            "keep_alive_seconds": 1,
        },
    )


@pytest.mark.parametrize(
    "request_head",
    [
        b"GET /healthz HTTP/1.1\r\nHost: intake\r\nX-Big: " + b"a" * 5000 + b"\r\n\r\n",
        b"GET /healthz HTTP/1.1\r\nHost: intake\r\n"
        + b"".join(b"X-H%d: v\r\n" % n for n in range(600))
        + b"\r\n",
        b"GET /healthz?" + b"q" * 5000 + b" HTTP/1.1\r\nHost: intake\r\n\r\n",
        b"GET /healthz HTTP/1.1\r\nHost: intake\r\nX-Unfinished: " + b"a" * 5000,
    ],
    ids=["one-long-header", "many-small-headers", "long-url", "never-ending-header"],
)
def test_headers_over_the_cap_get_431_and_the_connection_closes(
    limited: RunningIntake, request_head: bytes
) -> None:
    with _connect(limited) as sock:
        sock.sendall(request_head)
        answer = _read_all(sock)
    assert _status(answer) == 431
    error = _error(answer)
    assert error["code"] == "headers_too_large"
    assert "4096 bytes" in str(error["message"])
    assert httpx.get(limited.url + "/healthz", timeout=TIMEOUT).status_code == 200


def test_headers_under_the_cap_and_a_large_body_in_one_write_are_served(
    limited: RunningIntake,
) -> None:
    """Only header bytes count: a 60 KB body sent with the headers is not a 431."""
    body = json.dumps(comment_fields(body="x" * 9000, website="https://a.example/" + "p" * 50))
    padding = b"X-Pad: " + b"p" * 3000 + b"\r\n"  # headers near, but under, the cap
    big = json.dumps({**json.loads(body), "ignored": "y" * 50000}).encode()
    with _connect(limited) as sock:
        sock.sendall(_post_bytes(big, extra=padding + b"Connection: close\r\n"))
        answer = _read_all(sock)
    assert _status(answer) == 202, answer[:300]


def test_pipelined_requests_each_get_their_own_header_allowance(limited: RunningIntake) -> None:
    one = b"GET /healthz HTTP/1.1\r\nHost: intake\r\nX-Pad: " + b"p" * 3000 + b"\r\n\r\n"
    last = one.replace(b"Host: intake\r\n", b"Host: intake\r\nConnection: close\r\n")
    with _connect(limited) as sock:
        sock.sendall(one + one + last)
        answer = _read_all(sock)
    assert answer.count(b"HTTP/1.1 200 OK") == 3


def _trickle(sock: socket.socket, piece: bytes, every: float) -> float:
    """Send ``piece`` every ``every`` seconds until the server answers or closes; seconds."""
    started = time.monotonic()
    while time.monotonic() - started < TIMEOUT:
        try:
            sock.sendall(piece)
        except OSError:
            break
        readable, _, _ = select.select([sock], [], [], every)
        if readable:
            break
    return time.monotonic() - started


def test_slowloris_headers_get_408_after_the_header_timeout(limited: RunningIntake) -> None:
    """One header byte every 0.2 s keeps the connection busy, but not past the deadline."""
    with _connect(limited) as sock:
        sock.sendall(b"POST /api/comments HTTP/1.1\r\nHost: intake\r\n")
        elapsed = _trickle(sock, b"X", 0.2)
        answer = _read_all(sock)
    assert 0.8 <= elapsed <= 4.0
    assert _status(answer) == 408
    error = _error(answer)
    assert error["code"] == "request_timeout"
    assert "headers took longer than 1 s" in str(error["message"])


def test_a_body_that_never_ends_gets_408_after_the_body_timeout(limited: RunningIntake) -> None:
    body = json.dumps(comment_fields()).encode()
    with _connect(limited) as sock:
        sock.sendall(_post_bytes(body)[: -len(body) // 2])
        started = time.monotonic()
        answer = _read_all(sock)
        elapsed = time.monotonic() - started
    assert 0.8 <= elapsed <= 4.0
    assert _status(answer) == 408
    assert "body took longer than 1 s" in str(_error(answer)["message"])
    assert limited.post().status_code == 202  # the intake is unharmed


@pytest.mark.parametrize("first_request", [False, True], ids=["fresh", "after-a-response"])
def test_idle_connections_are_closed_after_keep_alive_seconds(
    limited: RunningIntake, first_request: bool
) -> None:
    with _connect(limited) as sock:
        if first_request:
            sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: intake\r\n\r\n")
            assert sock.recv(65536).startswith(b"HTTP/1.1 200")
        started = time.monotonic()
        rest = _read_all(sock)
        elapsed = time.monotonic() - started
    assert rest == b""  # closed without a word: nothing was asked
    assert 0.8 <= elapsed <= 4.0


def test_a_slow_but_steady_request_within_the_deadlines_is_served(
    limited: RunningIntake,
) -> None:
    """Slow is not refused: headers in 0.5 s, then the body in 0.5 s, is answered."""
    request = _post_bytes(json.dumps(comment_fields()).encode(), b"Connection: close\r\n")
    head, _, body = request.partition(b"\r\n\r\n")
    with _connect(limited) as sock:
        for piece in (head[:20], head[20:], b"\r\n\r\n", body[:10]):
            sock.sendall(piece)
            time.sleep(0.25)
        sock.sendall(body[10:])
        answer = _read_all(sock)
    assert _status(answer) == 202


@contextmanager
def _held_connections(
    intake: RunningIntake, count: int, partial: bytes
) -> Iterator[list[socket.socket]]:
    with ExitStack() as stack:
        held = [stack.enter_context(_connect(intake)) for _ in range(count)]
        for sock in held:
            if partial:
                sock.sendall(partial)
        yield held


@pytest.mark.slow
def test_200_slowloris_connections_do_not_stop_a_normal_post(
    start_intake: Callable[..., RunningIntake],
) -> None:
    intake = start_intake(limits=UNLIMITED)  # default limits: 1000 connections, 10 s headers
    partial = b"POST /api/comments HTTP/1.1\r\nHost: intake\r\nX-Slow: "
    with _held_connections(intake, 200, partial) as held:
        started = time.monotonic()
        for sock in held[:50]:
            sock.sendall(b"z")  # still alive, still trickling
        answer = intake.post()
        elapsed = time.monotonic() - started
    assert answer.status_code == 202
    assert elapsed < 5.0


def test_connections_over_max_connections_get_503(
    start_intake: Callable[..., RunningIntake],
) -> None:
    """uvicorn's ``limit_concurrency``: a request on the connection that reaches the cap is
    answered 503 at once and closed; once connections go away, posts are served again."""
    intake = start_intake(limits=UNLIMITED, intake={"max_connections": 5})
    with _held_connections(intake, 5, b"") as held:
        # connect() returns before the server has accepted: poll until it counts all five.
        refused = _poll_status(intake, lambda code: code == 503)
        held[-1].sendall(b"GET /healthz HTTP/1.1\r\nHost: intake\r\n\r\n")
        answer = _read_all(held[-1])
    assert refused.status_code == 503
    assert refused.headers["connection"] == "close"
    assert _status(answer) == 503
    assert b"connection: close" in answer.lower()
    assert _poll_status(intake, lambda code: code != 503).status_code == 202


def _poll_status(intake: RunningIntake, done: Callable[[int], bool]) -> httpx.Response:
    """Post until ``done(status)``; the server sees connections come and go a turn later."""
    deadline = time.monotonic() + TIMEOUT
    while True:
        answer = intake.post(body=f"poll {time.monotonic()}")
        if done(answer.status_code) or time.monotonic() > deadline:
            return answer
        time.sleep(0.05)


def test_protocol_still_finds_the_uvicorn_internals_it_builds_on() -> None:
    """Fails loudly when a uvicorn release renames what ``intake.protocol`` overrides/uses."""
    for name in UVICORN_METHODS:
        assert callable(getattr(HttpToolsProtocol, name, None)), name

    async def app(scope: object, receive: object, send: object) -> None:
        raise AssertionError("not called")

    protocol_class = guarded_protocol(RequestLimits(1024, 1.0, 1.0))
    config = uvicorn.Config(app, http=protocol_class, lifespan="off", loop="none")
    loop = asyncio.new_event_loop()
    try:
        protocol = protocol_class(config, ServerState(), {}, _loop=loop)
        for attribute in ("loop", "transport", "cycle", "pipeline", "timeout_keep_alive"):
            assert hasattr(protocol, attribute), attribute
        assert protocol.timeout_keep_alive_task is None
    finally:
        loop.close()


# --- the process: memory under huge headers, shutdown with a slow client -------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def _serve(
    config: Config, env: dict[str, str], *args: str
) -> Iterator[tuple[subprocess.Popen[str], int]]:
    port = _free_port()
    command = [sys.executable, "-m", "afterword", "--config", str(config.source), "serve"]
    process = subprocess.Popen(
        [*command, "--port", str(port), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, **env},
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            assert process.poll() is None, process.communicate()
            try:
                if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                assert time.monotonic() < deadline, "serve did not start"
                time.sleep(0.1)
        yield process, port
    finally:
        if process.poll() is None:
            process.kill()
        process.communicate(timeout=30)


def _rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


def _send_huge_header(port: int, size: int) -> bytes:
    """Try to send one header of ``size`` bytes; return what the server answered."""
    with socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT) as sock:
        try:
            sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: intake\r\nX-Huge: ")
            chunk = b"h" * 65536
            for _ in range(size // len(chunk)):
                sock.sendall(chunk)
        except OSError:
            pass  # the server stopped reading and closed: what we want
        return _read_all(sock)


@pytest.mark.slow
def test_eight_huge_headers_do_not_grow_the_server_memory(config: Config) -> None:
    with _serve(config, {}) as (process, port):
        before = _rss_kib(process.pid)
        answers: list[bytes] = []
        threads = [
            threading.Thread(target=lambda: answers.append(_send_huge_header(port, 8 << 20)))
            for _ in range(8)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        grown = _rss_kib(process.pid) - before
    assert len(answers) == 8
    assert all(a.startswith(b"HTTP/1.1 431") or a == b"" for a in answers)
    assert any(a.startswith(b"HTTP/1.1 431") for a in answers)
    assert grown < 16 * 1024, f"RSS grew by {grown} KiB for 64 MB of headers"


@pytest.mark.slow
def test_sigterm_with_a_slow_client_exits_within_the_shutdown_timeout(config: Config) -> None:
    """A body that never ends holds the graceful shutdown at most ``shutdown_timeout_seconds``:
    the client is told 503 (retry elsewhere) a little before, and the process exits."""
    env = {
        "AFTERWORD_INTAKE_SHUTDOWN_TIMEOUT_SECONDS": "2",
        "AFTERWORD_INTAKE_BODY_TIMEOUT_SECONDS": "600",  # only the shutdown timeout may end it
    }
    with _serve(config, env) as (process, port):
        body = json.dumps(comment_fields()).encode()
        with socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT) as slow:
            slow.sendall(_post_bytes(body)[:-10])  # the request stays open, waiting for 10 bytes
            time.sleep(0.5)
            started = time.monotonic()
            process.send_signal(signal.SIGTERM)
            answer = _read_all(slow)
            process.wait(timeout=2 + 8)
            elapsed = time.monotonic() - started
        _, stderr = process.communicate(timeout=10)
    assert process.returncode == -signal.SIGTERM
    assert 0.8 <= elapsed <= 2 + 5, elapsed
    assert _status(answer) == 503
    assert b"retry-after: 5" in answer
    assert _error(answer)["code"] == "unavailable"
    assert "timeout graceful shutdown exceeded" not in stderr  # nothing had to be cancelled


LOW_FILE_LIMIT = """
import os, resource, sys
resource.setrlimit(resource.RLIMIT_NOFILE, (int(sys.argv[1]), int(sys.argv[2])))
os.execv(sys.executable, [sys.executable, "-m", "afterword", *sys.argv[3:]])
"""


def _open_files_limit(pid: int) -> tuple[int, int]:
    for line in Path(f"/proc/{pid}/limits").read_text().splitlines():
        if line.startswith("Max open files"):
            soft, hard = line.split()[3:5]
            return int(soft), int(hard)
    raise AssertionError("no open files limit")


@pytest.mark.parametrize(("hard", "expected"), [(4096, 564), (300, 300)])
def test_serve_raises_its_open_files_limit_for_max_connections(
    config: Config, hard: int, expected: int
) -> None:
    """500 connections need more than a soft limit of 200: serve raises it (to the hard limit
    at most, and then says the setting cannot be reached)."""
    port = _free_port()
    _, current_hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    require(
        current_hard == resource.RLIM_INFINITY or current_hard >= hard,
        f"an open-files hard limit of {hard} (this machine's is {current_hard})",
    )
    args = ["--config", str(config.source), "serve", "--port", str(port)]
    process = subprocess.Popen(
        [sys.executable, "-c", LOW_FILE_LIMIT, "200", str(hard), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "AFTERWORD_INTAKE_MAX_CONNECTIONS": "500"},
    )
    try:
        assert process.stderr is not None
        lines = []
        for line in process.stderr:
            lines.append(line)
            if "intake listening on" in line:
                break
        assert _open_files_limit(process.pid) == (expected, hard)
    finally:
        process.terminate()
        process.communicate(timeout=30)
    warned = any("open files are limited to 300" in line for line in lines)
    assert warned == (expected < 564), lines
