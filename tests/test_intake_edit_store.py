"""The rules behind an author's edit, at the store: the window, erasure, undo of a decision.

The HTTP side is tests/test_intake_edit.py; these pin what is hard to reach over HTTP in a
test's time: a comment approved long after it was posted, and a clock 15 minutes on.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from conftest import add_rendered as add

from afterword.errors import ModerationError
from afterword.importers.erase import erase_person
from afterword.intake.validate import body_hash
from afterword.markup import RENDERER_VERSION, render_markdown
from afterword.moderation.actions import apply_action
from afterword.store import Comment, Store, format_time, get_comment
from afterword.store.revisions import (
    REVISED,
    WINDOW_CLOSED,
    NewText,
    author_edit,
    reopen_revision,
)

WINDOW = timedelta(minutes=15)


def text(body: str) -> NewText:
    return NewText(body, render_markdown(body), RENDERER_VERSION, body_hash(body))


def revisions(store: Store, comment: Comment) -> list[tuple[str, str]]:
    rows = store.query("SELECT status, body FROM revisions WHERE comment_id = ?", (comment.id,))
    return [(str(r[0]), str(r[1])) for r in rows]


def test_edit_window_starts_at_approval_not_posting(store: Store) -> None:
    """Posted two days ago, approved now: the 15 minutes run from the approval."""
    two_days_ago = format_time(datetime.now(UTC) - timedelta(days=2))
    comment = add(store, "Waited long", created=two_days_ago, email="a@example.org")
    apply_action(store, [comment.id], "approve", actor="mod")
    now = datetime.now(UTC)
    soon = author_edit(
        store, comment.id, text("Soon"), window=WINDOW, now=now + timedelta(minutes=14)
    )
    assert soon.outcome == REVISED
    late = author_edit(
        store, comment.id, text("Late"), window=WINDOW, now=now + timedelta(minutes=16)
    )
    assert late.outcome == WINDOW_CLOSED
    assert revisions(store, comment) == [("pending", "Soon")]


def test_edit_revisions_never_reopen_the_window(store: Store) -> None:
    """An author's revision and its approval stay ``approved``: the window still runs from
    the approval ten minutes ago, not from the edit."""
    comment = add(store, "Approved earlier", email="w@example.org")
    apply_action(store, [comment.id], "approve", actor="mod")
    ten_ago = format_time(datetime.now(UTC) - timedelta(minutes=10))
    with store.write() as conn:
        conn.execute("UPDATE moderation_log SET at = ? WHERE comment_id = ?", (ten_ago, comment.id))
    now = datetime.now(UTC)
    assert author_edit(store, comment.id, text("One"), window=WINDOW, now=now).outcome == REVISED
    apply_action(store, [comment.id], "approve", actor="mod")  # the revision
    later = now + timedelta(minutes=6)
    assert author_edit(store, comment.id, text("Two"), window=WINDOW, now=later).outcome == (
        WINDOW_CLOSED
    )


def test_edit_window_of_a_comment_stored_approved_survives_a_reapproval(store: Store) -> None:
    """Stored approved (a trusted author) 20 minutes ago, rejected and approved again now:
    it went live when it was posted, so the window is closed (its capability, too, ran out;
    this pins the rule itself)."""
    twenty_ago = format_time(datetime.now(UTC) - timedelta(minutes=20))
    comment = add(store, "Trusted", status="approved", created=twenty_ago, email="t@example.org")
    apply_action(store, [comment.id], "reject", actor="mod")
    apply_action(store, [comment.id], "approve", actor="mod")
    late = author_edit(store, comment.id, text("Late"), window=WINDOW, now=datetime.now(UTC))
    assert late.outcome == WINDOW_CLOSED
    assert revisions(store, comment) == []


def test_edit_erase_delete_forgets_revision_texts(store: Store) -> None:
    comment = add(store, "Mine", status="approved", email="erase@example.org",
                  created=format_time(datetime.now(UTC)))  # fmt: skip
    edit = author_edit(store, comment.id, text("My secret"), window=WINDOW, now=datetime.now(UTC))
    assert edit.outcome == REVISED
    erase_person(store, "erase@example.org", mode="delete", actor="mod")
    assert revisions(store, comment) == [("withdrawn", "")]


def test_edit_erase_anonymize_keeps_revision(store: Store) -> None:
    comment = add(store, "Mine", status="approved", email="anon@example.org",
                  created=format_time(datetime.now(UTC)))  # fmt: skip
    author_edit(store, comment.id, text("Kept text"), window=WINDOW, now=datetime.now(UTC))
    erase_person(store, "anon@example.org", mode="anonymize", actor="mod")
    assert revisions(store, comment) == [("pending", "Kept text")]


def test_edit_undo_of_decision_refused_once_a_new_revision_waits(store: Store) -> None:
    comment = add(store, "First", status="approved", created=format_time(datetime.now(UTC)))
    author_edit(store, comment.id, text("Second"), window=WINDOW, now=datetime.now(UTC))
    [decision] = apply_action(store, [comment.id], "approve", actor="mod").revisions
    author_edit(store, comment.id, text("Third"), window=WINDOW, now=datetime.now(UTC))
    with pytest.raises(ModerationError, match="changed since"):
        reopen_revision(store, decision, actor="mod")
    found = get_comment(store, comment.id)
    assert found is not None
    assert found.body == "Second"
    assert revisions(store, comment) == [("approved", "Second"), ("pending", "Third")]


def test_edit_mixed_approve_decides_revisions_and_statuses_in_one_go(store: Store) -> None:
    published = add(store, "Old", status="approved", created=format_time(datetime.now(UTC)))
    waiting = add(store, "Pending one")
    author_edit(store, published.id, text("New"), window=WINDOW, now=datetime.now(UTC))
    result = apply_action(store, [published.id, waiting.id], "approve", actor="mod")
    assert result.summary() == "approved 1 comment on 1 page; approved 1 revision on 1 page"
    assert result.as_json()["count"] == 2
    author_edit(store, published.id, text("Newer"), window=WINDOW, now=datetime.now(UTC))
    with pytest.raises(ModerationError, match="no comment with id 999"):
        apply_action(store, [published.id, 999], "approve", actor="mod")  # all or nothing
    found = get_comment(store, published.id)
    assert found is not None
    assert found.body == "New"
    assert revisions(store, published) == [("approved", "New"), ("pending", "Newer")]
