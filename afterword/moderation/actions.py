"""Moderation actions as library functions: the CLI commands and the review loop share them.

Each call is one transaction in the store (``moderate`` checks every id first, so one bad id
changes nothing), and each returns what it did so that it can be summarized and undone.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from afterword.errors import ModerationError
from afterword.markup import RENDERER_VERSION, render_markdown
from afterword.store import (
    ACTIONS,
    Comment,
    Store,
    Transition,
    edit_comment,
    moderate,
    restore_status,
)
from afterword.store.revisions import RevisionDecision, decide_revisions, pending_revisions

# Actions that, on a published comment with its author's revision waiting, decide the revision
# (the published text stays, or is replaced) instead of changing the comment's status.
REVISION_ACTIONS = frozenset({"approve", "reject"})

# The past tense a summary uses: "approved 3 comments", "marked 2 comments as spam".
PAST_TENSE = {
    "approve": "approved",
    "reject": "rejected",
    "spam": "marked as spam",
    "delete": "deleted",
    "undo": "restored",
}


@dataclass(frozen=True)
class ActionResult:
    """What one action call changed."""

    action: str
    transitions: tuple[Transition, ...]
    revisions: tuple[RevisionDecision, ...] = ()

    @property
    def pages(self) -> list[str]:
        keys = [t.page_key for t in self.transitions] + [d.page_key for d in self.revisions]
        return sorted(set(keys))

    def summary(self) -> str:
        parts = [summarize(self.action, self.transitions)] if self.transitions else []
        if self.revisions:
            parts.append(summarize_revisions(self.action, self.revisions))
        return "; ".join(parts)

    def as_json(self) -> dict[str, Any]:
        return {
            "action": self.action,
            "count": len(self.transitions) + len(self.revisions),
            "pages": self.pages,
            "comments": [
                {"id": t.comment_id, "page": t.page_key, "from": t.from_status, "to": t.to_status}
                for t in self.transitions
            ],
            "revisions": [
                {"id": d.comment_id, "page": d.page_key, "revision": d.revision_id}
                for d in self.revisions
            ],
        }


def apply_action(
    store: Store, ids: Sequence[int], action: str, *, actor: str, reason: str = ""
) -> ActionResult:
    """approve / reject / spam / delete many comments at once, all or nothing.

    ``approve`` and ``reject`` of a published comment whose author's revision waits decide
    the revision (``store.revisions``); the other ids change status as usual, in the same
    transaction.
    """
    if action not in ACTIONS:
        raise ModerationError(f"unknown action {action!r}; use one of {', '.join(ACTIONS)}")
    if not ids:
        raise ModerationError("no comment ids given")
    with store.write() as conn:
        waiting = pending_revisions(conn, ids) if action in REVISION_ACTIONS else {}
        rest = [i for i in ids if i not in waiting]
        transitions = moderate(store, rest, action, actor=actor, reason=reason) if rest else []
        chosen = [waiting[i] for i in dict.fromkeys(ids) if i in waiting]
        decided = decide_revisions(conn, chosen, action, actor=actor, now=datetime.now(UTC))
    return ActionResult(action, tuple(transitions), tuple(decided))


def undo_action(store: Store, transition: Transition, *, actor: str) -> Transition:
    """Put one comment back where an action found it; refuses if it moved since."""
    return restore_status(store, transition, actor=actor)


def edit_body(store: Store, comment_id: int, body: str, *, actor: str) -> Comment:
    """Replace a comment's Markdown and re-render it; its status does not change.

    The body is rendered here exactly as the intake renders it, so an edited comment is
    indistinguishable from one that arrived that way.
    """
    text = body.strip()
    if not text:
        raise ModerationError(f"comment {comment_id}: an empty body cannot be saved")
    return edit_comment(
        store,
        comment_id,
        body=text,
        body_html=render_markdown(text),
        renderer=RENDERER_VERSION,
        actor=actor,
    )


def restore_body(store: Store, previous: Comment, *, actor: str) -> Comment:
    """Undo an edit: the text and HTML exactly as they were (no re-render)."""
    return edit_comment(
        store,
        previous.id,
        body=previous.body,
        body_html=previous.body_html,
        renderer=previous.renderer,
        actor=actor,
    )


def summarize_revisions(action: str, decisions: Sequence[RevisionDecision]) -> str:
    """ "approved 1 revision on 1 page": an author's edit decided."""
    count, pages = len(decisions), len({d.page_key for d in decisions})
    noun = "revision" if count == 1 else "revisions"
    place = "page" if pages == 1 else "pages"
    return f"{PAST_TENSE.get(action, action)} {count} {noun} on {pages} {place}"


def summarize(action: str, transitions: Sequence[Transition]) -> str:
    """ "approved 3 comments on 2 pages" — what a person wants to read after a command."""
    count = len(transitions)
    pages = len({t.page_key for t in transitions})
    verb = PAST_TENSE.get(action, action)
    noun = "comment" if count == 1 else "comments"
    place = "page" if pages == 1 else "pages"
    if verb.startswith("marked "):
        return f"marked {count} {noun} {verb.removeprefix('marked ')} on {pages} {place}"
    return f"{verb} {count} {noun} on {pages} {place}"
