"""Count shards: where a key lives, splitting big folders, incremental = full."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from test_build_support import add, assert_manifest_matches, tree

from afterword.builder import build_site
from afterword.builder import counts as counts_module
from afterword.builder.counts import bucket_count, bucket_name, fnv1a32, folder_of, shard_prefix
from afterword.config import Config
from afterword.store import Store, moderate


@pytest.mark.parametrize(
    ("key", "value", "b16", "b256"),
    [
        ("", 0x811C9DC5, "5", "c5"),
        ("/", 0x2A0C975E, "e", "5e"),
        ("/blog/post/", 0x18D58E16, "6", "16"),
        ("/café/", 0x64A040B9, "9", "b9"),
    ],
)
def test_counts_fnv_vectors(key: str, value: int, b16: str, b256: str) -> None:
    assert fnv1a32(key) == value
    assert bucket_name(key, 16) == b16
    assert bucket_name(key, 256) == b256


@pytest.mark.parametrize(
    ("key", "folder", "prefix"),
    [
        ("/", "/", "threads/"),
        ("/about/", "/", "threads/"),
        ("/blog/post/", "/blog/", "threads/blog/"),
        ("/blog/2024/x.html", "/blog/2024/", "threads/blog/2024/"),
        ("/café/thé/", "/café/", "threads/caf%C3%A9/"),
        ("/comments/x/", "/comments/", "threads/%63omments/"),
    ],
)
def test_counts_folder_and_shard_file(key: str, folder: str, prefix: str) -> None:
    assert folder_of(key) == folder
    assert shard_prefix(key) == prefix


def test_counts_bucket_count_is_a_function_of_size() -> None:
    assert [bucket_count(n) for n in (1, 1000, 1001, 16000, 16001)] == [0, 0, 16, 16, 256]


def _counts_of(config: Config, folder_key: str) -> dict[str, int]:
    """Read a folder's counts the way the widget does (head, then bucket)."""
    out = Path(config.output_dir)
    head = json.loads((out / folder_key / "comments-counts.json").read_bytes())
    if "counts" in head:
        return dict(head["counts"])
    found: dict[str, int] = {}
    for path in sorted((out / folder_key).glob("comments-counts-*.json")):
        found.update(json.loads(path.read_bytes())["counts"])
    assert len(found) == head["pages"]
    return found


def test_counts_track_approvals_and_removals(config: Config, store: Store) -> None:
    a = add(store, "/blog/a/")
    add(store, "/blog/a/", "two")
    add(store, "/blog/b/")
    build_site(config, store)
    assert _counts_of(config, "threads/blog") == {"/blog/a/": 2, "/blog/b/": 1}
    moderate(store, [a], "delete", actor="t")
    build_site(config, store)
    assert _counts_of(config, "threads/blog") == {"/blog/a/": 1, "/blog/b/": 1}


def test_counts_big_folder_splits_and_matches_full_build(
    config: Config, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(counts_module, "SHARD_MAX", 3)
    for n in range(3):
        add(store, f"/blog/p{n}/")
    build_site(config, store)
    assert "counts" in json.loads(
        (Path(config.output_dir) / "threads/blog/comments-counts.json").read_bytes()
    )
    extra = add(store, "/blog/p3/")
    report = build_site(config, store)
    head = json.loads((Path(config.output_dir) / "threads/blog/comments-counts.json").read_bytes())
    assert head == {"version": 1, "folder": "/blog/", "pages": 4, "buckets": 16}
    assert len([k for k in report.changed_keys if "comments-counts-" in k]) == 16
    assert _counts_of(config, "threads/blog") == {f"/blog/p{n}/": 1 for n in range(4)}
    moderate(store, [extra], "reject", actor="t")
    build_site(config, store)
    incremental = tree(Path(config.output_dir))
    assert_manifest_matches(store, config)
    build_site(config, store, full=True)
    assert tree(Path(config.output_dir)) == incremental


def test_counts_damaged_shard_is_recovered_from_the_database(config: Config, store: Store) -> None:
    add(store, "/blog/a/")
    add(store, "/blog/b/")
    build_site(config, store)
    shard = Path(config.output_dir) / "threads/blog/comments-counts.json"
    shard.write_text('{"version":1,"folder":"/blog/","counts":{"/blog/a/":99}}')
    add(store, "/blog/a/", "again")
    build_site(config, store)
    assert _counts_of(config, "threads/blog") == {"/blog/a/": 2, "/blog/b/": 1}
    assert_manifest_matches(store, config)


def _index(config: Config) -> dict[str, int]:
    """The folder index, read like the widget does (head, then every bucket)."""
    out = Path(config.output_dir)
    head = json.loads((out / "comments-folders.json").read_bytes())
    if "counts" in head:
        return dict(head["counts"])
    found: dict[str, int] = {}
    for path in sorted(out.glob("comments-folders-*.json")):
        found.update(json.loads(path.read_bytes())["counts"])
    assert len(found) == head["pages"]
    return found


def test_counts_index_exists_on_a_site_without_comments(config: Config, store: Store) -> None:
    build_site(config, store)
    assert _index(config) == {}


def test_counts_index_lists_each_shard_with_its_pages(config: Config, store: Store) -> None:
    add(store, "/about/")
    add(store, "/blog/a/")
    add(store, "/café/thé/")
    build_site(config, store)
    assert _index(config) == {"": 1, "blog/": 1, "caf%C3%A9/": 1}
    for folder in _index(config):
        assert (Path(config.output_dir) / f"threads/{folder}comments-counts.json").is_file()
    add(store, "/blog/a/", "again")  # a count changes, the number of pages does not
    report = build_site(config, store)
    assert "comments-folders.json" not in report.changed_keys
    add(store, "/blog/b/")
    add(store, "/notes/x/")
    report = build_site(config, store)
    assert "comments-folders.json" in report.changed_keys
    assert _index(config) == {"": 1, "blog/": 2, "caf%C3%A9/": 1, "notes/": 1}
    incremental = tree(Path(config.output_dir))
    build_site(config, store, full=True)
    assert tree(Path(config.output_dir)) == incremental


@pytest.mark.parametrize("damage", ["delete", "alter"])
def test_counts_index_missing_or_altered_is_recovered(
    config: Config, store: Store, damage: str
) -> None:
    add(store, "/blog/a/")
    add(store, "/notes/x/")
    build_site(config, store)
    index = Path(config.output_dir) / "comments-folders.json"
    if damage == "delete":
        index.unlink()
    else:
        index.write_text('{"version":1,"counts":{"blog/":7}}')
    build_site(config, store)  # nothing is dirty: the index alone is put back
    assert _index(config) == {"blog/": 1, "notes/": 1}
    assert_manifest_matches(store, config)


def test_counts_big_index_splits_and_matches_full_build(
    config: Config, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(counts_module, "SHARD_MAX", 3)
    for n in range(5):
        add(store, f"/f{n}/post/")
    build_site(config, store)
    head = json.loads((Path(config.output_dir) / "comments-folders.json").read_bytes())
    assert head == {"version": 1, "pages": 5, "buckets": 16}
    assert _index(config) == {f"f{n}/": 1 for n in range(5)}
    bucket = bucket_name("f3/", 16)
    part = json.loads((Path(config.output_dir) / f"comments-folders-{bucket}.json").read_bytes())
    assert part["counts"]["f3/"] == 1
    add(store, "/f3/other/")
    build_site(config, store)
    assert _index(config)["f3/"] == 2
    incremental = tree(Path(config.output_dir))
    assert_manifest_matches(store, config)
    build_site(config, store, full=True)
    assert tree(Path(config.output_dir)) == incremental
