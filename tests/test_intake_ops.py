"""What operators see: /healthz, /metrics, X-Response-Time, and the envelope for a bug."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from fixtures_intake import RunningIntake, configured
from starlette.types import Message, Receive, Scope, Send

from afterword.config import Config
from afterword.errors import StorageError
from afterword.intake.answers import STORAGE_MESSAGE, internal_error
from afterword.intake.metrics import IntakeMetrics, TimingMiddleware
from afterword.intake.server import BackgroundServer


def _get(intake: RunningIntake, path: str) -> httpx.Response:
    return httpx.get(intake.url + path, timeout=10)


def test_healthz_ok_reports_queue_depth(intake_server: RunningIntake) -> None:
    intake_server.post()
    response = _get(intake_server, "/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "queue_depth": 1, "backlog": 0}
    assert response.headers["cache-control"] == "no-store"


def _remove_database(path: Path) -> None:
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)


def _corrupt_database(path: Path) -> None:
    _remove_database(path)
    path.write_bytes(b"this is not sqlite" * 1000)


@pytest.mark.parametrize(
    ("damage", "reason"), [(_remove_database, "storage"), (_corrupt_database, "corrupt")]
)
def test_healthz_fails_when_database_is_gone(
    intake_server: RunningIntake, damage: Callable[[Path], None], reason: str
) -> None:
    damage(intake_server.config.database_path)
    response = _get(intake_server, "/healthz")
    assert response.status_code == 503
    assert response.json()["error"] == {
        "code": "unavailable",
        "message": STORAGE_MESSAGE,
        "fields": {},
        "reason": reason,
    }
    assert str(intake_server.config.database_path) not in response.text


def test_healthz_fails_when_database_cannot_be_locked_for_writing(
    intake_server: RunningIntake,
) -> None:
    """Another process holding the write lock past the probe's timeout stalls the intake."""
    blocker = sqlite3.connect(intake_server.config.database_path, isolation_level=None)
    try:
        blocker.execute("BEGIN EXCLUSIVE")
        response = _get(intake_server, "/healthz")
        assert response.status_code == 503
        assert response.json()["error"]["message"] == STORAGE_MESSAGE
        assert response.json()["error"]["reason"] == "busy"
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
    _wait_for_health(intake_server, 200)


def test_healthz_outcome_is_cached_for_a_second(intake_server: RunningIntake) -> None:
    """While the database is locked a probe waits a second for the lock; the checks right
    after it share its outcome instead of each waiting again."""
    blocker = sqlite3.connect(intake_server.config.database_path, isolation_level=None)
    try:
        blocker.execute("BEGIN EXCLUSIVE")
        started = time.monotonic()
        assert _get(intake_server, "/healthz").status_code == 503
        probed = time.monotonic() - started
        assert probed >= 0.9  # the probe's lock timeout
        started = time.monotonic()
        answers = [_get(intake_server, "/healthz").status_code for _ in range(3)]
        assert time.monotonic() - started < probed
        assert answers == [503] * 3
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
    _wait_for_health(intake_server, 200)


def _wait_for_health(intake: RunningIntake, status: int, timeout: float = 10) -> httpx.Response:
    """Poll /healthz until it answers ``status`` (its outcome is cached for a second)."""
    deadline = time.monotonic() + timeout
    while True:
        response = _get(intake, "/healthz")
        if response.status_code == status or time.monotonic() > deadline:
            assert response.status_code == status, response.text
            return response
        time.sleep(0.1)


def test_healthz_fails_when_the_writer_stopped(
    start_intake: Callable[..., RunningIntake],
) -> None:
    intake = start_intake()
    app_intake = intake.server.app.state.intake
    app_intake.writer.stop()
    assert _get(intake, "/healthz").status_code == 503
    refused = intake.post()
    assert (refused.status_code, refused.json()["error"]["code"]) == (503, "unavailable")


