"""SQLite's errors are mapped once, in the store, into ``StorageError`` subclasses by result
code — each provoked here the real way, on a real database file."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from afterword.errors import (
    StorageBusy,
    StorageCorrupt,
    StorageError,
    StorageFull,
    StorageReadOnly,
)
from afterword.store import Store, open_store
from afterword.store.errors import storage_error


def _fill(store: Store) -> None:
    """Grow the database until something refuses."""
    with store.write() as conn:
        conn.execute("CREATE TABLE IF NOT EXISTS ballast (data BLOB)")
        for _ in range(100):
            conn.execute("INSERT INTO ballast VALUES (zeroblob(65536))")


def test_a_full_database_is_storage_full(store: Store) -> None:
    pages = store.scalar("PRAGMA page_count")
    store.conn.execute(f"PRAGMA max_page_count = {pages + 2}")
    with pytest.raises(StorageFull, match="database or disk is full") as caught:
        _fill(store)
    assert str(store.path) in str(caught.value)
    assert isinstance(caught.value.__cause__, sqlite3.OperationalError)
    assert not store.conn.in_transaction  # rolled back: the next write starts clean


def test_a_lock_held_past_the_busy_timeout_is_storage_busy(tmp_path: Path) -> None:
    path = tmp_path / "a.db"
    with open_store(path, busy_timeout_ms=50) as store:
        blocker = sqlite3.connect(path, isolation_level=None)
        try:
            blocker.execute("BEGIN EXCLUSIVE")
            with pytest.raises(StorageBusy, match="cannot start a write"):
                _fill(store)
        finally:
            blocker.execute("ROLLBACK")
            blocker.close()


def test_a_read_only_connection_is_storage_read_only(store: Store) -> None:
    store.conn.execute("PRAGMA query_only = ON")
    with pytest.raises(StorageReadOnly, match="readonly"):
        _fill(store)


def test_a_file_that_is_not_a_database_is_storage_corrupt(tmp_path: Path) -> None:
    path = tmp_path / "a.db"
    path.write_bytes(b"this is not sqlite" * 1000)
    with pytest.raises(StorageCorrupt, match="not a usable afterword database"):
        open_store(path)


def test_a_folder_that_cannot_hold_the_database_is_a_storage_error(tmp_path: Path) -> None:
    blocked = tmp_path / "file"
    blocked.write_text("a file where a folder should be")
    with pytest.raises(StorageError, match="cannot open database"):
        open_store(blocked / "a.db")


def test_a_refused_constraint_passes_through_store_write(store: Store) -> None:
    """A constraint is the caller's to explain (an import names the row), not a store fault."""
    with pytest.raises(sqlite3.IntegrityError), store.write() as conn:
        conn.execute("INSERT INTO meta (key, value) VALUES ('secret', 'again')")


def test_storage_error_maps_a_raw_sqlite_error_by_its_code(tmp_path: Path) -> None:
    conn = sqlite3.connect(tmp_path / "a.db")
    conn.execute("CREATE TABLE t (x)")
    conn.execute("PRAGMA query_only = ON")
    with pytest.raises(sqlite3.OperationalError) as caught:
        conn.execute("INSERT INTO t VALUES (1)")
    conn.close()
    mapped = storage_error(caught.value, tmp_path / "a.db", "cannot write")
    assert type(mapped) is StorageReadOnly
    assert str(mapped).startswith(f"{tmp_path / 'a.db'}: cannot write: ")
