"""The builder's queries: what to build, what a page shows, and the output manifest.

Every query here is bounded by what changed: dirty pages come through the ``pages_dirty``
partial index, a page's comments through ``comments_page``, the site feed through
``comments_recent``, manifest rows by primary key. Only a full build walks every page, in
key order and in batches, so memory stays flat however big the site is.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

from afterword.store.db import Store
from afterword.store.meta import get_meta, set_meta
from afterword.store.models import Page
from afterword.store.pages import mark_built

FINGERPRINT_KEY = "build_fingerprint"
CLOSED_THROUGH_KEY = "build_closed_through"

# Columns a page's thread needs; ``email`` only feeds the avatar hash and never leaves the builder.
_THREAD_COLUMNS = (
    "id, parent_id, status, author, email, website, body, body_html, renderer, created, source, "
    "external_id, edited"
)


@dataclass(frozen=True)
class ObjectRow:
    """One manifest row: a file in the output folder, as publish sees it."""

    key: str
    sha256: str
    size: int
    content_type: str
    cache_class: str
    page_key: str | None


def page_batches(store: Store, *, full: bool, batch: int = 500) -> Iterator[list[Page]]:
    """Pages to render, in key order, ``batch`` at a time (keyset pagination, no long cursor).

    Incremental: ``version > built_version`` (the partial index). Full: every page that ever
    showed something (``version > 0``) — a page that never had a visible comment has no files
    in an incremental build either, so both kinds of build produce the same folder.
    """
    where = "version > 0" if full else "version > built_version"
    after = ""
    while True:
        rows = store.conn.execute(
            f"SELECT * FROM pages WHERE {where} AND key > ? ORDER BY key LIMIT ?", (after, batch)
        ).fetchall()
        if not rows:
            return
        yield [_page(r) for r in rows]
        after = str(rows[-1]["key"])


def _page(row: sqlite3.Row) -> Page:
    return Page(**{name: row[name] for name in row.keys()})  # noqa: SIM118 (Row iterates values)


def count_pages_to_build(store: Store, *, full: bool) -> int:
    where = "version > 0" if full else "version > built_version"
    return int(store.scalar(f"SELECT count(*) FROM pages WHERE {where}"))


def thread_rows(store: Store, page_key: str) -> list[sqlite3.Row]:
    """A page's approved comments plus every ancestor of one (whatever its status).

    Ancestors that are not approved become placeholders so that their replies keep their
    place; they are fetched by id, walking up, so a page full of spam costs nothing.
    """
    rows = store.conn.execute(
        f"SELECT {_THREAD_COLUMNS} FROM comments WHERE page_key = ? AND status = 'approved' "
        "ORDER BY created, id",
        (page_key,),
    ).fetchall()
    known = {int(r["id"]) for r in rows}
    missing = {int(r["parent_id"]) for r in rows if r["parent_id"] is not None} - known
    extra: list[sqlite3.Row] = []
    while missing:
        found = _rows_by_id(store, missing)
        extra.extend(found)
        known.update(missing)
        missing = {int(r["parent_id"]) for r in found if r["parent_id"] is not None} - known
    return rows + extra


def _rows_by_id(store: Store, ids: Iterable[int]) -> list[sqlite3.Row]:
    wanted = sorted(ids)
    marks = ",".join("?" * len(wanted))
    return store.conn.execute(
        f"SELECT {_THREAD_COLUMNS} FROM comments WHERE id IN ({marks})", wanted
    ).fetchall()


def recent_comments(store: Store, limit: int) -> list[sqlite3.Row]:
    """The site's latest approved comments with their page title (``comments_recent``)."""
    return store.conn.execute(
        f"""SELECT {", ".join("c." + c.strip() for c in _THREAD_COLUMNS.split(","))},
                   c.page_key, p.title AS page_title
            FROM comments c INDEXED BY comments_recent JOIN pages p ON p.key = c.page_key
            WHERE c.status = 'approved' ORDER BY c.created DESC, c.id DESC LIMIT ?""",
        (limit,),
    ).fetchall()


def pages_first_commented_between(store: Store, after: str, until: str) -> list[str]:
    """Pages whose first approved comment falls in ``(after, until]`` — threads that close now.

    Walks only the comments created in that window (``comments_recent``), then keeps the
    pages with no approved comment before it.
    """
    candidates = store.conn.execute(
        """SELECT DISTINCT page_key FROM comments INDEXED BY comments_recent
           WHERE status = 'approved' AND created > ? AND created <= ?""",
        (after, until),
    ).fetchall()
    closing = []
    for row in candidates:
        key = str(row[0])
        first = store.scalar(
            "SELECT min(created) FROM comments WHERE page_key = ? AND status = 'approved'",
            (key,),
        )
        if first is not None and after < str(first) <= until:
            closing.append(key)
    return sorted(closing)


