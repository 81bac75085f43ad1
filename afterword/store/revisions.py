"""Changes a commenter makes to their own comment, and the revisions a moderator decides on.

A comment nobody has published yet (``pending``, or ``spam``, which its author was told is
pending) is simply replaced: same id, same place in the queue, a moderation-log entry "edited
by author". A published one keeps its text until a moderator approves the author's
*revision* (table ``revisions``, at most one pending per comment: a second edit replaces the
first); approving it replaces the text, stamps ``comments.edited`` and bumps the page's
version, in one transaction, so the next build republishes the page with "edited".

The window is checked here, inside the write transaction, against the status at that moment:
a moderator approving the comment between the author's request and its commit cannot let a
stale rule through. The outcome is returned as a value (``AuthorChange.outcome``), not raised,
so that the intake decides what each one means in HTTP.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from afterword.errors import ModerationError
from afterword.store.comments import fetch_for_update, log_transition, set_status
from afterword.store.db import Store
from afterword.store.models import Comment, _Row, format_time, parse_time, utc_now
from afterword.store.pages import bump_page

AUTHOR = "author"  # the moderation log's actor for a commenter's own changes
UNPUBLISHED = frozenset({"pending", "spam"})  # replaced in place; its author sees "pending"
REVISION_STATUSES = ("pending", "approved", "rejected", "withdrawn")  # migration 0005's CHECK

# AuthorChange.outcome values
REPLACED, REVISED, DELETED = "replaced", "revised", "deleted"
MISSING, NOT_EDITABLE, WINDOW_CLOSED = "missing", "not_editable", "window_closed"


@dataclass(frozen=True)
class Revision(_Row):
    id: int
    comment_id: int
    status: str
    body: str
    body_html: str
    renderer: str
    body_hash: str
    created: str
    decided: str | None


@dataclass(frozen=True)
class NewText:
    """An author's new text, validated and rendered by the caller."""

    body: str
    body_html: str
    renderer: str
    body_hash: str


@dataclass(frozen=True)
class AuthorChange:
    """What an author's edit or delete did (or why it did nothing)."""

    outcome: str
    comment: Comment | None = None
    revision_id: int | None = None


@dataclass(frozen=True)
class RevisionDecision:
    """A moderator's approval or rejection of one revision, with what it replaced (undo)."""

    comment_id: int
    page_key: str
    revision_id: int
    action: str  # "approve" or "reject"
    before: Comment


def live_since(conn: sqlite3.Connection, comment: Comment) -> str:
    """When the comment FIRST went live: its creation if it was stored approved (a trusted
    author, an import: its first log entry, if any, starts from ``approved``), else its first
    move *into* ``approved``.

    The first, not the last: a moderator who rejects, marks as spam or undoes an approval and
    then approves again must not hand the author a fresh window to rewrite a comment readers
    have seen for days. An author's revision and its approval stay ``approved``, so they are
    no move into it and never reopen the window either.
    """
    first = conn.execute(
        "SELECT from_status FROM moderation_log WHERE comment_id = ? ORDER BY id LIMIT 1",
        (comment.id,),
    ).fetchone()
    if first is None or first[0] == "approved":
        return comment.created
    row = conn.execute(
        """SELECT min(at) FROM moderation_log
           WHERE comment_id = ? AND to_status = 'approved' AND from_status != 'approved'""",
        (comment.id,),
    ).fetchone()
    return str(row[0]) if row is not None and row[0] is not None else comment.created


def _window_open(
    conn: sqlite3.Connection, comment: Comment, window: timedelta, now: datetime
) -> bool:
    if comment.status in UNPUBLISHED:
        return True
    return comment.status == "approved" and now < parse_time(live_since(conn, comment)) + window


def _refusal(
    conn: sqlite3.Connection, current: Comment | None, window: timedelta, now: datetime
) -> AuthorChange | None:
    """The outcome that refuses the change, or None when the author may make it."""
    if current is None:
        return AuthorChange(MISSING)
    if current.status not in UNPUBLISHED and current.status != "approved":
        return AuthorChange(NOT_EDITABLE, current)
    if not _window_open(conn, current, window, now):
        return AuthorChange(WINDOW_CLOSED, current)
    return None


