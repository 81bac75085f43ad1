"""Rate limits over HTTP, and whose address counts: the peer, or X-Forwarded-For via a proxy."""

from __future__ import annotations

from collections.abc import Callable

from fixtures_intake import RunningIntake

from afterword.privacy import hash_address
from afterword.store import Store, site_secret


def _statuses(intake: RunningIntake, count: int, forwarded_for: str | None = None) -> list[int]:
    headers = {"x-forwarded-for": forwarded_for} if forwarded_for else None
    return [intake.post(headers=headers, body=f"comment {i} {forwarded_for}").status_code
            for i in range(count)]  # fmt: skip


def test_rate_limit_per_minute_answers_429_with_retry_after(
    intake_server: RunningIntake,
) -> None:
    assert _statuses(intake_server, 5) == [202] * 5
    refused = intake_server.post(body="one too many")
    assert refused.status_code == 429
    assert refused.json()["error"]["code"] == "rate_limited"
    assert 50 <= int(refused.headers["retry-after"]) <= 60


def test_rate_limit_per_hour(start_intake: Callable[..., RunningIntake]) -> None:
    intake = start_intake(limits={"per_minute": 0, "per_hour": 3})
    assert _statuses(intake, 4) == [202, 202, 202, 429]
    assert 3500 <= int(intake.post().headers["retry-after"]) <= 3600


def test_rate_limit_counts_refused_submissions_too(
    start_intake: Callable[..., RunningIntake],
) -> None:
    """Invalid posts use up the allowance: probing the validator is not free."""
    intake = start_intake(limits={"per_minute": 2, "per_hour": 0})
    assert intake.post(body="").status_code == 422
    assert intake.post(body="").status_code == 422
    assert intake.post(body="now valid").status_code == 429


def test_forwarded_for_from_trusted_proxy_is_the_client(
    start_intake: Callable[..., RunningIntake], store: Store
) -> None:
    intake = start_intake(
        limits={"per_minute": 2, "per_hour": 0}, intake={"trusted_proxies": ["127.0.0.0/8"]}
    )
    assert _statuses(intake, 3, "203.0.113.7") == [202, 202, 429]
    assert _statuses(intake, 2, "198.51.100.1, 127.0.0.1") == [202, 202]
    hashes = {row[0] for row in store.query("SELECT DISTINCT ip_hash FROM comments")}
    secret = site_secret(store)
    assert hashes == {hash_address(secret, "203.0.113.7"), hash_address(secret, "198.51.100.1")}


def test_forwarded_for_from_untrusted_peer_is_ignored(
    start_intake: Callable[..., RunningIntake], store: Store
) -> None:
    intake = start_intake(
        limits={"per_minute": 2, "per_hour": 0}, intake={"trusted_proxies": ["10.0.0.1"]}
    )
    assert _statuses(intake, 1, "203.0.113.7") == [202]
    assert _statuses(intake, 2, "198.51.100.1") == [202, 429]
    hashes = {row[0] for row in store.query("SELECT DISTINCT ip_hash FROM comments")}
    assert hashes == {hash_address(site_secret(store), "127.0.0.1")}


def test_rate_limit_outcomes_are_counted_in_metrics(
    start_intake: Callable[..., RunningIntake],
) -> None:
    intake = start_intake(limits={"per_minute": 3, "per_hour": 0})
    assert intake.post(body="same").status_code == 202
    assert intake.post(body="same").status_code == 409
    assert intake.post(body="bot", phone="1").status_code == 202
    assert intake.post(body="x").status_code == 429
    assert intake.post(body="").status_code == 429
    text = intake.server_metrics()
    for outcome, count in [
        ("accepted", 1),
        ("duplicate", 1),
        ("spam", 1),
        ("rate-limited", 2),
        ("invalid", 0),
    ]:
        assert f'afterword_submissions_total{{outcome="{outcome}"}} {count}.0' in text
