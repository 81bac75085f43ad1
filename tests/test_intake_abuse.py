"""Rate limits over HTTP, and whose address counts: the peer, or X-Forwarded-For via a proxy.

Accepted submissions count against ``per_minute``/``per_hour``; every attempt (accepted or
refused) counts against the higher ``attempts_per_minute``. The X-Forwarded-For tests send the
header the way proxies do — several lines, when a proxy appends its own — over real HTTP.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from fixtures_intake import RunningIntake, comment_fields

from afterword.privacy import hash_address
from afterword.store import Store, site_secret

Headers = Sequence[tuple[str, str]]


def _statuses(intake: RunningIntake, count: int, forwarded_for: str | None = None) -> list[int]:
    headers = {"x-forwarded-for": forwarded_for} if forwarded_for else None
    return [intake.post(headers=headers, body=f"comment {i} {forwarded_for}").status_code
            for i in range(count)]  # fmt: skip


def _post_with(intake: RunningIntake, headers: Headers, body: str) -> httpx.Response:
    """POST with ``headers`` as given: a repeated name goes out as several header lines."""
    return httpx.post(intake.api, json=comment_fields(body=body), headers=list(headers), timeout=10)


def _hashes(store: Store) -> set[str]:
    return {row[0] for row in store.query("SELECT DISTINCT ip_hash FROM comments")}


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


def test_fixing_a_typo_five_times_still_gets_the_full_allowance(
    intake_server: RunningIntake,
) -> None:
    """Refused attempts do not use up ``per_minute`` (5): five 422s, then five 202s."""
    for attempt in range(5):
        refused = intake_server.post(body=f"typo {attempt}", email="not an address")
        assert refused.status_code == 422
    assert _statuses(intake_server, 5) == [202] * 5
    assert intake_server.post(body="a sixth accepted one").status_code == 429


def test_flooding_invalid_posts_hits_the_attempts_bound(
    start_intake: Callable[..., RunningIntake],
) -> None:
    """``attempts_per_minute`` 0 means four times ``per_minute``: 8 attempts for 2/minute."""
    intake = start_intake(limits={"per_minute": 2, "per_hour": 0})
    assert [intake.post(body="").status_code for _ in range(8)] == [422] * 8
    flood = intake.post(body="")
    assert flood.status_code == 429
    assert flood.json()["error"]["code"] == "rate_limited"
    assert 50 <= int(flood.headers["retry-after"]) <= 60
    assert intake.post(body="now valid").status_code == 429  # the bound covers valid ones too


def test_concurrent_posts_cannot_overshoot_the_limit(
    start_intake: Callable[..., RunningIntake], store: Store
) -> None:
    """An accepted slot is reserved on admission, before the (slow, batched) commit."""
    intake = start_intake(limits={"per_minute": 3, "per_hour": 0})
    with ThreadPoolExecutor(max_workers=10) as pool:
        responses = list(pool.map(lambda i: intake.post(body=f"burst {i}"), range(10)))
    statuses = sorted(response.status_code for response in responses)
    assert statuses == [202] * 3 + [429] * 7
    assert store.scalar("SELECT count(*) FROM comments") == 3


def test_attempts_per_minute_setting(start_intake: Callable[..., RunningIntake]) -> None:
    intake = start_intake(limits={"per_minute": 2, "per_hour": 0, "attempts_per_minute": 3})
    assert intake.post(body="").status_code == 422
    assert _statuses(intake, 3) == [202, 202, 429]


def test_duplicates_count_as_attempts_not_as_accepted(
    start_intake: Callable[..., RunningIntake],
) -> None:
    intake = start_intake(limits={"per_minute": 2, "per_hour": 0})
    assert intake.post(body="same").status_code == 202
    assert [intake.post(body="same").status_code for _ in range(3)] == [409] * 3
    assert intake.post(body="different").status_code == 202
    assert intake.post(body="third").status_code == 429


def test_forwarded_for_from_trusted_proxy_is_the_client(
    start_intake: Callable[..., RunningIntake], store: Store
) -> None:
    intake = start_intake(
        limits={"per_minute": 2, "per_hour": 0}, intake={"trusted_proxies": ["127.0.0.0/8"]}
    )
    assert _statuses(intake, 3, "203.0.113.7") == [202, 202, 429]
    assert _statuses(intake, 2, "198.51.100.1, 127.0.0.1") == [202, 202]
    secret = site_secret(store)
    assert _hashes(store) == {
        hash_address(secret, "203.0.113.7"),
        hash_address(secret, "198.51.100.1"),
    }


def test_forwarded_for_from_untrusted_peer_is_ignored(
    start_intake: Callable[..., RunningIntake], store: Store
) -> None:
    intake = start_intake(
        limits={"per_minute": 2, "per_hour": 0}, intake={"trusted_proxies": ["10.0.0.1"]}
    )
    assert _statuses(intake, 1, "203.0.113.7") == [202]
    assert _statuses(intake, 2, "198.51.100.1") == [202, 429]
    assert _hashes(store) == {hash_address(site_secret(store), "127.0.0.1")}


def test_a_proxy_appending_its_own_line_decides_the_identity(
    start_intake: Callable[..., RunningIntake], store: Store
) -> None:
    """HAProxy's ``option forwardfor`` adds a line after the client's own: the client cannot
    choose its identity with the first line, whatever it writes there."""
    intake = start_intake(
        limits={"per_minute": 2, "per_hour": 0}, intake={"trusted_proxies": ["127.0.0.0/8"]}
    )
    forged = ["6.6.6.6", "7.7.7.7, 8.8.8.8", "9.9.9.9"]
    statuses = [
        _post_with(
            intake, [("X-Forwarded-For", line), ("X-Forwarded-For", "203.0.113.7")], f"c {i}"
        ).status_code
        for i, line in enumerate(forged)
    ]
    assert statuses == [202, 202, 429]
    assert _hashes(store) == {hash_address(site_secret(store), "203.0.113.7")}


@pytest.mark.parametrize(
    ("lines", "client"),
    [
        (["203.0.113.20:40001"], "203.0.113.20"),
        (["[2001:db8::1]:443"], "2001:db8::1"),
        (["[2001:db8::2]"], "2001:db8::2"),
        (["198.51.100.9", "203.0.113.21:1234, 10.0.0.2:80"], "203.0.113.21"),
        (["::ffff:203.0.113.22"], "203.0.113.22"),
        # Not an address: never an identity — the nearest hop we could read instead.
        (["203.0.113.9, unknown, 10.0.0.2"], "10.0.0.2"),
        (["203.0.113.9", "_hidden"], "127.0.0.1"),
        (["203.0.113.9, 999.1.1.1"], "127.0.0.1"),
        (["10.0.0.3, 10.0.0.2"], "10.0.0.3"),  # all proxies: the farthest is the client
    ],
)
def test_forwarded_for_entries_with_ports_and_garbage(
    start_intake: Callable[..., RunningIntake], store: Store, lines: list[str], client: str
) -> None:
    intake = start_intake(intake={"trusted_proxies": ["127.0.0.0/8", "10.0.0.0/8"]})
    headers = [("X-Forwarded-For", line) for line in lines]
    assert _post_with(intake, headers, "hello").status_code == 202
    assert _hashes(store) == {hash_address(site_secret(store), client)}


def test_rfc7239_forwarded_header_is_not_read(
    start_intake: Callable[..., RunningIntake], store: Store
) -> None:
    intake = start_intake(intake={"trusted_proxies": ["127.0.0.0/8"]})
    headers = [("Forwarded", 'for="203.0.113.60:1234";proto=https')]
    assert _post_with(intake, headers, "hello").status_code == 202
    assert _hashes(store) == {hash_address(site_secret(store), "127.0.0.1")}


def test_rate_limit_outcomes_are_counted_in_metrics(
    start_intake: Callable[..., RunningIntake],
) -> None:
    intake = start_intake(limits={"per_minute": 2, "per_hour": 0, "attempts_per_minute": 4})
    assert intake.post(body="same").status_code == 202
    assert intake.post(body="same").status_code == 409
    assert intake.post(body="bot", aw_x9k="1").status_code == 202  # spam counts as accepted
    assert intake.post(body="x").status_code == 429  # two accepted this minute
    assert intake.post(body="").status_code == 429  # the limit comes before the fields
    text = intake.server_metrics()
    for outcome, count in [
        ("accepted", 1),
        ("duplicate", 1),
        ("spam", 1),
        ("rate-limited", 2),
        ("invalid", 0),
    ]:
        assert f'afterword_submissions_total{{outcome="{outcome}"}} {count}.0' in text
