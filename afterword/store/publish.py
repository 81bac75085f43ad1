"""What each target holds (``published``) and the CDN work it still owes (``invalidations``).

The ``published`` table is the truth about a target: the publisher never lists a bucket, it
diffs the build manifest (``objects``) against these rows. A row is written only after the
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
