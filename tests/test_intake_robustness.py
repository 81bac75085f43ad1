"""Hostile or unlucky requests never crash the intake, hang it, or leak its file paths.

Each test here pins a defect a review found: a honeypot value that is not a plain string, JSON
nested deeper than the parser's recursion limit, a batch failing before its transaction,
storage errors whose text named the database file, and a client hanging up mid-body (once a 500
with a traceback per request: free log flooding).
"""

from __future__ import annotations

import logging
import socket
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from fixtures_intake import UNLIMITED, RunningIntake, comment_fields

import afterword.intake.writer as writer_module
from afterword.intake.answers import STORAGE_MESSAGE
from afterword.store import Store

SITE = "https://blog.example.com"
PROMPT = 5.0  # seconds: a hanging request fails the test instead of the whole run


@pytest.fixture
def intake(start_intake: Callable[..., RunningIntake]) -> RunningIntake:
    return start_intake(limits=UNLIMITED)


def _status_of(store: Store, comment_id: int) -> str:
    row = store.query("SELECT status FROM comments WHERE id = ?", (comment_id,))[0]
    return str(row["status"])


@pytest.mark.parametrize("phone", [1, 0, True, "a\u0000", ["x"], [], {"n": 1}, "\u0000"])
def test_honeypot_any_non_string_or_odd_value_is_spam(
    intake: RunningIntake, store: Store, phone: Any
) -> None:
    response = intake.post(aw_x9k=phone, body=f"bot {phone!r}")
    assert response.status_code == 202
    data = response.json()["data"]
    assert data["status"] == "pending"
    assert _status_of(store, data["id"]) == "spam"


def test_honeypot_form_post_with_nul_redirects_like_success(
    intake: RunningIntake, store: Store
) -> None:
    fields = comment_fields(redirect=f"{SITE}/blog/hello/")
    content = str(httpx.QueryParams(fields)) + "&aw_x9k=%00"
    response = httpx.post(
        intake.api,
        content=content.encode(),
        headers={"content-type": "application/x-www-form-urlencoded"},
        timeout=PROMPT,
    )
    assert response.status_code == 303
    assert response.headers["location"] == f"{SITE}/blog/hello/#afterword-pending"
    assert store.scalar("SELECT status FROM comments") == "spam"


@pytest.mark.parametrize("depth", [1_000, 30_000])
def test_deeply_nested_json_is_malformed_not_a_crash(intake: RunningIntake, depth: int) -> None:
    response = httpx.post(
        intake.api,
        content=b"[" * depth + b"]" * depth,
        headers={"content-type": "application/json"},
        timeout=PROMPT,
    )
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "malformed"
    assert intake.post().status_code == 202


class _FailOnce:
    """Stands in for a function of the writer's batch: raises once, then behaves."""

    def __init__(self, real: Callable[..., Any], error: Exception) -> None:
        self.real, self.error, self.calls = real, error, 0

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        self.calls += 1
        if self.calls == 1:
            raise self.error
        return self.real(*args, **kwargs)


@pytest.fixture
def fail_once(monkeypatch: pytest.MonkeyPatch) -> Callable[[str, Exception], None]:
    def install(name: str, error: Exception) -> None:
        monkeypatch.setattr(writer_module, name, _FailOnce(getattr(writer_module, name), error))

    return install


@pytest.mark.parametrize(
    ("name", "error", "status", "code"),
    [
        ("Cutoffs", OverflowError("date value out of range"), 500, "internal"),
        ("utc_now", RuntimeError("clock broke"), 500, "internal"),
        ("apply_batch", sqlite3.OperationalError("disk I/O error"), 503, "unavailable"),
    ],
)
def test_writer_batch_failure_answers_promptly_and_thread_survives(
    intake: RunningIntake,
    store: Store,
    fail_once: Callable[[str, Exception], None],
    name: str,
    error: Exception,
    status: int,
    code: str,
) -> None:
    fail_once(name, error)
    started = time.monotonic()
    failed = httpx.post(intake.api, json=comment_fields(body="first"), timeout=PROMPT)
    assert time.monotonic() - started < PROMPT
    assert (failed.status_code, failed.json()["error"]["code"]) == (status, code)
    assert str(error) not in failed.text
    after = httpx.post(intake.api, json=comment_fields(body="second"), timeout=PROMPT)
    assert after.status_code == 202
    assert store.scalar("SELECT count(*) FROM comments") == 1
    assert httpx.get(intake.url + "/healthz", timeout=PROMPT).status_code == 200


def test_writer_huge_close_after_days_fails_requests_not_the_writer(
    start_intake: Callable[..., RunningIntake],
) -> None:
    intake = start_intake(limits=UNLIMITED, build={"close_after_days": 10**9})
    for body in ("one", "two"):
        response = httpx.post(intake.api, json=comment_fields(body=body), timeout=PROMPT)
        assert (response.status_code, response.json()["error"]["code"]) == (500, "internal")
    assert httpx.get(intake.url + "/healthz", timeout=PROMPT).status_code == 200


def _remove_database(path: Path) -> None:
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)


