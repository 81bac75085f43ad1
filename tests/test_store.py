"""The store on real SQLite files: file mode, pragmas, migrations, versions, the log."""

from __future__ import annotations

import itertools
import os
import sqlite3
import stat
from pathlib import Path
from typing import Any

import pytest
import sqlite_utils
from click.testing import CliRunner
from conftest import run_afterword

from afterword.cli import main
from afterword.config import Config
from afterword.errors import ModerationError, StorageError
from afterword.store import (
    ACTIONS,
    Comment,
    NewComment,
    Store,
    add_comment,
    count_approved_by_email,
    count_by_status,
    edit_comment,
    get_comment,
    get_page,
    iter_dirty_pages,
    mark_built,
    moderate,
    moderation_history,
    open_store,
    restore_status,
    site_secret,
)
from afterword.store.migrations import STATUSES, migrations


def add(store: Store, body: str = "Hello", **fields: Any) -> Comment:
    fields.setdefault("page_key", "/blog/post/")
    fields.setdefault("author", "Alice")
    return add_comment(
        store, NewComment(body=body, body_html=f"<p>{body}</p>", renderer="t", **fields)
    )


def version(store: Store, key: str = "/blog/post/") -> int:
    page = get_page(store, key)
    assert page is not None
    return page.version


def test_store_file_is_private(tmp_path: Path) -> None:
    path = tmp_path / "nested" / "afterword.db"
    with open_store(path) as store:
        add(store)
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        wal = Path(f"{path}-wal")
        assert wal.exists()
        assert stat.S_IMODE(wal.stat().st_mode) == 0o600


def test_store_pragmas(tmp_path: Path) -> None:
    with open_store(tmp_path / "a.db", busy_timeout_ms=1234) as store:
        assert store.scalar("PRAGMA journal_mode") == "wal"
        assert store.scalar("PRAGMA foreign_keys") == 1
        assert store.scalar("PRAGMA busy_timeout") == 1234
        assert store.scalar("PRAGMA synchronous") == 2  # FULL: an accepted comment is durable
        assert store.scalar("PRAGMA cache_size") == -64 * 1024  # 64 MiB, in KiB (negative)
    with open_store(tmp_path / "a.db", cache_mib=8) as small:
        assert small.scalar("PRAGMA cache_size") == -8 * 1024


def test_store_page_cache_is_a_bound_not_a_reservation(tmp_path: Path) -> None:
    """Eight open stores on a small database: if each reserved its 64 MiB the process would
    grow by 512 MiB; filled only as pages are read, it grows by a few pages each."""

    def resident_mib() -> float:
        pages = int(Path("/proc/self/statm").read_text().split()[1])
        return pages * os.sysconf("SC_PAGE_SIZE") / 2**20

    with open_store(tmp_path / "a.db") as first:
        add(first)
    before = resident_mib()
    stores = [open_store(tmp_path / "a.db") for _ in range(8)]
    try:
        for store in stores:
            assert store.scalar("SELECT count(*) FROM comments") == 1
        assert resident_mib() - before < 32
    finally:
        for store in stores:
            store.close()


def test_store_foreign_keys_enforced(store: Store) -> None:
    with pytest.raises(sqlite3.IntegrityError):
        add(store, parent_id=999)


def test_store_comment_round_trip(store: Store) -> None:
    added = add(store, "Round trip", email="a@example.com", website="https://a.example")
    assert isinstance(added, Comment)
    assert (added.body, added.email, added.status, added.parent_id) == (
        "Round trip",
        "a@example.com",
        "pending",
        None,
    )
    assert get_comment(store, added.id) == added
    assert get_comment(store, added.id + 1) is None


ALL_MIGRATIONS = [m.name for m in migrations.pending(sqlite_utils.Database(memory=True))]


def test_store_migrations_recorded_and_idempotent(tmp_path: Path) -> None:
    path = tmp_path / "a.db"
    with open_store(path) as store:
        names = [row["name"] for row in store.query("SELECT name FROM _sqlite_migrations")]
        assert names[0] == "0001_initial"
        assert names == ALL_MIGRATIONS  # all of them, in order
        assert migrations.pending(store.db) == []
    with open_store(path) as store:  # opening again applies nothing twice
        assert store.scalar("SELECT count(*) FROM _sqlite_migrations") == len(names)


