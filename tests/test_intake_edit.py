"""PATCH / DELETE /api/comments/<id> over real HTTP: a commenter edits or deletes their comment.

The whole life of one comment — posted, edited while pending, approved, edited while
published (a revision the moderator approves through the CLI), built, deleted — and then every
way a change is refused, each time asserting the stored row did not move.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner
from fixtures_intake import UNLIMITED, RunningIntake

from afterword.builder import build_site
from afterword.cli import main
from afterword.config import Config
from afterword.intake.capability import capability_key, issue
from afterword.store import Store, format_time, get_page, moderate, parse_time, site_secret

SITE = "https://blog.example.com"
Start = Callable[..., RunningIntake]


def row(store: Store, comment_id: int) -> dict[str, Any]:
    found: sqlite3.Row = store.query("SELECT * FROM comments WHERE id = ?", (comment_id,))[0]
    return dict(found)


def revisions(store: Store, comment_id: int) -> list[dict[str, Any]]:
    rows = store.query("SELECT * FROM revisions WHERE comment_id = ? ORDER BY id", (comment_id,))
    return [dict(r) for r in rows]


def dirty(store: Store, key: str) -> bool:
    page = get_page(store, key)
    assert page is not None
    return page.version > page.built_version


def patch(
    intake: RunningIntake, comment_id: int, capability: str | None, body: Any, **headers: str
) -> httpx.Response:
    sent = dict(headers)
    if capability is not None:
        sent["Authorization"] = f"Bearer {capability}"
    return httpx.patch(f"{intake.api}/{comment_id}", json=body, headers=sent, timeout=10)


def delete(
    intake: RunningIntake, comment_id: int, capability: str | None, **headers: str
) -> httpx.Response:
    sent = dict(headers)
    if capability is not None:
        sent["Authorization"] = f"Bearer {capability}"
    return httpx.delete(f"{intake.api}/{comment_id}", headers=sent, timeout=10)


def posted(intake: RunningIntake, **fields: Any) -> tuple[int, str]:
    response = intake.post(**fields)
    assert response.status_code == 202, response.text
    data = response.json()["data"]
    return int(data["id"]), str(data["capability"])


def cli(*args: str) -> str:
    result = CliRunner().invoke(main, list(args))
    assert result.exit_code == 0, result.output
    return result.output


def error(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    envelope: dict[str, Any] = response.json()["error"]
    assert envelope["code"] == code
    assert envelope["message"]
    return envelope


def fragment(config: Config, key: str, name: str) -> str:
    return (Path(config.output_dir) / "threads" / key.strip("/") / name).read_text("utf-8")


def test_edit_life_of_a_comment(start_intake: Start, store: Store, config: Config) -> None:
    intake = start_intake(limits=UNLIMITED)
    response = intake.post(body="Frist post, with a *typo*")
    assert response.status_code == 202
    data = response.json()["data"]
    comment_id, capability = data["id"], data["capability"]
    assert capability.startswith(f"v1.{comment_id}.")
    until = parse_time(data["editable_until"].replace("Z", ".000000Z"))
    assert 71 * 3600 < until.timestamp() - time.time() <= 72 * 3600 + 1  # edit_token_hours

    # Pending: replaced in the queue, same id, logged.
    edited = patch(intake, comment_id, capability, {"body": "First post, **fixed**"})
    assert edited.status_code == 200, edited.text
    assert edited.json()["data"] == {
        "id": comment_id,
        "status": "pending",
        "html": "<p>First post, <strong>fixed</strong></p>\n",
        "revision": False,
    }
    stored = row(store, comment_id)
    assert (stored["body"], stored["status"], stored["edited"]) == (
        "First post, **fixed**",
        "pending",
        None,
    )
    log = store.query("SELECT * FROM moderation_log WHERE comment_id = ?", (comment_id,))
    assert [(e["action"], e["actor"], e["reason"]) for e in log] == [
        ("edit", "author", "edited by author")
    ]
    assert "First post" in cli("queue")

    # Published: the edit waits as a revision, the page keeps the published text.
    cli("approve", str(comment_id))
    build_site(config, store)
    assert not dirty(store, "/blog/hello/")
    revised = patch(intake, comment_id, capability, {"body": "First post, fixed *again*"})
    assert revised.status_code == 200, revised.text
    assert revised.json()["data"]["revision"] is True
    assert revised.json()["data"]["status"] == "approved"
    assert row(store, comment_id)["body"] == "First post, **fixed**"
    assert not dirty(store, "/blog/hello/")
    [waiting] = revisions(store, comment_id)
    assert (waiting["status"], waiting["body"]) == ("pending", "First post, fixed *again*")
    listing = cli("queue")
    assert "Revisions by their authors" in listing
    assert "fixed again" in listing
    listed = json.loads(cli("queue", "--json"))
    assert [r["revision"]["body"] for r in listed["revisions"]] == ["First post, fixed *again*"]

    # A second edit replaces the waiting revision rather than queueing another.
    again = patch(intake, comment_id, capability, {"body": "First post, fixed for good"})
    assert again.status_code == 200
    assert [r["body"] for r in revisions(store, comment_id)] == ["First post, fixed for good"]

    summary = cli("approve", str(comment_id))
    assert "approved 1 revision on 1 page" in summary
    stored = row(store, comment_id)
    assert stored["body"] == "First post, fixed for good"
    assert stored["edited"] is not None
    assert dirty(store, "/blog/hello/")
    build_site(config, store)
    html = fragment(config, "/blog/hello/", "comments.html")
    assert "First post, fixed for good" in html
    assert 'class="afterword-edited"' in html
    thread = json.loads(fragment(config, "/blog/hello/", "comments.json"))
    assert thread["comments"][0]["edited"] == stored["edited"]

    # A reply, then the author deletes the parent: the reply keeps its place.
    reply = intake.post(body="A reply", parent=comment_id).json()["data"]["id"]
    moderate(store, [reply], "approve", actor="test")
    build_site(config, store)
    gone = delete(intake, comment_id, capability)
    assert gone.status_code == 200, gone.text
    assert gone.json()["data"] == {"id": comment_id, "status": "deleted"}
    assert row(store, comment_id)["status"] == "deleted"
    assert dirty(store, "/blog/hello/")
    build_site(config, store)
    html = fragment(config, "/blog/hello/", "comments.html")
    assert "fixed for good" not in html
    assert "This comment was removed." in html
    assert "A reply" in html

    # Deleted is final: neither edit nor delete again.
    before = row(store, comment_id)
    error(patch(intake, comment_id, capability, {"body": "back"}), 409, "not_editable")
    error(delete(intake, comment_id, capability), 409, "not_editable")
    assert row(store, comment_id) == before


def test_edit_revision_rejected_keeps_published_text(start_intake: Start, store: Store) -> None:
    intake = start_intake(limits=UNLIMITED)
    comment_id, capability = posted(intake, body="Original")
    cli("approve", str(comment_id))
    assert patch(intake, comment_id, capability, {"body": "Changed"}).status_code == 200
    assert "rejected 1 revision" in cli("reject", str(comment_id))
    stored = row(store, comment_id)
    assert (stored["body"], stored["status"], stored["edited"]) == ("Original", "approved", None)
    assert [r["status"] for r in revisions(store, comment_id)] == ["rejected"]


def test_edit_delete_pending_comment(start_intake: Start, store: Store) -> None:
    intake = start_intake(limits=UNLIMITED)
    comment_id, capability = posted(intake)
    assert delete(intake, comment_id, capability).status_code == 200
    assert row(store, comment_id)["status"] == "deleted"
    assert "No pending comments." in cli("queue")


def test_edit_trusted_comment_gets_the_short_window(start_intake: Start, store: Store) -> None:
    """Stored approved at once: editable_until is edit_window_minutes after posting."""
    intake = start_intake(limits=UNLIMITED, moderation={"trusted": ["@example.org"]})
    data = intake.post(body="Trusted").json()["data"]
    assert data["status"] == "approved"
    created = parse_time(data["created"]).timestamp()
    until = parse_time(data["editable_until"].replace("Z", ".000000Z")).timestamp()
    assert 15 * 60 <= until - created < 15 * 60 + 1
    answer = patch(intake, data["id"], data["capability"], {"body": "Trusted, edited"})
    assert answer.json()["data"]["revision"] is True
    assert row(store, data["id"])["body"] == "Trusted"


def test_edit_window_closed_after_publication(start_intake: Start, store: Store) -> None:
    intake = start_intake(limits={**UNLIMITED, "edit_window_minutes": 0})
    comment_id, capability = posted(intake, body="Pending is editable")
    assert patch(intake, comment_id, capability, {"body": "Still pending"}).status_code == 200
    cli("approve", str(comment_id))
    before = row(store, comment_id)
    error(patch(intake, comment_id, capability, {"body": "late"}), 403, "edit_window_closed")
    error(delete(intake, comment_id, capability), 403, "edit_window_closed")
    assert row(store, comment_id) == before
    assert revisions(store, comment_id) == []


def _backdate_first_approval(store: Store, comment_id: int, minutes: int) -> None:
    """Stands for time passing: the comment went live ``minutes`` ago (the log's ``at``
    is where "went live" is recorded, so a test need not wait out a real window)."""
    at = format_time(datetime.now(UTC) - timedelta(minutes=minutes))
    with store.write() as conn:
        conn.execute(
            """UPDATE moderation_log SET at = ? WHERE id = (SELECT min(id) FROM moderation_log
                   WHERE comment_id = ? AND to_status = 'approved')""",
            (at, comment_id),
        )


def _taken_down_with(action: str) -> Callable[[Store, int, int], None]:
    """Approved, ``minutes`` pass, then ``action`` (reject, spam) and approved again."""

    def scenario(store: Store, comment_id: int, minutes: int) -> None:
        cli("approve", str(comment_id))
        _backdate_first_approval(store, comment_id, minutes)
        cli(action, str(comment_id))
        cli("approve", str(comment_id))

    return scenario


def _undone_in_review(store: Store, comment_id: int, minutes: int) -> None:
    """Approved in ``afterword review`` and undone there (``u``), approved again later."""
    result = CliRunner().invoke(main, ["review"], input="a u q")
    assert result.exit_code == 0, result.output
    assert row(store, comment_id)["status"] == "pending"
    _backdate_first_approval(store, comment_id, minutes)
    cli("approve", str(comment_id))


REAPPROVALS: dict[str, Callable[[Store, int, int], None]] = {
    "reject-then-approve": _taken_down_with("reject"),
    "spam-then-approve": _taken_down_with("spam"),
    "review-undo-then-approve": _undone_in_review,
}


@pytest.mark.parametrize("reapprove", REAPPROVALS.values(), ids=REAPPROVALS.keys())
def test_edit_window_runs_from_the_first_publication(
    start_intake: Start, store: Store, reapprove: Callable[[Store, int, int], None]
) -> None:
    """First live 20 minutes ago, approved again just now: the 15-minute window closed 5
    minutes ago, and the re-approval must not reopen it (the capability itself still works:
    a pending comment's lasts ``edit_token_hours``)."""
    intake = start_intake(limits=UNLIMITED)
    comment_id, capability = posted(intake, body="Seen by readers")
    reapprove(store, comment_id, 20)
    before = row(store, comment_id)
    assert before["status"] == "approved"
    error(patch(intake, comment_id, capability, {"body": "rewritten"}), 403, "edit_window_closed")
    error(delete(intake, comment_id, capability), 403, "edit_window_closed")
    assert row(store, comment_id) == before
    assert revisions(store, comment_id) == []


@pytest.mark.parametrize("reapprove", REAPPROVALS.values(), ids=REAPPROVALS.keys())
def test_edit_window_left_after_a_reapproval(
    start_intake: Start, store: Store, reapprove: Callable[[Store, int, int], None]
) -> None:
    """The other side: first live 5 minutes ago, so 10 minutes of the window are left."""
    intake = start_intake(limits=UNLIMITED)
    comment_id, capability = posted(intake, body="Seen by readers")
    reapprove(store, comment_id, 5)
    answer = patch(intake, comment_id, capability, {"body": "fixed a typo"})
    assert answer.status_code == 200, answer.text
    assert answer.json()["data"]["revision"] is True
    assert [r["body"] for r in revisions(store, comment_id)] == ["fixed a typo"]


def test_edit_rejected_comment_is_not_editable(start_intake: Start, store: Store) -> None:
    intake = start_intake(limits=UNLIMITED)
    comment_id, capability = posted(intake)
    cli("reject", str(comment_id))
    before = row(store, comment_id)
    error(patch(intake, comment_id, capability, {"body": "sneaky"}), 409, "not_editable")
    assert row(store, comment_id) == before


def _tampered_mac(token: str) -> str:
    head, mac = token.rsplit(".", 1)
    return f"{head}.{('A' if mac[0] != 'A' else 'B') + mac[1:]}"


def _other_id(token: str) -> str:
    version, comment_id, expires, mac = token.split(".")
    return f"{version}.{int(comment_id) + 1}.{expires}.{mac}"


def _later(token: str) -> str:
    version, comment_id, expires, mac = token.split(".")
    return f"{version}.{comment_id}.{int(expires) + 3600}.{mac}"


CAPABILITIES: list[tuple[str, Callable[[str, str, bytes, int], str | None], int, str]] = [
    ("missing", lambda own, other, key, cid: None, 401, "capability_required"),
    ("empty", lambda own, other, key, cid: "", 403, "capability_invalid"),
    ("garbage", lambda own, other, key, cid: "not-a-token", 403, "capability_invalid"),
    ("mac-flipped", lambda own, other, key, cid: _tampered_mac(own), 403, "capability_invalid"),
    ("id-changed", lambda own, other, key, cid: _other_id(own), 403, "capability_invalid"),
    ("expiry-moved", lambda own, other, key, cid: _later(own), 403, "capability_invalid"),
    ("other-comment", lambda own, other, key, cid: other, 403, "capability_invalid"),
    ("wrong-key", lambda own, other, key, cid: issue(b"x" * 32, cid, 2**33), 403,
     "capability_invalid"),
    ("expired", lambda own, other, key, cid: issue(key, cid, int(time.time()) - 1), 403,
     "capability_expired"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("make", "status", "code"),
    [case[1:] for case in CAPABILITIES],
    ids=[case[0] for case in CAPABILITIES],
)
def test_edit_bad_capability_changes_nothing(
    start_intake: Start,
    store: Store,
    make: Callable[[str, str, bytes, int], str | None],
    status: int,
    code: str,
) -> None:
    intake = start_intake(limits=UNLIMITED)
    comment_id, own = posted(intake, body="Mine")
    _, other = posted(intake, body="Someone else's")
    key = capability_key(site_secret(store))
    token = make(own, other, key, comment_id)
    before = row(store, comment_id)
    if token == "":
        headers = {"Authorization": "Bearer"}
        answer = httpx.patch(f"{intake.api}/{comment_id}", json={"body": "x"}, headers=headers)
        error(answer, status, code)
    else:
        envelope = error(patch(intake, comment_id, token, {"body": "hijacked"}), status, code)
        assert envelope["fields"] == {}
        error(delete(intake, comment_id, token), status, code)
    assert row(store, comment_id) == before


def test_edit_missing_capability_names_the_scheme(start_intake: Start) -> None:
    intake = start_intake(limits=UNLIMITED)
    comment_id, _ = posted(intake)
    answer = patch(intake, comment_id, None, {"body": "x"})
    error(answer, 401, "capability_required")
    assert answer.headers["www-authenticate"].startswith("Bearer")
    basic = httpx.delete(f"{intake.api}/{comment_id}", headers={"Authorization": "Basic eDp5"})
    error(basic, 403, "capability_invalid")


def test_edit_unknown_comment_is_404(start_intake: Start, store: Store) -> None:
    intake = start_intake(limits=UNLIMITED)
    token = issue(capability_key(site_secret(store)), 999, int(time.time()) + 60)
    error(patch(intake, 999, token, {"body": "x"}), 404, "not_found")
    error(delete(intake, 999, token), 404, "not_found")


BAD_BODIES: list[tuple[str, Any, dict[str, str]]] = [
    ("empty", {"body": "   "}, {"body": "is required"}),
    ("missing", {}, {"body": "is required"}),
    ("invisible", {"body": "\u200b\u3164"}, {"body": "has no visible text"}),
    ("too-long", {"body": "x" * 10_001}, {"body": "is longer than 10000 characters"}),
    ("not-text", {"body": 42}, {"body": "must be a string"}),
    ("nul", {"body": "a\x00b"}, {"body": "must not contain NUL"}),
    ("other-field", {"body": "ok", "author": "Mallory"}, {"author": "cannot be changed"}),
]


@pytest.mark.parametrize(
    ("body", "fields"), [c[1:] for c in BAD_BODIES], ids=[c[0] for c in BAD_BODIES]
)
def test_edit_bad_body_is_422_and_changes_nothing(
    start_intake: Start, store: Store, body: Any, fields: dict[str, str]
) -> None:
    intake = start_intake(limits=UNLIMITED)
    comment_id, capability = posted(intake, body="Untouched")
    before = row(store, comment_id)
    envelope = error(patch(intake, comment_id, capability, body), 422, "invalid")
    assert set(envelope["fields"]) == set(fields)
    for name, start in fields.items():
        assert envelope["fields"][name].startswith(start)
    assert row(store, comment_id) == before


def test_edit_malformed_json_changes_nothing(start_intake: Start, store: Store) -> None:
    intake = start_intake(limits=UNLIMITED)
    comment_id, capability = posted(intake, body="Untouched")
    before = row(store, comment_id)
    answer = httpx.patch(
        f"{intake.api}/{comment_id}",
        content=b'{"body": ',
        headers={"Authorization": f"Bearer {capability}", "Content-Type": "application/json"},
    )
    assert 400 <= answer.status_code < 500
    assert "error" in answer.json()
    assert row(store, comment_id) == before


def test_edit_attempts_are_rate_limited(start_intake: Start, store: Store) -> None:
    intake = start_intake(limits={"per_minute": 3, "per_hour": 0, "attempts_per_minute": 3})
    comment_id, capability = posted(intake, body="One")  # attempt 1
    assert patch(intake, comment_id, capability, {"body": "Two"}).status_code == 200
    assert patch(intake, comment_id, "forged", {"body": "Three"}).status_code == 403
    before = row(store, comment_id)
    limited = patch(intake, comment_id, capability, {"body": "Four"})
    error(limited, 429, "rate_limited")
    assert int(limited.headers["retry-after"]) >= 1
    assert row(store, comment_id) == before


def test_edits_do_not_wait_for_the_accepted_comments_window(
    start_intake: Start, store: Store
) -> None:
    """An author who used their one comment a minute can still fix its typo at once."""
    intake = start_intake(limits={"per_minute": 1, "per_hour": 0, "attempts_per_minute": 10})
    comment_id, capability = posted(intake, body="Teh typo")
    second = intake.post(body="Another comment")
    error(second, 429, "rate_limited")
    assert patch(intake, comment_id, capability, {"body": "The typo"}).status_code == 200
    assert row(store, comment_id)["body"] == "The typo"


def test_edit_cors_preflight_and_answers(start_intake: Start, store: Store) -> None:
    intake = start_intake(limits=UNLIMITED)
    comment_id, capability = posted(intake)
    url = f"{intake.api}/{comment_id}"
    for method in ("PATCH", "DELETE"):
        granted = httpx.options(
            url,
            headers={
                "Origin": SITE,
                "Access-Control-Request-Method": method,
                "Access-Control-Request-Headers": "authorization, content-type",
            },
        )
        assert granted.status_code == 204
        assert granted.headers["access-control-allow-origin"] == SITE
        assert {"PATCH", "DELETE"} <= {
            m.strip() for m in granted.headers["access-control-allow-methods"].split(",")
        }
        allowed = {
            h.strip().lower() for h in granted.headers["access-control-allow-headers"].split(",")
        }
        assert {"authorization", "content-type"} <= allowed
        assert granted.headers["vary"] == "Origin"
        refused = httpx.options(
            url, headers={"Origin": "https://evil.example", "Access-Control-Request-Method": method}
        )
        error(refused, 403, "forbidden_origin")
        assert "access-control-allow-origin" not in refused.headers
    error(
        httpx.options(url, headers={"Origin": SITE, "Access-Control-Request-Method": "PUT"}),
        403,
        "forbidden_origin",
    )
    before = row(store, comment_id)
    foreign = patch(intake, comment_id, capability, {"body": "x"}, Origin="https://evil.example")
    error(foreign, 403, "forbidden_origin")
    assert row(store, comment_id) == before
    ours = patch(intake, comment_id, capability, {"body": "From the site"}, Origin=SITE)
    assert ours.status_code == 200
    assert ours.headers["access-control-allow-origin"] == SITE
    failed = patch(intake, comment_id, None, {"body": "x"}, Origin=SITE)
    assert failed.status_code == 401
    assert failed.headers["access-control-allow-origin"] == SITE


def test_edit_other_methods_and_metrics_label(start_intake: Start) -> None:
    intake = start_intake(limits=UNLIMITED)
    comment_id, capability = posted(intake)
    error(httpx.get(f"{intake.api}/{comment_id}"), 405, "method_not_allowed")
    error(httpx.get(f"{intake.api}/abc"), 404, "not_found")
    patch(intake, comment_id, capability, {"body": "Counted"})
    text = intake.server_metrics()
    assert 'method="PATCH",route="/api/comments/{comment_id:int}",status="200"' in text
    assert f'route="/api/comments/{comment_id}"' not in text


def test_edit_with_two_workers(start_intake: Start, store: Store) -> None:
    """Every worker process signs and checks with the same site secret."""
    intake = start_intake(workers=2, limits=UNLIMITED)
    comment_id, capability = posted(intake, body="Across workers")
    for attempt in range(4):  # connections land on either process
        answer = patch(intake, comment_id, capability, {"body": f"Edit {attempt}"})
        assert answer.status_code == 200, answer.text
    assert row(store, comment_id)["body"] == "Edit 3"
