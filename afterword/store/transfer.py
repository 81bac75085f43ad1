"""Queries for moving comments in and out: bulk import, export, restore, and erasure.

An import is staged in a temporary database while the file is parsed, then moved into the
store in ONE transaction: a file that fails half-way leaves nothing behind, and the intake's
writers wait only for the move (seconds), not for the parse (minutes).
"""

from __future__ import annotations

import json
import sqlite3
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from afterword.errors import ImportFailed
from afterword.store.db import Store
from afterword.store.models import NewComment
from afterword.store.pages import bump_page, ensure_page
from afterword.store.revisions import forget_revisions

COMMENT_COLUMNS = (
    "id", "page_key", "parent_id", "status", "author", "email", "website", "body", "body_html",
    "renderer", "created", "updated", "ip_hash", "body_hash", "source", "external_id", "extra",
    "edited",
)  # fmt: skip
PAGE_COLUMNS = ("key", "url", "title", "closed", "created")
LOG_COLUMNS = ("id", "comment_id", "action", "from_status", "to_status", "actor", "reason", "at")
REVISION_COLUMNS = (
    "id", "comment_id", "status", "body", "body_html", "renderer", "body_hash", "created",
    "decided",
)  # fmt: skip
ERASED_AUTHOR = "Anonymous"
_PARENT = "json_extract(c.extra, '$.parent')"
_STAGED = (
    "page_key, status, author, email, website, body, body_html, renderer, created, updated, "
    "ip_hash, body_hash, source, external_id, extra"
)
_STAGING_SCHEMA = f"""
PRAGMA journal_mode = OFF;
PRAGMA synchronous = OFF;
CREATE TABLE pages (key TEXT PRIMARY KEY, url TEXT, title TEXT);
CREATE TABLE rows (seq INTEGER PRIMARY KEY, {_STAGED});
"""


class ImportWriter:
    """Stages imported comments in a private temporary database, in batches.

    Parsing a large export takes minutes; holding the write lock that long would make the
    intake fail with "database is locked". So rows are staged first, and ``commit_import``
    moves them in one short transaction. A file that fails to parse never reaches the store.
    """

    def __init__(self, batch: int = 1000) -> None:
        self._folder = tempfile.TemporaryDirectory(prefix="afterword-import-")
        self.path = Path(self._folder.name) / "staging.sqlite"
        self.conn = sqlite3.connect(self.path, isolation_level=None)
        self.conn.executescript(_STAGING_SCHEMA)
        self.conn.execute("BEGIN")
        self.batch = batch
        self.queued = 0
        self._pending: list[tuple[Any, ...]] = []
        self._pages: set[str] = set()

    def add(self, new: NewComment, now: str) -> None:
        if new.page_key not in self._pages:
            self.conn.execute(
                "INSERT INTO pages (key, url, title) VALUES (?, ?, ?)",
                (new.page_key, new.page_url, new.page_title),
            )
            self._pages.add(new.page_key)
        self.queued += 1
        self._pending.append(
            (new.page_key, new.status, new.author, new.email, new.website, new.body,
             new.body_html, new.renderer, new.created or now, now, new.ip_hash, new.body_hash,
             new.source, new.external_id, new.extra)
        )  # fmt: skip
        if len(self._pending) >= self.batch:
            self.flush()

    def flush(self) -> None:
        self.conn.executemany(
            f"INSERT INTO rows ({_STAGED}) VALUES ({', '.join('?' * 15)})", self._pending
        )
        self._pending.clear()

    def close(self) -> None:
        self.conn.close()
        self._folder.cleanup()

    def __enter__(self) -> ImportWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


@dataclass(frozen=True)
class ImportResult:
    """What moving the staged rows did: added rows by status, threading repairs, pages."""

    counts: dict[str, int]
    relinked: list[tuple[str, str]]
    pages_bumped: int


class _Rollback(Exception):
    """Undoes a dry run once its result is known."""