def author_edit(
    store: Store, comment_id: int, text: NewText, *, window: timedelta, now: datetime
) -> AuthorChange:
    """Replace an unpublished comment, or queue a revision of a published one."""
    stamp = format_time(now)
    with store.write() as conn:
        current = fetch_for_update(conn, [comment_id]).get(comment_id)
        refused = _refusal(conn, current, window, now)
        if refused is not None:
            return refused
        assert current is not None
        if current.status in UNPUBLISHED:
            conn.execute(
                """UPDATE comments SET body = ?, body_html = ?, renderer = ?, body_hash = ?,
                       updated = ? WHERE id = ?""",
                (text.body, text.body_html, text.renderer, text.body_hash, stamp, comment_id),
            )
            log_transition(
                conn, comment_id, "edit", current.status, current.status, AUTHOR, "edited by author"
            )
            return AuthorChange(REPLACED, _read(conn, comment_id))
        conn.execute(
            """INSERT INTO revisions (comment_id, body, body_html, renderer, body_hash, created)
               VALUES (?, ?, ?, ?, ?, ?)
               ON CONFLICT (comment_id) WHERE status = 'pending' DO UPDATE SET
                 body = excluded.body, body_html = excluded.body_html,
                 renderer = excluded.renderer, body_hash = excluded.body_hash,
                 created = excluded.created""",
            (comment_id, text.body, text.body_html, text.renderer, text.body_hash, stamp),
        )
        revision = conn.execute(
            "SELECT id FROM revisions WHERE comment_id = ? AND status = 'pending'", (comment_id,)
        ).fetchone()
        log_transition(
            conn, comment_id, "revise", "approved", "approved", AUTHOR, "revision by author"
        )
        return AuthorChange(REVISED, current, int(revision[0]))


def author_delete(
    store: Store, comment_id: int, *, window: timedelta, now: datetime
) -> AuthorChange:
    """Status ``deleted`` (the page is bumped if it was published); a pending revision goes."""
    with store.write() as conn:
        current = fetch_for_update(conn, [comment_id]).get(comment_id)
        refused = _refusal(conn, current, window, now)
        if refused is not None:
            return refused
        assert current is not None
        _withdraw(conn, [comment_id], format_time(now))
        set_status(conn, current, "deleted", "delete", AUTHOR, "deleted by author")
        return AuthorChange(DELETED, _read(conn, comment_id))


def pending_revisions(conn: sqlite3.Connection, ids: Iterable[int]) -> dict[int, Revision]:
    """Published comments among ``ids`` with a revision waiting: comment id → revision."""
    wanted = list(dict.fromkeys(ids))
    if not wanted:
        return {}
    marks = ",".join("?" * len(wanted))
    rows = conn.execute(
        f"""SELECT r.* FROM revisions r JOIN comments c ON c.id = r.comment_id
            WHERE r.status = 'pending' AND c.status = 'approved'
              AND r.comment_id IN ({marks})""",
        wanted,
    ).fetchall()
    return {int(r["comment_id"]): Revision.from_row(r) for r in rows}


def waiting_revision(store: Store, comment_id: int) -> Revision | None:
    """The revision waiting on this comment, if it is published and has one."""
    return pending_revisions(store.conn, [comment_id]).get(comment_id)


def revision_queue(store: Store, page: str | None = None) -> list[tuple[Comment, Revision]]:
    """Published comments whose author's revision waits for a moderator, oldest edit first."""
    where = "AND c.page_key = ?" if page is not None else ""
    params: tuple[str, ...] = (page,) if page is not None else ()
    rows = store.conn.execute(
        f"""SELECT r.id AS revision_id FROM revisions r JOIN comments c ON c.id = r.comment_id
            WHERE r.status = 'pending' AND c.status = 'approved' {where}
            ORDER BY r.created, r.id""",
        params,
    ).fetchall()
    queue = []
    for row in rows:
        revision = Revision.from_row(
            store.conn.execute("SELECT * FROM revisions WHERE id = ?", (row[0],)).fetchone()
        )
        queue.append((_read(store.conn, revision.comment_id), revision))
    return queue


