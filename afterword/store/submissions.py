"""The intake's queries: the checks a submission needs, storing it, and the health probe.

The writer thread calls the ``conn`` functions inside its batch transaction, so a parent that
is approved when checked is still approved when the reply is committed, and a duplicate sent
twice in one batch is caught (the first insert is visible to the second check).

Reads for ``/healthz`` and ``/metrics`` use a short-lived connection of their own
(``probe``): in WAL mode readers never wait for the writer, and the writer's connection stays
owned by its thread.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from afterword.errors import StorageError
from afterword.store.comments import find_duplicate, insert_comment
from afterword.store.models import NewComment

__all__ = [
    "HealthReport",
    "check_health",
    "count_approved_for_email",
    "find_duplicate",
    "insert_submission",
    "page_closed",
    "parent_problem",
    "probe",
    "queue_depth",
]

PROBE_TIMEOUT_SECONDS = 1.0


@dataclass(frozen=True)
class HealthReport:
    """What ``/healthz`` shows when the database answers."""

    queue_depth: int


def parent_problem(conn: sqlite3.Connection, parent_id: int, page_key: str) -> str | None:
    """Why ``parent_id`` cannot be replied to on ``page_key``, or None when it can.

    One message for "missing", "not approved" and "another page": the answer must not reveal
    whether an unpublished comment with that id exists.
    """
    row = conn.execute(
        "SELECT status, page_key FROM comments WHERE id = ?", (parent_id,)
    ).fetchone()
    if row is None or row[0] != "approved" or row[1] != page_key:
        return "is not a published comment on this page"
    return None


def page_closed(conn: sqlite3.Connection, page_key: str, close_before: str | None) -> bool:
    """Closed by a moderator (``pages.closed``), or its first approved comment is too old.

    The same rule the builder uses to leave the form out of a thread; here it refuses posts
    that bypass the form.
    """
    row = conn.execute("SELECT closed FROM pages WHERE key = ?", (page_key,)).fetchone()
    if row is None:
        return False
    if row[0]:
        return True
    if close_before is None:
        return False
    first = conn.execute(
        "SELECT min(created) FROM comments WHERE page_key = ? AND status = 'approved'",
        (page_key,),
    ).fetchone()[0]
    return first is not None and first <= close_before


def count_approved_for_email(conn: sqlite3.Connection, email: str) -> int:
    """Approved comments from this address (case-insensitive), for ``auto_approve_after``."""
    if not email:
        return 0
    return int(
        conn.execute(
            "SELECT count(*) FROM comments WHERE email = ? COLLATE NOCASE AND status = 'approved'",
            (email,),
        ).fetchone()[0]
    )


def insert_submission(conn: sqlite3.Connection, new: NewComment) -> int:
    """Store one checked submission inside the caller's transaction; returns its id."""
    return insert_comment(conn, new)


def queue_depth(conn: sqlite3.Connection) -> int:
    """Comments waiting for a moderator (uses the (status, created) index)."""
    return int(conn.execute("SELECT count(*) FROM comments WHERE status = 'pending'").fetchone()[0])


@contextmanager
def probe(path: Path, timeout: float = PROBE_TIMEOUT_SECONDS) -> Iterator[sqlite3.Connection]:
    """A fresh connection to an *existing* database (never creates one), closed afterwards."""
    if not path.is_file():
        raise StorageError(f"{path}: database file is missing")
    try:
        conn = sqlite3.connect(
            f"{path.absolute().as_uri()}?mode=rw", uri=True, timeout=timeout, isolation_level=None
        )
    except sqlite3.Error as exc:
        raise StorageError(f"{path}: cannot open database: {exc}") from None
    try:
        yield conn
    except sqlite3.Error as exc:
        raise StorageError(f"{path}: {exc}") from None
    finally:
        conn.close()


def check_health(path: Path, timeout: float = PROBE_TIMEOUT_SECONDS) -> HealthReport:
    """Read the queue and take (then release at once) the write lock.

    ``BEGIN IMMEDIATE`` writes nothing, but fails when the file cannot be written or another
    process has held the lock for longer than ``timeout`` — the two ways intake would stall.
    """
    with probe(path, timeout) as conn:
        if conn.execute("SELECT 1 FROM meta WHERE key = 'secret'").fetchone() is None:
            raise StorageError(f"{path}: not an afterword database (no site secret)")
        depth = queue_depth(conn)
        conn.execute("BEGIN IMMEDIATE")
        conn.execute("ROLLBACK")
    return HealthReport(queue_depth=depth)
