"""What each target holds (``published``) and the CDN work it still owes (``invalidations``).

The ``published`` table is the truth about a target: the publisher never lists a bucket, it
diffs the build manifest (``objects``) against these rows — in SQL, and only the manifest
rows stamped since the target's last complete publish (``read_changes``; the stamps are kept
by triggers, migration ``0004_publish_changes``), so a publish after one approval reads a
handful of rows however big the site is. A row is written only after the
target confirmed the upload, and removed only after it confirmed the delete, so a crash at
any point leaves rows that are at worst stale in the safe direction (re-upload, never skip).

An invalidation row is written *before* the uploads it covers start (state ``pending``): if
the publisher dies halfway, the next run still owes the CDN those paths even though the
uploads themselves will have nothing left to do by then.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass
from typing import NamedTuple

from afterword.store.build import ObjectRow
from afterword.store.db import Store
from afterword.store.models import utc_now


@dataclass(frozen=True)
class Invalidation:
    """CDN work for one target: paths owed (pending), sent (submitted) or done (completed)."""

    id: int
    target: str
    paths: tuple[str, ...]
    reference: str
    state: str


_COLUMNS = "o.key, o.sha256, o.size, o.content_type, o.cache_class, o.page_key"


class Pending(NamedTuple):
    """A manifest row the target lacks or holds other bytes for (``held``: some version)."""

    row: ObjectRow
    held: bool


@dataclass(frozen=True)
class Changes:
    """What differs between the manifest and a target, as of ``clock`` (see ``mark_synced``)."""

    uploads: list[Pending]
    deletions: list[str]
    clock: int


def read_changes(store: Store, target: str, *, full: bool = False) -> Changes:
    """The manifest rows ``target`` must receive and the keys it must drop, sorted by key.

    The clock is bumped first, in its own short write: every change committed before it
    carries a stamp ≤ ``clock`` and is visible to the reads that follow (one snapshot), and
    a change committed later is stamped above it and will be read again next time. Only
    rows stamped after the target's cursor are read — through the ``objects_changed`` and
    ``vanished_changed`` indexes (named: the planner would rather walk the key order for
    ``ORDER BY``, which reads every row) — and then compared with ``published`` by primary key. A
    target with no cursor yet is diffed in full. ``full`` re-sends every object (a target
    emptied by hand) and, as ever, deletes nothing.
    """
    with store.write() as conn:
        clock = int(
            conn.execute("UPDATE publish_clock SET now = now + 1 RETURNING now - 1").fetchone()[0]
        )
        cursor = conn.execute(
            "SELECT seen FROM publish_cursors WHERE target = ?", (target,)
        ).fetchone()
    seen = -1 if cursor is None else int(cursor[0])
    conn = store.conn
    own = not conn.in_transaction  # one read snapshot for both queries
    if own:
        conn.execute("BEGIN")
    try:
        if full:
            rows = conn.execute(f"SELECT {_COLUMNS}, 0 FROM objects o ORDER BY o.key").fetchall()
            gone: list[sqlite3.Row] = []
        else:
            rows = conn.execute(
                f"""SELECT {_COLUMNS}, p.key IS NOT NULL FROM objects o INDEXED BY objects_changed
                    LEFT JOIN published p ON p.target = ?1 AND p.key = o.key
                    WHERE o.changed > ?2 AND p.sha256 IS NOT o.sha256 ORDER BY o.key""",
                (target, seen),
            ).fetchall()
            gone = conn.execute(_GONE_SINCE if seen >= 0 else _GONE_ALL, (target, seen)).fetchall()
    finally:
        if own:
            conn.execute("COMMIT")
    uploads = [Pending(ObjectRow(*tuple(r)[:6]), bool(r[6])) for r in rows]
    return Changes(uploads, [str(r[0]) for r in gone], clock)


# Keys the target holds that left the manifest: since the cursor, through ``vanished``...
_GONE_SINCE = """SELECT v.key FROM vanished v INDEXED BY vanished_changed
    JOIN published p ON p.target = ?1 AND p.key = v.key
    WHERE v.changed > ?2 AND NOT EXISTS (SELECT 1 FROM objects o WHERE o.key = v.key)
    ORDER BY v.key"""
# ...or, for a target never synced through a cursor, every published key.
_GONE_ALL = """SELECT p.key FROM published p
    WHERE p.target = ?1 AND ?2 < 0 AND NOT EXISTS (SELECT 1 FROM objects o WHERE o.key = p.key)
    ORDER BY p.key"""


def mark_synced(store: Store, target: str, clock: int) -> None:
    """Record that ``target`` holds every change stamped up to ``clock`` (never moves back)."""
    with store.write() as conn:
        conn.execute(
            "INSERT INTO publish_cursors (target, seen) VALUES (?, ?) "
            "ON CONFLICT (target) DO UPDATE SET seen = max(seen, excluded.seen)",
            (target, clock),
        )


def read_manifest(store: Store) -> dict[str, ObjectRow]:
    """The build manifest (written by the builder, ``store/build.py``) keyed by output key."""
    rows = store.query("SELECT key, sha256, size, content_type, cache_class, page_key FROM objects")
    return {row["key"]: ObjectRow(**dict(row)) for row in rows}


def read_published(store: Store, target: str) -> dict[str, str]:
    """``{key: sha256}`` of what ``target`` is known to hold."""
    rows = store.query("SELECT key, sha256 FROM published WHERE target = ?", (target,))
    return {row["key"]: row["sha256"] for row in rows}


def record_uploaded(conn: sqlite3.Connection, target: str, key: str, sha256: str) -> None:
    conn.execute(
        "INSERT INTO published (target, key, sha256) VALUES (?, ?, ?) "
        "ON CONFLICT (target, key) DO UPDATE SET sha256 = excluded.sha256",
        (target, key, sha256),
    )


def record_deleted(conn: sqlite3.Connection, target: str, key: str) -> None:
    conn.execute("DELETE FROM published WHERE target = ? AND key = ?", (target, key))


def add_invalidations(
    conn: sqlite3.Connection, target: str, batches: Iterable[Iterable[str]]
) -> list[int]:
    """Record paths the CDN must forget once the uploads are done; one row per batch."""
    now = utc_now()
    ids: list[int] = []
    for batch in batches:
        cursor = conn.execute(
            "INSERT INTO invalidations (target, paths, state, created, updated) "
            "VALUES (?, ?, 'pending', ?, ?)",
            (target, json.dumps(list(batch)), now, now),
        )
        ids.append(int(cursor.lastrowid or 0))
    return ids


def open_invalidations(store: Store, target: str) -> list[Invalidation]:
    """Pending and submitted invalidations of ``target``, oldest first."""
    rows = store.query(
        "SELECT id, target, paths, reference, state FROM invalidations "
        "WHERE target = ? AND state != 'completed' ORDER BY id",
        (target,),
    )
    return [_invalidation(row) for row in rows]


def list_invalidations(store: Store, target: str) -> list[Invalidation]:
    rows = store.query(
        "SELECT id, target, paths, reference, state FROM invalidations "
        "WHERE target = ? ORDER BY id",
        (target,),
    )
    return [_invalidation(row) for row in rows]


def mark_invalidation(
    conn: sqlite3.Connection, invalidation_id: int, state: str, reference: str | None = None
) -> None:
    conn.execute(
        "UPDATE invalidations SET state = ?, reference = COALESCE(?, reference), updated = ? "
        "WHERE id = ?",
        (state, reference, utc_now(), invalidation_id),
    )


def _invalidation(row: sqlite3.Row) -> Invalidation:
    return Invalidation(
        id=row["id"],
        target=row["target"],
        paths=tuple(json.loads(row["paths"])),
        reference=row["reference"],
        state=row["state"],
    )
