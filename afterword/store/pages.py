"""Pages and their versions: the builder's notion of "dirty" lives here."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator

from afterword.store.db import Store
from afterword.store.models import Page, utc_now


def ensure_page(conn: sqlite3.Connection, key: str, url: str = "", title: str = "") -> None:
    """Create the page row on first sight; fill url/title once known, never overwrite them."""
    conn.execute(
        """INSERT INTO pages (key, url, title, created) VALUES (?, ?, ?, ?)
           ON CONFLICT (key) DO UPDATE SET
             url = CASE WHEN pages.url = '' THEN excluded.url ELSE pages.url END,
             title = CASE WHEN pages.title = '' THEN excluded.title ELSE pages.title END""",
        (key, url, title, utc_now()),
    )


def bump_page(conn: sqlite3.Connection, key: str) -> None:
    """Record that what the page renders changed; called in the transaction that changed it."""
    conn.execute("UPDATE pages SET version = version + 1 WHERE key = ?", (key,))


def get_page(store: Store, key: str) -> Page | None:
    row = store.conn.execute("SELECT * FROM pages WHERE key = ?", (key,)).fetchone()
    return None if row is None else Page.from_row(row)


def iter_dirty_pages(store: Store) -> Iterator[Page]:
    """Pages whose version moved past what was last built (uses the partial index)."""
    for row in store.conn.execute("SELECT * FROM pages WHERE version > built_version ORDER BY key"):
        yield Page.from_row(row)


def mark_built(conn: sqlite3.Connection, key: str, version: int) -> None:
    """Record the version the builder *read*, so a change made during the build stays dirty."""
    conn.execute(
        "UPDATE pages SET built_version = MAX(built_version, ?) WHERE key = ?", (version, key)
    )


def set_page_closed(store: Store, key: str, closed: bool) -> None:
    with store.write() as conn:
        conn.execute("UPDATE pages SET closed = ? WHERE key = ?", (int(closed), key))
        bump_page(conn, key)
