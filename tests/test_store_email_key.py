"""The auto-approval lookup by e-mail: normalized, indexed, and right for databases made
before the index existed (migration ``0003_email_key``)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import sqlite_utils

from afterword.store import count_approved_by_email, open_store
from afterword.store.migrations import migrations
from afterword.store.submissions import approved_counts


def old_database(path: Path, rows: list[tuple[str, str]]) -> None:
    """A file as a release before 0002 left it: the first migration only, rows in it."""
    conn = sqlite3.connect(path, isolation_level=None)
    migrations.apply(sqlite_utils.Database(conn), stop_before="0003_email_key")
    conn.execute("INSERT INTO pages (key, created) VALUES ('/p/', 'x')")
    conn.executemany(
        "INSERT INTO comments (page_key, status, author, email, body, body_html, renderer, "
        "created, updated) VALUES ('/p/', ?, 'A', ?, 'b', '<p>b</p>', 'r', 'x', 'x')",
        [(status, email) for email, status in rows],
    )
    conn.close()


def test_migration_keys_rows_written_before_it(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    old_database(
        path,
        [
            ("Ann@Example.com", "approved"),
            (" ann@example.COM ", "approved"),
            ("ann@example.com", "pending"),
            ("bob@example.com", "approved"),
            ("", "approved"),
        ],
    )
    with open_store(path) as store:
        assert count_approved_by_email(store, "ANN@example.com") == 2
        assert count_approved_by_email(store, "bob@EXAMPLE.com ") == 1
        assert count_approved_by_email(store, "") == 0
        assert approved_counts(store.conn, ["ann@example.com", "Bob@example.com", "x@y.z", ""]) == {
            "ann@example.com": 2,
            "Bob@example.com": 1,
            "x@y.z": 0,
        }


def test_key_follows_every_write_to_email(tmp_path: Path) -> None:
    """A generated column: an erasure (email blanked) or a fix by hand moves the count too."""
    with open_store(tmp_path / "a.db") as store:
        store.conn.execute("INSERT INTO pages (key, created) VALUES ('/p/', 'x')")
        store.conn.execute(
            "INSERT INTO comments (page_key, status, author, email, body, body_html, renderer, "
            "created, updated) "
            "VALUES ('/p/', 'approved', 'A', 'Ann@X.org', 'b', 'b', 'r', 'x', 'x')"
        )
        assert count_approved_by_email(store, "ann@x.org") == 1
        store.conn.execute("UPDATE comments SET email = ''")
        assert count_approved_by_email(store, "ann@x.org") == 0
        assert approved_counts(store.conn, [" "]) == {}


def test_lookups_search_the_index_not_the_table(tmp_path: Path) -> None:
    """The statements the code really runs (traced), explained by SQLite itself."""
    with open_store(tmp_path / "a.db") as store:
        ran: list[str] = []
        store.conn.set_trace_callback(ran.append)
        approved_counts(store.conn, ["a@b.c", "d@e.f"])
        count_approved_by_email(store, "a@b.c")
        store.conn.set_trace_callback(None)
        assert len(ran) == 2  # one statement for the whole batch
        for sql in ran:
            plan = " ".join(str(row[3]) for row in store.conn.execute(f"EXPLAIN QUERY PLAN {sql}"))
            assert "USING INDEX comments_email_key (email_key=? AND status=?)" in plan
            assert "SCAN c " not in plan + " "
            assert "SCAN comments" not in plan
