"""Opening the database: file mode, pragmas, migrations, and the write transaction.

Writers use ``BEGIN IMMEDIATE`` rather than sqlite-utils' deferred ``BEGIN``: in WAL mode a
deferred transaction that reads and then writes can fail at once with SQLITE_BUSY when another
writer got in between, while an immediate one waits for the busy timeout like everyone else.

Every connection gets a page cache of up to ``CACHE_MIB`` (``PRAGMA cache_size``) instead of
SQLite's 2 MB. Storing a comment updates the table and eight indexes; at 300,000 comments those
indexes span ~26,000 pages of 4 KiB (~100 MB), and with 2 MB each batch of the intake's writer
read back from the OS the pages the previous batch had just evicted (``bench/pagecache.py``:
35 % fewer bytes read with 64 MiB; docs/benchmarks.md, "The page cache"). The cache is filled
as pages are read, never reserved, so a command that reads little holds little; the bound is
``CACHE_MIB`` per open connection — the intake holds one long-lived one per worker process
(its writer), a build or a CLI command one.
"""

from __future__ import annotations

import os
import secrets
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import sqlite_utils

from afterword.errors import DatabaseMissing
from afterword.store.errors import sqlite_errors, storage_error
from afterword.store.migrations import migrations

CACHE_MIB = 64  # the most page cache one connection may hold (see the module's doc)


class Store:
    """One connection to the database; not shared between threads."""

    def __init__(self, path: Path, conn: sqlite3.Connection) -> None:
        self.path = path
        self.conn = conn
        self.db = sqlite_utils.Database(conn)

    @contextmanager
    def write(self) -> Iterator[sqlite3.Connection]:
        """One write transaction: everything inside commits together or not at all."""
        if self.conn.in_transaction:
            yield self.conn  # nested: the outer transaction decides
            return
        with sqlite_errors(self.path, "cannot start a write"):
            self.conn.execute("BEGIN IMMEDIATE")
        try:
            yield self.conn
        except BaseException as exc:
            self.conn.rollback()
            if isinstance(exc, sqlite3.Error) and not isinstance(exc, sqlite3.IntegrityError):
                raise storage_error(exc, self.path, "cannot write") from exc
            raise  # a refused constraint is the caller's to explain (an import names the row)
        try:
            self.conn.execute("COMMIT")
        except sqlite3.Error as exc:
            self.conn.rollback()
            raise storage_error(exc, self.path, "cannot commit") from exc

    def query(self, sql: str, params: tuple[Any, ...] | dict[str, Any] = ()) -> list[sqlite3.Row]:
        return self.conn.execute(sql, params).fetchall()

    def scalar(self, sql: str, params: tuple[Any, ...] | dict[str, Any] = ()) -> Any:
        row = self.conn.execute(sql, params).fetchone()
        return None if row is None else row[0]

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def open_store(
    path: str | os.PathLike[str],
    *,
    busy_timeout_ms: int = 5000,
    migrate: bool = True,
    cache_mib: int = CACHE_MIB,
) -> Store:
    """Open (creating with mode 0600 if needed) and migrate the database."""
    db_path = Path(path)
    with sqlite_errors(db_path, "cannot open database"):
        _create_private(db_path)
        conn = sqlite3.connect(
            db_path, isolation_level=None, check_same_thread=False, timeout=busy_timeout_ms / 1000
        )
    conn.row_factory = sqlite3.Row
    store = Store(db_path, conn)
    try:
        conn.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = FULL")
        conn.execute("PRAGMA foreign_keys = ON")
        conn.execute(f"PRAGMA cache_size = {-1024 * int(cache_mib)}")  # negative: KiB
        if migrate:
            apply_migrations(store)
    except sqlite3.Error as exc:
        conn.close()
        raise storage_error(exc, db_path, "not a usable afterword database") from exc
    return store


def require_database(path: str | os.PathLike[str], config_file: Path | None) -> None:
    """Refuse a database that does not exist yet, naming the config that pointed at it.

    Every entry point except ``init`` and the demo calls this before ``open_store`` (which
    would create the file): one line says where afterword looked and how to fix it.
    """
    db_path = Path(path)
    if db_path.exists():
        return
    if config_file is not None and config_file.is_file():
        where = f"database.path in {config_file}"
    elif config_file is not None:
        where = f"no config file at {config_file}, so the defaults were used"
    else:
        where = "no config file, so the defaults were used"
    raise DatabaseMissing(
        f"no database at {db_path} ({where}): run `afterword init` to create it, "
        "or point --config (or AFTERWORD_CONFIG) at the site's afterword.toml"
    )


def apply_migrations(store: Store) -> list[str]:
    """Apply pending migrations; returns the names applied. Ensures the site secret exists."""
    pending = [m.name for m in migrations.pending(store.db)]
    if pending:
        migrations.apply(store.db)
    if store.scalar("SELECT 1 FROM meta WHERE key = 'secret'") is None:
        store.conn.execute(
            "INSERT OR IGNORE INTO meta (key, value) VALUES ('secret', ?)",
            (secrets.token_hex(32),),
        )
    return pending


def _create_private(path: Path) -> None:
    """Create the file readable by its owner only: it holds e-mail addresses."""
    if path.exists():
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
    except FileExistsError:
        return
    os.close(fd)
