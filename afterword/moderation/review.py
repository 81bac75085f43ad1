"""``afterword review``: the pending queue one comment at a time, oldest first.

After the pending comments come published comments their authors edited (``revisions``): the
card shows the change as a diff, ``a`` publishes the new text and ``r`` keeps the published
one (``s`` and ``d`` still act on the comment itself).

Single keys drive it (see ``afterword.moderation.keys``): on a terminal without Enter, from
a pipe one character at a time — that is how the tests, and a moderator's scripts, drive it.

Every change is its own transaction through ``afterword.moderation.actions``, so quitting
(or losing the SSH connection) at any point leaves nothing half-done, and ``u`` can step back
through the whole session.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import click

from afterword.errors import ModerationError
from afterword.moderation.actions import (
    PAST_TENSE,
    apply_action,
    edit_body,
    restore_body,
    undo_action,
)
from afterword.moderation.card import END_PROMPT, HELP, PROMPT, render_card, render_revision_card
from afterword.moderation.keys import KeyReader
from afterword.moderation.queue import as_revised, echo_text, list_queue, list_revisions
from afterword.moderation.signals import spam_signals
from afterword.store import Comment, Store, Transition, count_by_status, get_comment
from afterword.store.revisions import (
    Revision,
    RevisionDecision,
    reopen_revision,
    waiting_revision,
)

KEY_ACTIONS = {"a": "approve", "r": "reject", "s": "spam", "d": "delete"}
SUMMARY_WORDS = {
    "approve": "approved",
    "reject": "rejected",
    "spam": "spam",
    "delete": "deleted",
    "edit": "edited",
    "skip": "skipped",
}
QUIT_KEYS = frozenset({"q", "Q", "\x03", "\x04", ""})  # "" is the end of scripted input

Editor = Callable[[str], "str | None"]


def edit_in_editor(text: str) -> str | None:
    """$EDITOR (or $VISUAL) on the Markdown; None when the moderator saved nothing new."""
    edited = click.edit(text, extension=".md", require_save=True)
    return edited if isinstance(edited, str) else None


@dataclass(frozen=True)
class Step:
    """One undoable thing the moderator did, and where in the queue it happened."""

    index: int
    kind: str  # an action name, "edit" or "skip"
    transition: Transition | None = None
    before_edit: Comment | None = None
    decision: RevisionDecision | None = None


@dataclass
class ReviewSummary:
    """What a session did, for the closing line."""

    counts: dict[str, int] = field(default_factory=dict)
    remaining: int = 0

    def text(self) -> str:
        counts = [(word, self.counts.get(kind, 0)) for kind, word in SUMMARY_WORDS.items()]
        done = ", ".join(f"{word} {n}" for word, n in counts if n)
        return f"Review finished: {done or 'nothing changed'}; {self.remaining} still pending."


class Review:
    """A session over a snapshot of the queue; each comment is re-read before it is shown."""

    def __init__(
        self,
        store: Store,
        *,
        actor: str,
        max_links: int,
        read_key: KeyReader,
        edit: Editor = edit_in_editor,
        page: str | None = None,
    ) -> None:
        self.store, self.actor, self.max_links = store, actor, max_links
        self.read_key, self.edit = read_key, edit
        self.queue = list_queue(store, status="pending", page=page)
        self.queue += [comment for comment, _ in list_revisions(store, page=page)]
        self.index = 0
        self.shown: int | None = None  # the comment whose card is on screen
        self.history: list[Step] = []
        self.summary = ReviewSummary()

    def run(self) -> ReviewSummary:
        if not self.queue:
            echo_text("No pending comments.")
            return self.summary
        while self._step():
            pass
        self.summary.remaining = count_by_status(self.store).get("pending", 0)
        echo_text(self.summary.text())
        return self.summary

    def _step(self) -> bool:
        """Show the current comment (or the end), read one key, act; False means quit."""
        if self.index >= len(self.queue):
            return self._at_end(self._ask(END_PROMPT))
        comment = get_comment(self.store, self.queue[self.index].id)
        revision = None
        if comment is not None and comment.status == "approved":
            revision = waiting_revision(self.store, comment.id)
        if comment is None or (comment.status != "pending" and revision is None):
            echo_text(f"#{self.queue[self.index].id} was handled elsewhere; skipping it.")
            self.index += 1
            return True
        if self.shown != comment.id:
            echo_text(self._card(comment, revision))
            self.shown = comment.id
        key = self._ask(PROMPT)
        if key == "e" and revision is not None:
            echo_text("An author's revision is approved (a) or rejected (r), not edited.")
            return True
        return self._handle(key, comment)

    def _ask(self, prompt: str) -> str:
        echo_text(prompt, nl=False)
        key = self.read_key()
        echo_text(key if key.isprintable() else "")
        return key

    def _card(self, comment: Comment, revision: Revision | None) -> str:
        if revision is not None:
            revised = as_revised(comment, revision)
            return render_revision_card(
                comment,
                revision,
                position=self.index + 1,
                total=len(self.queue),
                signals=spam_signals(self.store, revised, max_links=self.max_links),
            )
        signals = spam_signals(self.store, comment, max_links=self.max_links, queue=self.queue)
        parent = get_comment(self.store, comment.parent_id) if comment.parent_id else None
        return render_card(
            comment,
            position=self.index + 1,
            total=len(self.queue),
            signals=signals,
            parent=parent,
        )

    def _handle(self, key: str, comment: Comment) -> bool:
        if key in QUIT_KEYS:
            return False
        if key in KEY_ACTIONS:
            self._act(KEY_ACTIONS[key], comment)
        elif key == "e":
            self._edit(comment)
        elif key == "n":
            self._record(Step(self.index, "skip"))
            self.index += 1
        elif key == "u":
            self._undo()
        elif key == "?":
            echo_text(HELP)
        else:
            echo_text(f"Unknown key {key!r}; press ? for help.")
        return True

    def _at_end(self, key: str) -> bool:
        if key in QUIT_KEYS:
            return False
        if key == "u":
            self._undo()
        else:
            echo_text("Nothing left to review: press u to undo or q to quit.")
        return True

    def _act(self, action: str, comment: Comment) -> None:
        try:
            result = apply_action(self.store, [comment.id], action, actor=self.actor)
        except ModerationError as exc:
            echo_text(f"Error: {exc}")
            self.index += 1
            return
        if result.revisions:
            self._record(Step(self.index, action, decision=result.revisions[0]))
            echo_text(f"#{comment.id}: revision {PAST_TENSE[action]}.")
        else:
            self._record(Step(self.index, action, transition=result.transitions[0]))
            echo_text(f"#{comment.id} {PAST_TENSE[action]}.")
        self.index += 1

    def _edit(self, comment: Comment) -> None:
        try:
            edited = self.edit(comment.body)
        except click.ClickException as exc:  # the editor could not start or exited non-zero
            echo_text(f"Error: {exc.format_message()}")
            return
        if edited is None or edited.strip() == comment.body.strip():
            echo_text("Not changed.")
            return
        try:
            edit_body(self.store, comment.id, edited, actor=self.actor)
        except ModerationError as exc:
            echo_text(f"Error: {exc}")
            return
        self._record(Step(self.index, "edit", before_edit=comment))
        self.shown = None  # show the new text
        echo_text(f"#{comment.id} edited; it is still {comment.status}.")

    def _record(self, step: Step) -> None:
        self.history.append(step)
        self.summary.counts[step.kind] = self.summary.counts.get(step.kind, 0) + 1

    def _undo(self) -> None:
        if not self.history:
            echo_text("Nothing to undo.")
            return
        step = self.history[-1]
        try:
            message = self._revert(step)
        except ModerationError as exc:
            echo_text(f"Error: {exc}")
            return
        self.history.pop()
        self.summary.counts[step.kind] -= 1
        self.index = step.index
        self.shown = None
        echo_text(message)

    def _revert(self, step: Step) -> str:
        if step.transition is not None:
            back = undo_action(self.store, step.transition, actor=self.actor)
            return f"Undid {step.kind} of #{back.comment_id}; it is {back.to_status} again."
        if step.decision is not None:
            reopen_revision(self.store, step.decision, actor=self.actor)
            return f"Undid the {step.kind} of #{step.decision.comment_id}'s revision."
        if step.before_edit is not None:
            restore_body(self.store, step.before_edit, actor=self.actor)
            return f"Undid the edit of #{step.before_edit.id}."
        return "Back to the skipped comment."
