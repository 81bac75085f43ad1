"""The intake's queries: the checks a submission needs, storing it, and the health probe.

The writer thread calls the ``conn`` functions inside its batch transaction, so a parent that
is approved when checked is still approved when the reply is committed. They take a whole
batch at a time (see below, and ``intake.batch`` for the rules built on them).

Reads for ``/healthz`` and ``/metrics`` use a short-lived connection of their own
(``probe``): in WAL mode readers never wait for the writer, and the writer's connection stays
owned by its thread.
"""

from __future__ import annotations

import json
import sqlite3
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from afterword.errors import StorageError
from afterword.store.errors import sqlite_errors
from afterword.store.models import NewComment, utc_now

__all__ = [
    "DuplicateKey",
    "HealthReport",
    "approved_counts",
    "check_health",
    "closed_among",
    "duplicates_among",
    "ensure_pages",
    "insert_batch",
    "probe",
    "published_among",
    "queue_depth",
]

PROBE_TIMEOUT_SECONDS = 1.0

# Column order of a comment row in ``insert_batch``'s JSON array.
_COLUMNS = (
    "page_key", "parent_id", "status", "author", "email", "website", "body", "body_html",
    "renderer", "created", "updated", "ip_hash", "body_hash", "source", "external_id", "extra",
)  # fmt: skip


@dataclass(frozen=True)
class HealthReport:
    """What ``/healthz`` shows when the database answers."""

    queue_depth: int


# Whole-batch statements for the intake's writer. Each is ONE sqlite3 call, whatever the batch
# size: the writer thread shares the GIL with a busy event loop and waits for it after every
# call, so statements per batch -- not rows -- decide how long a transaction holds the lock.
# The rows travel as one JSON array (json_each), which keeps the SQL fixed and cached.


def closed_among(
    conn: sqlite3.Connection, page_keys: Iterable[str], close_before: str | None
) -> set[str]:
    """The pages among ``page_keys`` that ``page_closed`` would call closed."""
    rows = conn.execute(
        """SELECT p.key FROM pages p
           WHERE p.key IN (SELECT value FROM json_each(?1))
             AND (p.closed OR (?2 IS NOT NULL AND (
                   SELECT min(c.created) FROM comments c
                   WHERE c.page_key = p.key AND c.status = 'approved') <= ?2))""",
        (json.dumps(sorted(set(page_keys))), close_before),
    ).fetchall()
    return {str(row[0]) for row in rows}


def approved_counts(conn: sqlite3.Connection, emails: Iterable[str]) -> dict[str, int]:
    """Approved comments per address (for ``auto_approve_after``), for a whole batch at once.

    Keyed by the address as given; blank addresses count nothing. Both sides are normalized
    by the expression behind ``comments.email_key`` (migration ``0003_email_key``), so the
    lookup walks the ``comments_email_key`` index: its cost follows the answer, not the
    number of approved comments in the database.
    """
    wanted = sorted({email for email in emails if email.strip()})
    if not wanted:
        return {}
    rows = conn.execute(
        """SELECT j.value, (SELECT count(*) FROM comments c
                            WHERE c.email_key = lower(trim(j.value)) AND c.email_key != ''
                              AND c.status = 'approved')
           FROM json_each(?) j""",
        (json.dumps(wanted),),
    ).fetchall()
    return {str(row[0]): int(row[1]) for row in rows}


def published_among(conn: sqlite3.Connection, ids: Iterable[int]) -> dict[int, str]:
    """Approved comments among ``ids``: id → page key (the rest may not be replied to)."""
    wanted = sorted(set(ids))
    if not wanted:
        return {}
    rows = conn.execute(
        """SELECT id, page_key FROM comments
           WHERE id IN (SELECT value FROM json_each(?)) AND status = 'approved'""",
        (json.dumps(wanted),),
    ).fetchall()
    return {int(row[0]): str(row[1]) for row in rows}


DuplicateKey = tuple[str, str, str]  # (body_hash, page_key, ip_hash)