def _assert_private(response: httpx.Response, database: Path) -> None:
    assert response.status_code == 503
    assert response.headers["retry-after"] == "5"
    error = response.json()["error"]
    assert (error["code"], error["message"]) == ("unavailable", STORAGE_MESSAGE)
    assert str(database) not in response.text
    assert database.name not in response.text
    assert str(database.parent) not in response.text


def test_storage_failure_answers_hide_the_database_path(
    start_intake: Callable[..., RunningIntake], caplog: pytest.LogCaptureFixture
) -> None:
    intake = start_intake(limits=UNLIMITED, database={"busy_timeout_ms": 200})
    database = intake.config.database_path
    blocker = sqlite3.connect(database, isolation_level=None)
    caplog.set_level(logging.WARNING, logger="afterword.intake")
    try:
        blocker.execute("BEGIN EXCLUSIVE")
        _assert_private(intake.post(), database)
        _assert_private(httpx.get(intake.url + "/healthz", timeout=PROMPT), database)
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
    logged = [r.getMessage() for r in caplog.records if r.name == "afterword.intake"]
    assert any("locked" in message for message in logged)
    assert intake.post().status_code == 202


def test_storage_failure_with_database_removed_hides_the_path(
    intake: RunningIntake, caplog: pytest.LogCaptureFixture
) -> None:
    database = intake.config.database_path
    _remove_database(database)
    caplog.set_level(logging.WARNING, logger="afterword.intake")
    _assert_private(httpx.get(intake.url + "/healthz", timeout=PROMPT), database)
    logged = [r.getMessage() for r in caplog.records if r.name == "afterword.intake"]
    assert any(str(database) in message for message in logged)


def test_storage_failure_form_post_redirect_hides_the_path(
    start_intake: Callable[..., RunningIntake],
) -> None:
    intake = start_intake(limits=UNLIMITED, database={"busy_timeout_ms": 200})
    database = intake.config.database_path
    blocker = sqlite3.connect(database, isolation_level=None)
    try:
        blocker.execute("BEGIN EXCLUSIVE")
        fields = comment_fields(redirect=f"{SITE}/blog/hello/")
        response = httpx.post(intake.api, data=fields, timeout=PROMPT)
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
    assert response.status_code == 303
    assert response.headers["location"] == (
        f"{SITE}/blog/hello/?afterword_error=unavailable#afterword-error"
    )
    assert response.headers["retry-after"] == "5"
    assert str(database) not in response.text


def _hang_up_mid_body(intake: RunningIntake, declared: int, sent: bytes) -> None:
    """Send a POST whose Content-Length promises more than is sent, then close the socket."""
    head = (
        f"POST /api/comments HTTP/1.1\r\nHost: {intake.server.host}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {declared}\r\n\r\n"
    ).encode()
    with socket.create_connection((intake.server.host, intake.server.port), timeout=PROMPT) as s:
        s.sendall(head + sent)
        time.sleep(0.05)  # let the server start reading the body before we go


def _metric(text: str, prefix: str) -> float:
    lines = [line for line in text.splitlines() if line.startswith(prefix)]
    return sum(float(line.rsplit(" ", 1)[1]) for line in lines)


def test_client_hanging_up_mid_body_is_no_500_and_no_traceback(
    intake: RunningIntake, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    for _ in range(3):
        _hang_up_mid_body(intake, 5000, b'{"page": "/blog/hello/", "body": "cut')
    deadline = time.monotonic() + PROMPT
    text = intake.server_metrics()
    while _metric(text, 'afterword_submissions_total{outcome="disconnected"}') < 3:
        assert time.monotonic() < deadline, text
        time.sleep(0.05)
        text = intake.server_metrics()
    assert _metric(text, 'afterword_http_request_duration_seconds_count{method="POST"') == 3
    assert 'status="499"' in text
    assert 'status="500"' not in text
    assert _metric(text, 'afterword_submissions_total{outcome="invalid"}') == 0
    assert not [r for r in caplog.records if r.exc_info or r.levelno >= logging.ERROR]
    assert not [r for r in caplog.records if "Traceback" in r.getMessage()]
    assert intake.post(body="after the hang-ups").status_code == 202


def test_a_bug_in_the_submission_route_takes_the_common_path(
    intake: RunningIntake, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """The post route has no private shortcut: a bug in it is timed, counted as a 500 and
    answered with the envelope by the same middleware as every route, and the server logs it
    with its traceback (a bug, unlike a client hanging up, is worth a traceback)."""
    import afterword.intake.app as app_module

    error = RuntimeError("a bug in the route")
    monkeypatch.setattr(app_module, "render_markdown", _FailOnce(app_module.render_markdown, error))
    caplog.set_level(logging.ERROR)
    failed = intake.post(body="meets the bug")
    assert failed.status_code == 500
    assert failed.json() == {
        "error": {"code": "internal", "message": "internal error", "fields": {}}
    }
    assert "x-response-time" in failed.headers
    assert str(error) not in failed.text
    assert any(record.exc_info and record.exc_info[1] is error for record in caplog.records)
    assert intake.post(body="after the bug").status_code == 202
    text = intake.server_metrics()
    assert 'method="POST",route="/api/comments",status="500"} 1.0' in text
    assert 'method="POST",route="/api/comments",status="202"} 1.0' in text
