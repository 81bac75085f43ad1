"""The publish diff runs in SQL over what changed since the target's last complete publish:
it must always agree with a full diff of the manifest against ``published``, survive a failed
publish and an upgrade from a database without stamps, and never scan the whole manifest."""

from __future__ import annotations

import sqlite3
import tempfile
from pathlib import Path

import pytest
import sqlite_utils
from fixtures_s3 import add_to_config, write_output
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from afterword.config import Config, load_config
from afterword.errors import PublishError
from afterword.output.plan import make_plan
from afterword.output.publish import publish_changes
from afterword.scaffold import write_config
from afterword.store import Store, open_store
from afterword.store.migrations import migrations
from afterword.store.publish import read_changes, read_manifest, read_published

Diff = tuple[list[tuple[str, bool]], list[str]]


def tree(folder: Path) -> dict[str, bytes]:
    return {
        p.relative_to(folder).as_posix(): p.read_bytes() for p in folder.rglob("*") if p.is_file()
    }


def local_config(site_dir: Path) -> Config:
    add_to_config(site_dir, '\n[targets.site]\nkind = "local"\npath = "mirror"\n')
    return load_config(site_dir / "afterword.toml")


def full_diff(store: Store, target: str = "site") -> Diff:
    """The oracle: the whole manifest against the whole ``published`` table, in Python."""
    manifest = read_manifest(store)
    held = read_published(store, target)
    uploads = [(k, k in held) for k in sorted(manifest) if held.get(k) != manifest[k].sha256]
    return uploads, sorted(k for k in held if k not in manifest)


def sql_diff(store: Store, target: str = "site") -> Diff:
    changes = read_changes(store, target)
    return [(p.row.key, p.held) for p in changes.uploads], changes.deletions


KEYS = ["threads/a/comments.html", "threads/a/comments.json", "feed.atom", "w.1a2b.js", "b/c.js"]
BUILD = st.tuples(
    st.dictionaries(st.sampled_from(KEYS), st.sampled_from([b"", b"1", b"2"]), max_size=3),
    st.sets(st.sampled_from(KEYS), max_size=2),
    st.sampled_from(["no", "publish", "fail"]),
)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(builds=st.lists(BUILD, min_size=1, max_size=8))
def test_sql_diff_agrees_with_a_full_diff(
    builds: list[tuple[dict[str, bytes], set[str], str]],
) -> None:
    """Random builds (new bytes, the same bytes again, removals) and publishes, some failing."""
    with tempfile.TemporaryDirectory() as tmp:
        site = Path(tmp)
        write_config(site, site_url="https://blog.example.com")
        config = local_config(site)
        mirror = site / "mirror"
        with open_store(config.database_path) as store:
            for files, removed, publish in builds:
                write_output(store, config.output_dir, files, removed=tuple(removed - set(files)))
                assert sql_diff(store) == full_diff(store)
                pending = sql_diff(store)[0]
                if publish == "fail" and pending:
                    # one output altered behind the manifest's back: its upload is refused,
                    # the others may land (a partial publish)
                    spoilt = config.output_dir.joinpath(*pending[-1][0].split("/"))
                    kept = spoilt.read_bytes()
                    spoilt.write_bytes(kept + b"!")
                    with pytest.raises(PublishError, match="changed since the build"):
                        publish_changes(config, store, "site")
                    spoilt.write_bytes(kept)
                    assert sql_diff(store) == full_diff(store)
                elif publish == "publish":
                    publish_changes(config, store, "site")
                    assert full_diff(store) == sql_diff(store) == ([], [])
                    assert tree(mirror) == tree(config.output_dir)


def test_plan_invalidates_all_but_new_hashed_assets(site_dir: Path, store: Store) -> None:
    config = local_config(site_dir)
    write_output(store, config.output_dir, {"a": b"1", "b": b"2", "gone": b"3"})
    publish_changes(config, store, "site")
    write_output(
        store, config.output_dir, {"a": b"1", "b": b"new", "x.1a2b.js": b"9"}, removed=("gone",)
    )
    changes = read_changes(store, "site")
    plan = make_plan(changes.uploads, changes.deletions)
    assert [e.key for e in plan.uploads] == ["b", "x.1a2b.js"]
    assert plan.deletions == ("gone",)
    assert plan.changed_keys == ("b", "gone")


