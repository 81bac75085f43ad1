"""``afterword review`` on revisions: a published comment its author edited, shown as a diff.

The revisions are made by the same store function the intake's PATCH uses
(``store.revisions.author_edit``; the HTTP side is tests/test_intake_edit.py), then the review
CLI is driven with scripted keys through CliRunner, as in tests/test_review.py.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from click.testing import CliRunner, Result
from conftest import add_rendered as add

from afterword.cli import main
from afterword.intake.validate import body_hash
from afterword.markup import RENDERER_VERSION, render_markdown
from afterword.store import Comment, Store, get_comment, get_page
from afterword.store.revisions import REVISED, NewText, author_edit

PUBLISHED = "Line one\nLine two\nLine three"


def revise(store: Store, comment: Comment, body: str) -> None:
    text = NewText(body, render_markdown(body), RENDERER_VERSION, body_hash(body))
    change = author_edit(store, comment.id, text, window=timedelta(minutes=15), now=_now())
    assert change.outcome == REVISED


def _now() -> datetime:
    return datetime.now(UTC)


def published(store: Store, body: str = PUBLISHED) -> Comment:
    return add(store, body, status="approved", created=_now().strftime("%Y-%m-%dT%H:%M:%S.%fZ"))


def review(keys: str, *, color: bool = False) -> Result:
    result = CliRunner().invoke(main, ["review"], input=keys, color=color)
    assert result.exit_code == 0, result.output
    assert "Traceback" not in result.output
    return result


def body_of(store: Store, comment: Comment) -> str:
    found = get_comment(store, comment.id)
    assert found is not None
    return found.body


def revision_states(store: Store, comment: Comment) -> list[str]:
    rows = store.query("SELECT status FROM revisions WHERE comment_id = ?", (comment.id,))
    return [str(r[0]) for r in rows]


def test_review_revision_diff_and_approve(store: Store) -> None:
    comment = published(store)
    revise(store, comment, "Line one\nLine 2, fixed\nLine three")
    version = get_page(store, comment.page_key)
    assert version is not None
    result = review("a q")
    out = result.output
    assert f"#{comment.id} (published; edited by its author)" in out
    assert "    -Line two" in out
    assert "    +Line 2, fixed" in out
    assert "     Line one" in out  # context, unchanged
    assert "\x1b" not in out  # not a terminal: no colours
    assert f"#{comment.id}: revision approved." in out
    assert out.endswith("Review finished: approved 1; 0 still pending.\n")
    assert body_of(store, comment) == "Line one\nLine 2, fixed\nLine three"
    assert revision_states(store, comment) == ["approved"]
    after = get_page(store, comment.page_key)
    assert after is not None
    assert after.version == version.version + 1


def test_review_revision_reject_keeps_published_text(store: Store) -> None:
    comment = published(store)
    revise(store, comment, "Something else entirely")
    result = review("r q", color=True)
    assert "\x1b[31m    -Line two" in result.output  # on a terminal: removed lines in red
    assert "\x1b[32m    +Something else entirely" in result.output
    assert body_of(store, comment) == PUBLISHED
    assert revision_states(store, comment) == ["rejected"]


def test_review_revision_undo_restores_text_and_queue(store: Store) -> None:
    comment = published(store)
    revise(store, comment, "Replaced")
    result = review("a u q")
    assert f"Undid the approve of #{comment.id}'s revision." in result.output
    assert body_of(store, comment) == PUBLISHED
    assert revision_states(store, comment) == ["pending"]
    found = get_comment(store, comment.id)
    assert found is not None
    assert found.edited is None


def test_review_revision_cannot_be_edited_and_comes_after_pending(store: Store) -> None:
    comment = published(store)
    revise(store, comment, "Revised text")
    waiting = add(store, "A pending one")
    result = review("n e q")
    out = result.output
    assert out.index("A pending one") < out.index("+Revised text")
    assert "── 2 of 2 ──" in out
    assert "approved (a) or rejected (r), not edited" in out
    assert body_of(store, comment) == PUBLISHED
    assert body_of(store, waiting) == "A pending one"


def test_review_help_explains_revisions(store: Store) -> None:
    comment = published(store)
    revise(store, comment, "Revised")
    assert "a publishes the new text" in review("? q").output


def test_review_revision_is_terminal_safe(store: Store) -> None:
    comment = published(store)
    revise(store, comment, "Evil \x1b[2J\x1b]0;title\x07 text\u202e")
    result = review("q")
    assert "\x1b" not in result.output
    assert "\u202e" not in result.output
    assert "+Evil  [2J ]0;title  text" in result.output