def commit_import(
    store: Store, writer: ImportWriter, source: str, *, dry_run: bool = False
) -> ImportResult:
    """Move the staged rows in one transaction (rolled back again for a dry run).

    ``ON CONFLICT DO NOTHING`` against the unique ``(source, external_id)`` index makes a
    second import of the same file add nothing. Replies are linked afterwards, in SQL, so a
    parent later in the file (or from an earlier import of the source) is found.
    """
    writer.flush()
    writer.conn.execute("COMMIT")
    store.conn.execute("ATTACH DATABASE ? AS staging", (str(writer.path),))
    result = ImportResult({}, [], 0)
    try:
        with store.write() as conn:
            since = int(conn.execute("SELECT coalesce(max(id), 0) FROM comments").fetchone()[0])
            for key, url, title in conn.execute("SELECT * FROM staging.pages").fetchall():
                ensure_page(conn, key, url, title)
            conn.execute(
                f"""INSERT INTO main.comments ({_STAGED}) SELECT {_STAGED} FROM staging.rows
                    WHERE true ORDER BY seq
                    ON CONFLICT (source, external_id) WHERE external_id IS NOT NULL DO NOTHING"""
            )
            relinked = _link_parents(conn, source, since) + _break_cycles(conn, since)
            result = ImportResult(_counts(conn, since), relinked, _bump_pages(conn, since))
            if dry_run:
                raise _Rollback
    except _Rollback:
        pass
    finally:
        store.conn.execute("DETACH DATABASE staging")
    return result


def _counts(conn: sqlite3.Connection, since: int) -> dict[str, int]:
    rows = conn.execute(
        "SELECT status, count(*) FROM comments WHERE id > ? GROUP BY status", (since,)
    )
    return {str(status): int(n) for status, n in rows}


def _link_parents(conn: sqlite3.Connection, source: str, since: int) -> list[tuple[str, str]]:
    """Set parent ids from the parents' external ids; returns (external id, why) misses."""
    conn.execute(
        f"""UPDATE comments AS c SET parent_id = p.id FROM comments AS p
            WHERE c.id > ? AND c.parent_id IS NULL AND {_PARENT} IS NOT NULL
              AND p.source = ? AND p.external_id = {_PARENT}
              AND p.page_key = c.page_key AND p.id != c.id""",
        (since, source),
    )
    misses = conn.execute(
        f"""SELECT c.external_id, {_PARENT}, p.id FROM comments AS c
            LEFT JOIN comments AS p ON p.source = ? AND p.external_id = {_PARENT}
            WHERE c.id > ? AND c.parent_id IS NULL AND {_PARENT} IS NOT NULL ORDER BY c.id""",
        (source, since),
    ).fetchall()
    return [(str(ext), _miss_reason(str(parent), pid)) for ext, parent, pid in misses]


def _break_cycles(conn: sqlite3.Connection, since: int) -> list[tuple[str, str]]:
    """Replies whose parent chain loops back (a damaged export) become top-level."""
    parents: dict[int, int] = dict(
        conn.execute(
            "SELECT id, parent_id FROM comments WHERE id > ? AND parent_id IS NOT NULL", (since,)
        ).fetchall()
    )
    broken: list[tuple[str, str]] = []
    for start in list(parents):
        seen: set[int] = set()
        node: int | None = start
        while node is not None and node in parents and node not in seen:
            seen.add(node)
            node = parents[node]
        if node is not None and node in seen:
            conn.execute("UPDATE comments SET parent_id = NULL WHERE id = ?", (node,))
            ext = conn.execute("SELECT external_id FROM comments WHERE id = ?", (node,)).fetchone()
            parents.pop(node)
            broken.append((str(ext[0]), "orphan: its parent chain is a cycle"))
    return broken