def folder_counts(store: Store, folder: str) -> dict[str, int]:
    """Approved-comment counts of every built page directly inside ``folder`` (slow path).

    Only used to recover a count shard that is missing or damaged in the output folder.
    """
    upper = folder[:-1] + chr(ord("/") + 1)
    counts: dict[str, int] = {}
    pages = store.conn.execute(
        "SELECT key FROM pages WHERE key >= ? AND key < ? AND version > 0", (folder, upper)
    )
    for (key,) in pages:
        rest = str(key)[len(folder) :]
        if rest and "/" not in rest.rstrip("/"):
            counts[str(key)] = 0
    rows = store.conn.execute(
        """SELECT page_key, count(*) FROM comments
           WHERE page_key >= ? AND page_key < ? AND status = 'approved' GROUP BY page_key""",
        (folder, upper),
    )
    for key, n in rows:
        if key in counts:
            counts[str(key)] = int(n)
    if folder == "/":
        counts.pop("/", None)
        if store.scalar("SELECT 1 FROM pages WHERE key = '/' AND version > 0"):
            counts["/"] = count_approved(store, "/")
    return counts


def built_page_keys(store: Store) -> Iterator[str]:
    """Every page that has files (slow path: only to recover the folder index)."""
    for (key,) in store.conn.execute("SELECT key FROM pages WHERE version > 0"):
        yield str(key)


def count_approved(store: Store, page_key: str) -> int:
    return int(
        store.scalar(
            "SELECT count(*) FROM comments WHERE page_key = ? AND status = 'approved'",
            (page_key,),
        )
    )


def get_object(store: Store, key: str) -> ObjectRow | None:
    row = store.conn.execute(
        "SELECT key, sha256, size, content_type, cache_class, page_key FROM objects WHERE key = ?",
        (key,),
    ).fetchone()
    return None if row is None else ObjectRow(*tuple(row))


def record_batch(
    store: Store,
    *,
    put: Sequence[ObjectRow],
    removed: Sequence[str],
    built: Sequence[tuple[str, int]],
    produced: bool = False,
) -> None:
    """One transaction: manifest rows written/removed and the versions the builder read.

    ``produced`` also notes the written keys in the full build's temp table.
    """
    with store.write() as conn:
        if produced:
            conn.executemany(
                "INSERT OR IGNORE INTO temp.produced (key) VALUES (?)", [(o.key,) for o in put]
            )
        conn.executemany(
            """INSERT INTO objects (key, sha256, size, content_type, cache_class, page_key)
               VALUES (?, ?, ?, ?, ?, ?)
               ON CONFLICT (key) DO UPDATE SET sha256 = excluded.sha256, size = excluded.size,
                 content_type = excluded.content_type, cache_class = excluded.cache_class,
                 page_key = excluded.page_key""",
            [(o.key, o.sha256, o.size, o.content_type, o.cache_class, o.page_key) for o in put],
        )
        conn.executemany("DELETE FROM objects WHERE key = ?", [(k,) for k in removed])
        for key, version in built:
            mark_built(conn, key, version)


def get_fingerprint(store: Store) -> str | None:
    return get_meta(store, FINGERPRINT_KEY)


def get_closed_through(store: Store) -> str | None:
    return get_meta(store, CLOSED_THROUGH_KEY)


def finish_build(store: Store, *, fingerprint: str, closed_through: str | None) -> None:
    """Record what the finished build was made from; a crash before this means "full again"."""
    unchanged = get_fingerprint(store) == fingerprint and (
        closed_through is None or get_closed_through(store) == closed_through
    )
    if unchanged:
        return  # a no-change build writes nothing, not even to the database
    with store.write() as conn:
        set_meta(conn, FINGERPRINT_KEY, fingerprint)
        if closed_through is not None:
            set_meta(conn, CLOSED_THROUGH_KEY, closed_through)


def forget_fingerprint(store: Store) -> None:
    """Called when a full build starts: if it dies half-way the next build is full again."""
    with store.write() as conn:
        conn.execute("DELETE FROM meta WHERE key = ?", (FINGERPRINT_KEY,))


def start_produced(store: Store) -> None:
    """A per-connection temp table of the keys a full build wrote (memory stays flat)."""
    store.conn.execute("CREATE TEMP TABLE IF NOT EXISTS produced (key TEXT PRIMARY KEY)")
    store.conn.execute("DELETE FROM temp.produced")


def iter_unproduced(store: Store) -> Iterator[str]:
    """Manifest keys a full build did not write: they vanished and must be deleted."""
    rows = store.conn.execute(
        "SELECT key FROM objects WHERE key NOT IN (SELECT key FROM temp.produced) ORDER BY key"
    ).fetchall()
    yield from (str(r[0]) for r in rows)
