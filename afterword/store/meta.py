"""Small key/value facts about the site: the per-site secret, build fingerprints."""

from __future__ import annotations

import sqlite3

from afterword.errors import StorageError
from afterword.store.db import Store


def get_meta(store: Store, key: str) -> str | None:
    row = store.conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
    return None if row is None else str(row[0])


def set_meta(conn: sqlite3.Connection, key: str, value: str) -> None:
    conn.execute(
        "INSERT INTO meta (key, value) VALUES (?, ?) "
        "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        (key, value),
    )


def site_secret(store: Store) -> bytes:
    """The key for salted IP hashes and identicons; generated once when the database is made."""
    value = get_meta(store, "secret")
    if value is None:
        raise StorageError(f"{store.path}: the site secret is missing; run `afterword migrate`")
    return bytes.fromhex(value)
