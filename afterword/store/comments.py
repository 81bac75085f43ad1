"""Comments: storing submissions and moving them between statuses.

A comment entering ``approved`` here also queues the reply mail its parent's author asked
for, in the same transaction (``store.subscriptions``).

Every change that alters what a page shows — a comment entering or leaving ``approved``, or an
approved comment's text changing — bumps the page's version in the same transaction, which is
all the builder needs to know to stay incremental.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from afterword.errors import ModerationError
from afterword.store.db import Store
from afterword.store.models import Comment, NewComment, utc_now
from afterword.store.pages import bump_page, ensure_page
from afterword.store.subscriptions import enqueue_reply_mails

# action -> (status it leads to, statuses it may start from)
ACTIONS: dict[str, tuple[str, frozenset[str]]] = {
    "approve": ("approved", frozenset({"pending", "rejected", "spam"})),
    "reject": ("rejected", frozenset({"pending", "approved", "spam"})),
    "spam": ("spam", frozenset({"pending", "approved", "rejected"})),
    "delete": ("deleted", frozenset({"pending", "approved", "rejected", "spam"})),
}


@dataclass(frozen=True)
class Transition:
    """What a moderation action did, so that it can be shown and undone."""

    comment_id: int
    page_key: str
    from_status: str
    to_status: str


def insert_comment(conn: sqlite3.Connection, new: NewComment) -> int:
    """Insert inside the caller's transaction; returns the new id."""
    ensure_page(conn, new.page_key, new.page_url, new.page_title)
    now = utc_now()
    created = new.created or now
    cursor = conn.execute(
        """INSERT INTO comments (page_key, parent_id, status, author, email, website, body,
               body_html, renderer, created, updated, ip_hash, body_hash, source, external_id,
               extra)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
        (
            new.page_key,
            new.parent_id,
            new.status,
            new.author,
            new.email,
            new.website,
            new.body,
            new.body_html,
            new.renderer,
            created,
            now,
            new.ip_hash,
            new.body_hash,
            new.source,
            new.external_id,
            new.extra,
        ),
    )
    if new.status == "approved":
        bump_page(conn, new.page_key)
    assert cursor.lastrowid is not None
    return cursor.lastrowid


def add_comment(store: Store, new: NewComment) -> Comment:
    with store.write() as conn:
        comment_id = insert_comment(conn, new)
        row = conn.execute("SELECT * FROM comments WHERE id = ?", (comment_id,)).fetchone()
    return Comment.from_row(row)


def get_comment(store: Store, comment_id: int) -> Comment | None:
    row = store.conn.execute("SELECT * FROM comments WHERE id = ?", (comment_id,)).fetchone()
    return None if row is None else Comment.from_row(row)


def list_comments(
    store: Store,
    *,
    status: str | None = "pending",
    page: str | None = None,
    limit: int | None = None,
) -> list[Comment]:
    """The queue, oldest first; ``status=None`` lists every status."""
    clauses, params = [], []
    if status is not None:
        clauses.append("status = ?")
        params.append(status)
    if page is not None:
        clauses.append("page_key = ?")
        params.append(page)
    where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
    sql = f"SELECT * FROM comments {where} ORDER BY created, id"
    if limit is not None:
        sql += f" LIMIT {int(limit)}"
    return [Comment.from_row(r) for r in store.conn.execute(sql, params)]


def count_by_status(store: Store) -> dict[str, int]:
    rows = store.conn.execute("SELECT status, count(*) FROM comments GROUP BY status")
    return {str(r[0]): int(r[1]) for r in rows}


def count_approved_by_email(store: Store, email: str) -> int:
    """Approved comments from this address, through the ``comments_email_key`` index."""
    return int(
        store.scalar(
            "SELECT count(*) FROM comments WHERE email_key = lower(trim(?)) AND email_key != '' "
            "AND status = 'approved'",
            (email,),
        )
    )


def find_duplicate(
    conn: sqlite3.Connection, *, body_hash: str, page_key: str, ip_hash: str, since: str
) -> int | None:
    row = conn.execute(
        """SELECT id FROM comments WHERE body_hash = ? AND page_key = ? AND ip_hash = ?
           AND created >= ? LIMIT 1""",
        (body_hash, page_key, ip_hash, since),
    ).fetchone()
    return None if row is None else int(row[0])


def moderate(
    store: Store, ids: Sequence[int], action: str, *, actor: str, reason: str = ""
) -> list[Transition]:
    """Apply one action to many comments in one transaction; any bad id changes nothing."""
    if action not in ACTIONS:
        raise ModerationError(f"unknown action {action!r}")
    to_status, allowed_from = ACTIONS[action]
    with store.write() as conn:
        found = fetch_for_update(conn, ids)
        for comment_id in ids:
            current = found.get(comment_id)
            if current is None:
                raise ModerationError(f"no comment with id {comment_id}")
            if current.status not in allowed_from:
                raise ModerationError(
                    f"comment {comment_id} is already {current.status}; cannot {action} it"
                )
        transitions = [
            set_status(conn, found[i], to_status, action, actor, reason) for i in dict.fromkeys(ids)
        ]
        if to_status == "approved":  # the subscribed parents' authors hear of these replies
            enqueue_reply_mails(conn, [t.comment_id for t in transitions])
        return transitions


def restore_status(store: Store, transition: Transition, *, actor: str) -> Transition:
    """Undo: put a comment back where a transition found it (review's `u`)."""
    with store.write() as conn:
        current = fetch_for_update(conn, [transition.comment_id]).get(transition.comment_id)
        if current is None or current.status != transition.to_status:
            raise ModerationError(f"comment {transition.comment_id} changed since; cannot undo")
        done = set_status(conn, current, transition.from_status, "undo", actor, "")
        if done.to_status == "approved":
            enqueue_reply_mails(conn, [done.comment_id])
        return done


def edit_comment(
    store: Store, comment_id: int, *, body: str, body_html: str, renderer: str, actor: str
) -> Comment:
    """Replace the text (a moderator's fix); the page is rebuilt if the comment is visible."""
    with store.write() as conn:
        current = fetch_for_update(conn, [comment_id]).get(comment_id)
        if current is None:
            raise ModerationError(f"no comment with id {comment_id}")
        conn.execute(
            "UPDATE comments SET body = ?, body_html = ?, renderer = ?, updated = ? WHERE id = ?",
            (body, body_html, renderer, utc_now(), comment_id),
        )
        log_transition(conn, comment_id, "edit", current.status, current.status, actor, "")
        if current.status == "approved":
            bump_page(conn, current.page_key)
        row = conn.execute("SELECT * FROM comments WHERE id = ?", (comment_id,)).fetchone()
    return Comment.from_row(row)


def log_action(
    conn: sqlite3.Connection, comment_id: int, action: str, status: str, actor: str, reason: str
) -> None:
    """A moderation-log entry for something other than a status change (a reply posted)."""
    log_transition(conn, comment_id, action, status, status, actor, reason)


def moderation_history(store: Store, comment_id: int) -> list[sqlite3.Row]:
    return store.query(
        "SELECT * FROM moderation_log WHERE comment_id = ? ORDER BY id", (comment_id,)
    )


def fetch_for_update(conn: sqlite3.Connection, ids: Iterable[int]) -> dict[int, Comment]:
    """The comments ``ids`` as they stand in this write transaction (shared with revisions)."""
    wanted = list(dict.fromkeys(ids))
    if not wanted:
        return {}
    marks = ",".join("?" * len(wanted))
    rows = conn.execute(f"SELECT * FROM comments WHERE id IN ({marks})", wanted)
    return {int(r["id"]): Comment.from_row(r) for r in rows}


def set_status(
    conn: sqlite3.Connection,
    current: Comment,
    to_status: str,
    action: str,
    actor: str,
    reason: str,
) -> Transition:
    """One status change, logged, bumping the page when it changes what the page shows."""
    conn.execute(
        "UPDATE comments SET status = ?, updated = ? WHERE id = ?",
        (to_status, utc_now(), current.id),
    )
    log_transition(conn, current.id, action, current.status, to_status, actor, reason)
    if "approved" in (current.status, to_status):
        bump_page(conn, current.page_key)
    return Transition(current.id, current.page_key, current.status, to_status)


def log_transition(
    conn: sqlite3.Connection,
    comment_id: int,
    action: str,
    from_status: str,
    to_status: str,
    actor: str,
    reason: str,
) -> None:
    conn.execute(
        """INSERT INTO moderation_log (comment_id, action, from_status, to_status, actor, reason,
               at) VALUES (?, ?, ?, ?, ?, ?, ?)""",
        (comment_id, action, from_status, to_status, actor, reason, utc_now()),
    )