def test_store_migrate_command_twice(site_dir: Path) -> None:
    database = site_dir / "afterword.db"
    database.unlink()
    open_store(database, migrate=False).close()  # an empty file, as an old version left it
    runner = CliRunner()
    first = runner.invoke(main, ["migrate"])
    assert first.exit_code == 0, first.output
    assert first.output == f"Applied {len(ALL_MIGRATIONS)} migration(s)\n"
    second = runner.invoke(main, ["migrate"])
    assert second.exit_code == 0
    assert second.output == "Database is up to date\n"


def test_store_site_secret_generated_once(tmp_path: Path) -> None:
    with open_store(tmp_path / "a.db") as store:
        secret = site_secret(store)
    with open_store(tmp_path / "a.db") as store:
        assert site_secret(store) == secret
    with open_store(tmp_path / "b.db") as other:
        assert site_secret(other) != secret
    assert len(secret) == 32


def test_store_missing_secret_is_a_storage_error(store: Store) -> None:
    with store.write() as conn:
        conn.execute("DELETE FROM meta WHERE key = 'secret'")
    with pytest.raises(StorageError, match="site secret is missing"):
        site_secret(store)


TRANSITIONS = list(itertools.product(ACTIONS, STATUSES))


@pytest.mark.parametrize(("action", "from_status"), TRANSITIONS)
def test_store_version_bumps_only_when_visibility_changes(
    store: Store, action: str, from_status: str
) -> None:
    comment = add(store, status=from_status)
    before = version(store)
    to_status, allowed = ACTIONS[action]
    if from_status not in allowed:
        with pytest.raises(ModerationError, match=f"already {from_status}"):
            moderate(store, [comment.id], action, actor="t")
        assert version(store) == before
        assert get_comment(store, comment.id) == comment
        return
    (step,) = moderate(store, [comment.id], action, actor="t")
    visible_change = "approved" in (from_status, to_status)
    assert version(store) == before + int(visible_change)
    restore_status(store, step, actor="t")
    assert version(store) == before + 2 * int(visible_change)
    restored = get_comment(store, comment.id)
    assert restored is not None
    assert restored.status == from_status


def test_store_insert_bumps_only_for_approved(store: Store) -> None:
    add(store, status="pending")
    assert version(store) == 0
    add(store, status="approved")
    assert version(store) == 1
    add(store, status="spam")
    assert version(store) == 1


def test_store_edit_bumps_only_visible(store: Store) -> None:
    pending, approved = add(store), add(store, status="approved")
    before = version(store)
    edit_comment(store, pending.id, body="x", body_html="<p>x</p>", renderer="t", actor="t")
    assert version(store) == before
    edit_comment(store, approved.id, body="y", body_html="<p>y</p>", renderer="t", actor="t")
    assert version(store) == before + 1


def test_store_moderate_one_bad_id_changes_nothing(store: Store) -> None:
    a, b = add(store), add(store, page_key="/other/")
    spam = add(store, status="spam")
    for ids in ([a.id, b.id, 404], [a.id, spam.id, b.id]):
        with pytest.raises(ModerationError):
            moderate(store, ids, "spam", actor="t")
        assert count_by_status(store) == {"pending": 2, "spam": 1}
        assert store.scalar("SELECT count(*) FROM moderation_log") == 0
        assert version(store, "/other/") == 0


def test_store_moderate_duplicate_ids_once(store: Store) -> None:
    comment = add(store)
    steps = moderate(store, [comment.id, comment.id], "approve", actor="t")
    assert len(steps) == 1
    assert version(store) == 1


def test_store_moderation_log_written(store: Store) -> None:
    comment = add(store)
    moderate(store, [comment.id], "reject", actor="alice", reason="off-topic")
    moderate(store, [comment.id], "approve", actor="bob")
    log = moderation_history(store, comment.id)
    assert [
        (r["action"], r["from_status"], r["to_status"], r["actor"], r["reason"]) for r in log
    ] == [
        ("reject", "pending", "rejected", "alice", "off-topic"),
        ("approve", "rejected", "approved", "bob", ""),
    ]
    assert all(r["at"].endswith("Z") for r in log)