def test_metrics_exposes_requests_outcomes_and_queue(intake_server: RunningIntake) -> None:
    intake_server.post()
    intake_server.post(body="")
    _get(intake_server, "/nowhere")
    text = intake_server.server_metrics()
    assert 'afterword_submissions_total{outcome="accepted"} 1.0' in text
    assert 'afterword_submissions_total{outcome="invalid"} 1.0' in text
    assert "afterword_queue_depth 1.0" in text
    assert "afterword_writer_backlog 0.0" in text
    assert "afterword_writer_batch_size_count 1.0" in text
    assert (
        'afterword_http_request_duration_seconds_count{method="POST",route="/api/comments",'
        'status="202"} 1.0'
    ) in text
    assert 'route="other",status="404"' in text
    assert "/nowhere" not in text


def test_metrics_registries_are_per_app(start_intake: Callable[..., RunningIntake]) -> None:
    first, second = start_intake(), start_intake()
    first.post()
    assert 'outcome="accepted"} 1.0' in first.server_metrics()
    assert 'outcome="accepted"} 0.0' in second.server_metrics()


def test_metrics_queue_depth_is_nan_without_database(intake_server: RunningIntake) -> None:
    _remove_database(intake_server.config.database_path)
    assert "afterword_queue_depth NaN" in intake_server.server_metrics()


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("GET", "/healthz", 200),
        ("GET", "/metrics", 200),
        ("GET", "/missing", 404),
        ("PUT", "/api/comments", 405),
        ("OPTIONS", "/api/comments", 204),
        ("POST", "/api/comments", 415),
    ],
)
def test_every_response_has_x_response_time(
    intake_server: RunningIntake, method: str, path: str, status: int
) -> None:
    response = httpx.request(method, intake_server.url + path, timeout=10)
    assert response.status_code == status
    milliseconds = response.headers["x-response-time"]
    assert milliseconds.endswith("ms")
    assert 0 < float(milliseconds[:-2]) < 10_000


def test_timing_middleware_answers_a_bug_with_the_envelope() -> None:
    async def broken(scope: Scope, receive: Receive, send: Send) -> None:
        raise RuntimeError("a bug")

    metrics = IntakeMetrics()
    middleware = TimingMiddleware(broken, metrics, internal_error)
    sent: list[Message] = []

    async def receive() -> Message:
        return {"type": "http.request", "body": b""}

    async def send(message: Message) -> None:
        sent.append(message)

    scope: Scope = {"type": "http", "path": "/healthz", "method": "GET", "headers": []}
    with pytest.raises(RuntimeError, match="a bug"):
        asyncio.run(middleware(scope, receive, send))
    assert sent[0]["status"] == 500
    assert any(name == b"x-response-time" for name, _ in sent[0]["headers"])
    assert b'"code":"internal"' in sent[1]["body"]
    text = metrics.render(lambda: 0, 0).decode()
    assert 'route="/healthz",status="500"' in text


def test_locked_database_fails_the_batch_then_recovers(
    start_intake: Callable[..., RunningIntake],
) -> None:
    """A 503 is not an accepted submission: with 1/minute the retry still gets through."""
    intake = start_intake(
        database={"busy_timeout_ms": 200}, limits={"per_minute": 1, "per_hour": 0}
    )
    blocker = sqlite3.connect(intake.config.database_path, isolation_level=None)
    try:
        blocker.execute("BEGIN EXCLUSIVE")
        refused = intake.post()
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
    assert (refused.status_code, refused.json()["error"]["code"]) == (503, "unavailable")
    assert refused.json()["error"]["message"] == STORAGE_MESSAGE
    assert refused.json()["error"]["reason"] == "busy"
    assert intake.post().status_code == 202
    assert intake.post(body="one too many").status_code == 429


def test_background_server_unusable_database_is_a_clear_error(config: Config) -> None:
    broken = configured(config, database={"path": "/proc/afterword/afterword.db"})
    with pytest.raises(StorageError, match="cannot open database"):
        BackgroundServer(broken).start()