def _bump_pages(conn: sqlite3.Connection, since: int) -> int:
    """Mark every page that gained an approved comment, so the next build publishes it."""
    keys = conn.execute(
        "SELECT DISTINCT page_key FROM comments WHERE id > ? AND status = 'approved'", (since,)
    ).fetchall()
    for (key,) in keys:
        bump_page(conn, key)
    return len(keys)


def _miss_reason(parent: str, parent_id: int | None) -> str:
    if parent_id is None:
        return f"orphan: parent {parent} is not in the file or the database"
    return f"orphan: parent {parent} is on another page"


def legacy_external_ids(store: Store, source: str) -> set[tuple[str, str]]:
    """(external id, page key) of this source's comments stored under an unscoped id (one
    without "/"): WordPress comments imported before ids were scoped by post."""
    rows = store.conn.execute(
        """SELECT external_id, page_key FROM comments
           WHERE source = ? AND external_id IS NOT NULL AND instr(external_id, '/') = 0""",
        (source,),
    )
    return {(str(ext), str(key)) for ext, key in rows}


def iter_rows(
    store: Store, table: str, columns: tuple[str, ...], order: str
) -> Iterator[dict[str, Any]]:
    """Every row of one table in a stable order (streaming: the export never holds it all)."""
    sql = f"SELECT {', '.join(columns)} FROM {table} ORDER BY {order}"
    for row in store.conn.execute(sql):
        yield dict(zip(columns, row, strict=True))


def person_rows(store: Store, email: str) -> tuple[list[dict[str, Any]], ...]:
    """(pages, comments, moderation log) touching comments written with this e-mail."""
    cols = ", ".join(f"c.{c}" for c in COMMENT_COLUMNS)
    comments = [
        dict(zip(COMMENT_COLUMNS, r, strict=True))
        for r in store.conn.execute(
            f"SELECT {cols} FROM comments AS c WHERE c.email_key = lower(trim(?)) ORDER BY c.id",
            (email,),
        )
    ]
    ids = [c["id"] for c in comments]
    keys = sorted({c["page_key"] for c in comments})
    pages = [p for key in keys for p in _select(store, "pages", PAGE_COLUMNS, "key", key)]
    log = [e for i in ids for e in _select(store, "moderation_log", LOG_COLUMNS, "comment_id", i)]
    return pages, comments, log


def _select(
    store: Store, table: str, columns: tuple[str, ...], column: str, value: object
) -> list[dict[str, Any]]:
    sql = f"SELECT {', '.join(columns)} FROM {table} WHERE {column} = ? ORDER BY 1"
    return [dict(zip(columns, r, strict=True)) for r in store.conn.execute(sql, (value,))]


def revision_rows(store: Store, comment_ids: Iterable[int]) -> list[dict[str, Any]]:
    """The authors' revisions of these comments, by id (a person's export holds their edits)."""
    found = [
        r
        for i in comment_ids
        for r in _select(store, "revisions", REVISION_COLUMNS, "comment_id", i)
    ]
    return sorted(found, key=lambda r: int(r["id"]))


def restore_rows(
    conn: sqlite3.Connection,
    pages: Iterable[dict[str, Any]],
    comments: Iterable[dict[str, Any]],
    log: Iterable[dict[str, Any]],
    revisions: Iterable[dict[str, Any]] = (),
) -> tuple[int, int]:
    """Insert exported rows with their own ids; returns (added, already present).

    A row whose id exists with the same content counts as present (re-running a restore is
    harmless); a different row under the same id stops the restore: merging two databases'
    ids is not something to guess at.
    """
    conn.execute("PRAGMA defer_foreign_keys = ON")  # replies may precede their parents
    for page in pages:
        ensure_page(conn, page["key"], page["url"], page["title"])
        conn.execute(
            "UPDATE pages SET closed = ?, created = ? WHERE key = ?",
            (page["closed"], page["created"], page["key"]),
        )
    rows = list(comments)
    added = [row for row in rows if _restore_row(conn, "comments", COMMENT_COLUMNS, row)]
    for entry in log:
        _restore_row(conn, "moderation_log", LOG_COLUMNS, entry)
    for revision in revisions:
        _restore_row(conn, "revisions", REVISION_COLUMNS, revision)
    broken = conn.execute("PRAGMA foreign_key_check").fetchone()
    if broken is not None:
        raise ImportFailed(f"{broken[0]} row {broken[1]} refers to a row the export does not have")
    for key in sorted({row["page_key"] for row in added if row["status"] == "approved"}):
        bump_page(conn, key)
    return len(added), len(rows) - len(added)