def test_store_restore_refuses_when_changed_since(store: Store) -> None:
    comment = add(store)
    (step,) = moderate(store, [comment.id], "approve", actor="t")
    moderate(store, [comment.id], "reject", actor="t")
    with pytest.raises(ModerationError, match="changed since"):
        restore_status(store, step, actor="t")


def test_store_unknown_action(store: Store) -> None:
    with pytest.raises(ModerationError, match="unknown action 'bless'"):
        moderate(store, [1], "bless", actor="t")


def test_store_write_rolls_back_on_error(store: Store) -> None:
    def half_done() -> None:
        with store.write() as conn:
            conn.execute("INSERT INTO meta (key, value) VALUES ('x', 'y')")
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        half_done()
    assert store.scalar("SELECT count(*) FROM meta WHERE key = 'x'") == 0


def test_store_dirty_pages_and_mark_built(store: Store) -> None:
    add(store, status="approved", page_key="/a/")
    add(store, status="approved", page_key="/b/")
    assert [p.key for p in iter_dirty_pages(store)] == ["/a/", "/b/"]
    with store.write() as conn:
        mark_built(conn, "/a/", 1)
        mark_built(conn, "/b/", 0)  # an older build never lowers what was recorded
    assert [p.key for p in iter_dirty_pages(store)] == ["/b/"]


def test_store_count_approved_by_email_ignores_case(store: Store) -> None:
    add(store, email="Ann@Example.com", status="approved")
    add(store, email="ann@example.com", status="pending")
    assert count_approved_by_email(store, "ANN@example.COM") == 1


def corrupt(path: Path) -> None:
    path.write_bytes(b"this is not an sqlite database at all " * 200)


def test_store_corrupt_file_is_storage_error(tmp_path: Path) -> None:
    path = tmp_path / "afterword.db"
    corrupt(path)
    with pytest.raises(StorageError, match="not a usable afterword database"):
        open_store(path)


def test_store_unopenable_path_is_storage_error(tmp_path: Path) -> None:
    (tmp_path / "dir.db").mkdir()
    with pytest.raises(StorageError, match="cannot open database"):
        open_store(tmp_path / "dir.db")


def test_store_corrupt_file_cli_one_line(config: Config) -> None:
    corrupt(config.database_path)
    result = CliRunner().invoke(main, ["queue"])
    assert result.exit_code == 1
    lines = result.stderr.splitlines()
    assert len(lines) == 1
    assert lines[0].startswith(f"Error: {config.database_path}: not a usable afterword database")


def test_store_corrupt_file_subprocess(config: Config, site_dir: Path) -> None:
    corrupt(config.database_path)
    done = run_afterword("migrate", cwd=site_dir)
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    assert done.stderr.startswith("Error: ")
    assert len(done.stderr.splitlines()) == 1


def test_store_init_creates_config_and_database(tmp_path: Path) -> None:
    target = tmp_path / "new" / "site"
    runner = CliRunner()
    result = runner.invoke(main, ["init", str(target), "--site-url", "https://x.example"])
    assert result.exit_code == 0, result.output
    config_file, db_file = target / "afterword.toml", target / "afterword.db"
    assert result.output.splitlines()[0] == f"Wrote {config_file} and created {db_file}"
    assert 'url = "https://x.example"' in config_file.read_text(encoding="utf-8")
    assert stat.S_IMODE(db_file.stat().st_mode) == 0o600
    config_file.write_text("# mine\n", encoding="utf-8")
    again = runner.invoke(main, ["init", str(target)])
    assert again.exit_code == 2
    assert again.stderr == f"Error: {config_file} already exists (use --force to overwrite)\n"
    assert config_file.read_text(encoding="utf-8") == "# mine\n"
    forced = runner.invoke(main, ["init", str(target), "--force"])
    assert forced.exit_code == 0
    assert forced.output.splitlines()[0] == f"Wrote {config_file} and kept the existing {db_file}"
    assert "[site]" in config_file.read_text(encoding="utf-8")


def test_store_opening_a_migrated_database_needs_no_write_lock(
    store: Store, config: Config
) -> None:
    """Listing the queue must not queue behind the intake's writes (or fail on them)."""
    add(store)
    store.conn.execute("BEGIN IMMEDIATE")  # a writer (the intake) holds the lock
    try:
        with open_store(config.database_path, busy_timeout_ms=50) as other:
            assert count_by_status(other) == {"pending": 1}
    finally:
        store.conn.rollback()