def duplicates_among(
    conn: sqlite3.Connection, keys: Iterable[DuplicateKey], since: str
) -> set[DuplicateKey]:
    """The keys that match a comment created at or after ``since`` (``find_duplicate``'s
    rule, for many submissions at once; uses the ``comments_duplicate`` index)."""
    wanted = sorted(set(keys))
    if not wanted:
        return set()
    rows = conn.execute(
        """SELECT DISTINCT c.body_hash, c.page_key, c.ip_hash
           FROM json_each(?1) j JOIN comments c
             ON c.body_hash = json_extract(j.value, '$[0]')
            AND c.page_key = json_extract(j.value, '$[1]')
            AND c.ip_hash = json_extract(j.value, '$[2]')
            AND c.created >= ?2""",
        (json.dumps(wanted), since),
    ).fetchall()
    return {(str(r[0]), str(r[1]), str(r[2])) for r in rows}


def ensure_pages(conn: sqlite3.Connection, pages: dict[str, str]) -> None:
    """``ensure_page`` for every page key → url in one statement."""
    if not pages:
        return
    conn.execute(
        """INSERT INTO pages (key, url, title, created)
           SELECT json_extract(value, '$[0]'), json_extract(value, '$[1]'), '', ?2
           FROM json_each(?1) WHERE true
           ON CONFLICT (key) DO UPDATE SET
             url = CASE WHEN pages.url = '' THEN excluded.url ELSE pages.url END""",
        (json.dumps(sorted(pages.items())), utc_now()),
    )


def insert_batch(conn: sqlite3.Connection, batch: Sequence[NewComment]) -> list[int]:
    """Insert checked submissions (pages already ensured) in one statement; their ids.

    ``comments.id`` is AUTOINCREMENT and we hold the write lock, so one INSERT … SELECT
    numbers its rows consecutively in ``json_each`` order: the ids are the last one and the
    ``len(batch) - 1`` before it. A page's version grows by one per approved comment, as
    ``insert_comment`` does it.
    """
    if not batch:
        return []
    rows = [
        [getattr(new, column) for column in _COLUMNS[:9]]
        + [new.created or utc_now()] * 2
        + [getattr(new, column) for column in _COLUMNS[11:]]
        for new in batch
    ]
    select = ", ".join(f"json_extract(value, '$[{i}]')" for i in range(len(_COLUMNS)))
    cursor = conn.execute(
        f"INSERT INTO comments ({', '.join(_COLUMNS)}) "  # fixed column names, values bound
        f"SELECT {select} FROM json_each(?) ORDER BY key",
        (json.dumps(rows),),
    )
    last = cursor.lastrowid
    if cursor.rowcount != len(batch) or last is None:
        raise StorageError(f"batch insert stored {cursor.rowcount} of {len(batch)} rows")
    approved = Counter(new.page_key for new in batch if new.status == "approved")
    if approved:
        conn.execute(
            """UPDATE pages SET version = version + bumps.n
               FROM (SELECT json_extract(value, '$[0]') AS key, json_extract(value, '$[1]') AS n
                     FROM json_each(?)) AS bumps
               WHERE pages.key = bumps.key""",
            (json.dumps(sorted(approved.items())),),
        )
    return list(range(last - len(batch) + 1, last + 1))


def queue_depth(conn: sqlite3.Connection) -> int:
    """Comments waiting for a moderator (uses the (status, created) index)."""
    return int(conn.execute("SELECT count(*) FROM comments WHERE status = 'pending'").fetchone()[0])


@contextmanager
def probe(path: Path, timeout: float = PROBE_TIMEOUT_SECONDS) -> Iterator[sqlite3.Connection]:
    """A fresh connection to an *existing* database (never creates one), closed afterwards."""
    if not path.is_file():
        raise StorageError(f"{path}: database file is missing")
    with sqlite_errors(path, "cannot open database"):
        conn = sqlite3.connect(
            f"{path.absolute().as_uri()}?mode=rw", uri=True, timeout=timeout, isolation_level=None
        )
    try:
        with sqlite_errors(path, "cannot use database"):
            yield conn
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