def decide_revisions(
    conn: sqlite3.Connection,
    revisions: Sequence[Revision],
    action: str,
    *,
    actor: str,
    now: datetime,
) -> list[RevisionDecision]:
    """Approve (the text is replaced, ``edited`` stamped, the page bumped) or reject each
    revision, inside the caller's transaction."""
    stamp = format_time(now)
    decisions = []
    for revision in revisions:
        before = _read(conn, revision.comment_id)
        if action == "approve":
            conn.execute(
                """UPDATE comments SET body = ?, body_html = ?, renderer = ?, body_hash = ?,
                       edited = ?, updated = ? WHERE id = ?""",
                (
                    revision.body,
                    revision.body_html,
                    revision.renderer,
                    revision.body_hash,
                    stamp,
                    stamp,
                    revision.comment_id,
                ),
            )
            bump_page(conn, before.page_key)
        conn.execute(
            "UPDATE revisions SET status = ?, decided = ? WHERE id = ?",
            ("approved" if action == "approve" else "rejected", stamp, revision.id),
        )
        reason = f"revision {revision.id}"
        log_transition(
            conn, revision.comment_id, f"{action}_revision", "approved", "approved", actor, reason
        )
        decisions.append(
            RevisionDecision(revision.comment_id, before.page_key, revision.id, action, before)
        )
    return decisions


def reopen_revision(store: Store, decision: RevisionDecision, *, actor: str) -> None:
    """Undo a decision: the text exactly as it was, the revision pending again — refused if
    the comment moved on since (another revision waits, or its status changed)."""
    with store.write() as conn:
        before = decision.before
        current = _read(conn, before.id)
        waiting = pending_revisions(conn, [before.id])
        if current.status != "approved" or waiting:
            raise ModerationError(f"comment {before.id} changed since; cannot undo")
        conn.execute(
            """UPDATE comments SET body = ?, body_html = ?, renderer = ?, body_hash = ?,
                   edited = ?, updated = ? WHERE id = ?""",
            (
                before.body,
                before.body_html,
                before.renderer,
                before.body_hash,
                before.edited,
                utc_now(),
                before.id,
            ),
        )
        conn.execute(
            "UPDATE revisions SET status = 'pending', decided = NULL WHERE id = ?",
            (decision.revision_id,),
        )
        if decision.action == "approve":
            bump_page(conn, before.page_key)
        log_transition(
            conn,
            before.id,
            "undo",
            "approved",
            "approved",
            actor,
            f"revision {decision.revision_id}",
        )


def forget_revisions(conn: sqlite3.Connection, ids: Sequence[int], stamp: str) -> None:
    """Erasure in ``delete`` mode: the texts of every revision of these comments are emptied
    (a waiting one is withdrawn), so no copy of the person's words outlives the comment."""
    if not ids:
        return
    _withdraw(conn, ids, stamp)
    marks = ",".join("?" * len(ids))
    conn.execute(
        f"UPDATE revisions SET body = '', body_html = '', body_hash = '' "
        f"WHERE comment_id IN ({marks})",
        tuple(ids),
    )


def _withdraw(conn: sqlite3.Connection, ids: Sequence[int], stamp: str) -> None:
    marks = ",".join("?" * len(ids))
    conn.execute(
        f"UPDATE revisions SET status = 'withdrawn', decided = ? "
        f"WHERE status = 'pending' AND comment_id IN ({marks})",
        (stamp, *ids),
    )


def _read(conn: sqlite3.Connection, comment_id: int) -> Comment:
    return Comment.from_row(
        conn.execute("SELECT * FROM comments WHERE id = ?", (comment_id,)).fetchone()
    )