def _restore_row(
    conn: sqlite3.Connection, table: str, columns: tuple[str, ...], row: dict[str, Any]
) -> bool:
    values = tuple(row[c] for c in columns)
    existing = conn.execute(
        f"SELECT {', '.join(columns)} FROM {table} WHERE id = ?", (row["id"],)
    ).fetchone()
    if existing is not None:
        if tuple(existing) != values:
            raise ImportFailed(
                f"{table} row {row['id']} already exists with other content; "
                "restore an afterword export into an empty database"
            )
        return False
    marks = ", ".join("?" * len(columns))
    conn.execute(f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})", values)
    return True


def erase_email(
    conn: sqlite3.Connection, email: str, *, mode: str, actor: str, now: str
) -> tuple[int, int]:
    """Remove one person's personal data; returns (comments changed, pages bumped).

    ``anonymize`` keeps the text under an anonymous name; ``delete`` also removes the text
    and marks the comment deleted. Either way the e-mail, name, website and IP hash go, each
    change is logged (without the address), and every page that showed one is rebuilt.
    """
    rows = conn.execute(
        "SELECT id, page_key, status FROM comments WHERE email_key = lower(trim(?)) ORDER BY id",
        (email,),
    ).fetchall()
    pages: set[str] = set()
    for comment_id, page_key, status in rows:
        to_status = "deleted" if mode == "delete" else status
        conn.execute(
            """UPDATE comments SET author = ?, email = '', website = '', ip_hash = '',
                   status = ?, updated = ? WHERE id = ?""",
            (ERASED_AUTHOR, to_status, now, comment_id),
        )
        if mode == "delete":
            conn.execute(
                "UPDATE comments SET body = '', body_html = '', body_hash = '' WHERE id = ?",
                (comment_id,),
            )
        conn.execute(
            """INSERT INTO moderation_log (comment_id, action, from_status, to_status, actor,
                   reason, at) VALUES (?, 'erase', ?, ?, ?, ?, ?)""",
            (comment_id, status, to_status, actor, f"personal data erased ({mode})", now),
        )
        if status == "approved":
            pages.add(page_key)
    if mode == "delete":
        forget_revisions(conn, [int(r[0]) for r in rows], now)
    for key in sorted(pages):
        bump_page(conn, key)
    return len(rows), len(pages)


def json_extra(parent_external_id: str | None) -> str:
    """The ``extra`` column of an imported comment: the source's parent id, for linking."""
    return "{}" if parent_external_id is None else json.dumps({"parent": parent_external_id})


def stored_page_keys(conn: sqlite3.Connection, keys: Iterable[str]) -> set[str]:
    """Which of these page keys the database already has (a restore may add to them)."""
    rows = conn.execute(
        "SELECT key FROM pages WHERE key IN (SELECT value FROM json_each(?))",
        (json.dumps(sorted(keys)),),
    )
    return {str(key) for (key,) in rows}


def stored_comment_pages(conn: sqlite3.Connection, ids: Iterable[int]) -> dict[int, str]:
    """The page of each of these comment ids already stored (restored replies may answer them)."""
    rows = conn.execute(
        "SELECT id, page_key FROM comments WHERE id IN (SELECT value FROM json_each(?))",
        (json.dumps(sorted(ids)),),
    )
    return {int(comment_id): str(key) for comment_id, key in rows}