def test_failed_publish_is_retried_in_full(site_dir: Path, store: Store) -> None:
    config = local_config(site_dir)
    write_output(store, config.output_dir, {"threads/a.json": b"1", "feed.atom": b"f"})
    (site_dir / "mirror").write_text("not a folder")
    with pytest.raises(PublishError):
        publish_changes(config, store, "site")
    (site_dir / "mirror").unlink()
    write_output(store, config.output_dir, {"other.json": b"2"})
    report = publish_changes(config, store, "site")
    assert report.uploaded == 3
    assert tree(site_dir / "mirror") == tree(config.output_dir)
    assert publish_changes(config, store, "site").requests == 0


def test_full_publish_leaves_owed_deletions_to_the_next_one(site_dir: Path, store: Store) -> None:
    config = local_config(site_dir)
    write_output(store, config.output_dir, {"a.json": b"1", "b.json": b"2"})
    publish_changes(config, store, "site")
    write_output(store, config.output_dir, {}, removed=("b.json",))
    assert publish_changes(config, store, "site", full=True).deleted == 0
    report = publish_changes(config, store, "site")
    assert (report.uploaded, report.deleted) == (0, 1)
    assert tree(site_dir / "mirror") == {"a.json": b"1"}


def test_dry_run_moves_nothing(site_dir: Path, store: Store) -> None:
    config = local_config(site_dir)
    write_output(store, config.output_dir, {"a.json": b"1"})
    assert publish_changes(config, store, "site", dry_run=True).planned_uploads == ("a.json",)
    assert publish_changes(config, store, "site").uploaded == 1


def test_database_from_before_the_stamps(tmp_path: Path) -> None:
    """Rows published by an older release: the first diff after the upgrade is a full one
    (the changed row, and what vanished before the upgrade, which left no stamp)."""
    path = tmp_path / "old.db"
    conn = sqlite3.connect(path, isolation_level=None)
    migrations.apply(sqlite_utils.Database(conn), stop_before="0004_publish_changes")
    conn.executemany(
        "INSERT INTO objects (key, sha256, size, content_type, cache_class) "
        "VALUES (?, ?, 1, 'application/json', 'fragment')",
        [("kept.json", "old"), ("changed.json", "new-sha")],
    )
    conn.executemany(
        "INSERT INTO published (target, key, sha256) VALUES ('site', ?, ?)",
        [("kept.json", "old"), ("changed.json", "old-sha"), ("vanished.json", "x")],
    )
    conn.close()
    with open_store(path) as store:
        assert sql_diff(store) == full_diff(store) == ([("changed.json", True)], ["vanished.json"])


def test_one_change_reads_through_the_stamp_indexes(site_dir: Path, store: Store) -> None:
    """The statements a publish runs (traced), explained by SQLite: no scan of the manifest."""
    config = local_config(site_dir)
    write_output(store, config.output_dir, {f"threads/p{i}.json": b"%d" % i for i in range(50)})
    publish_changes(config, store, "site")
    write_output(
        store, config.output_dir, {"threads/p7.json": b"new"}, removed=("threads/p8.json",)
    )
    ran: list[str] = []
    store.conn.set_trace_callback(ran.append)
    report = publish_changes(config, store, "site")
    store.conn.set_trace_callback(None)
    assert (report.uploaded, report.deleted) == (1, 1)
    reads = [s for s in ran if s.lstrip().upper().startswith("SELECT") and "objects" in s]
    assert len(reads) == 2
    plans = [
        " ".join(str(r[3]) for r in store.conn.execute(f"EXPLAIN QUERY PLAN {sql}"))
        for sql in reads
    ]
    assert "objects_changed" in plans[0]
    assert "vanished_changed" in plans[1]
    for plan in plans:
        assert "SCAN o" not in plan.replace("SCAN o USING INDEX objects_changed", "")
        assert "SCAN p" not in plan
        assert "SCAN v" not in plan


def test_read_changes_inside_a_caller_transaction(site_dir: Path, store: Store) -> None:
    """Called within a write, the diff reads that transaction's snapshot (no nested BEGIN)."""
    config = local_config(site_dir)
    write_output(store, config.output_dir, {"a.json": b"1"})
    with store.write():
        assert sql_diff(store) == ([("a.json", False)], [])
    assert not store.conn.in_transaction
