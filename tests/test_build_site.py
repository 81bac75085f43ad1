"""build_site: what gets written, incrementality, deletions, manifest, determinism."""

from __future__ import annotations

import json
import os
from dataclasses import replace
from pathlib import Path

import pytest
from test_build_support import add, assert_manifest_matches, tree

from afterword.builder import BuildReport, build_site
from afterword.config import Config
from afterword.errors import BuildError
from afterword.markup import render_markdown
from afterword.store import Store, edit_comment, get_page, moderate, set_page_closed


def with_build(config: Config, **changes: object) -> Config:
    return replace(config, build=replace(config.build, **changes))


def read_json(config: Config, key: str) -> dict[str, object]:
    data: dict[str, object] = json.loads((Path(config.output_dir) / key).read_bytes())
    return data


def test_build_site_writes_thread_files_for_each_page(config: Config, store: Store) -> None:
    add(store, "/blog/post/", "First")
    add(store, "/", "Root")
    report = build_site(config, store)
    files = tree(Path(config.output_dir))
    for key in (
        "threads/blog/post/comments.json",
        "threads/blog/post/comments.html",
        "threads/blog/post/feed.atom",
        "threads/comments.json",
        "threads/blog/comments-counts.json",
        "threads/comments-counts.json",
        "empty.html",
        "feed.atom",
        "afterword.js",
    ):
        assert key in files
    assert report.pages_rendered == 2
    assert report.full
    assert report.files_written == len(files)
    assert report.bytes_written == sum(len(v) for v in files.values())
    assert set(report.changed_keys) == set(files)
    assert_manifest_matches(store, config)


def test_build_site_second_build_writes_nothing(config: Config, store: Store) -> None:
    add(store, "/blog/post/")
    build_site(config, store)
    report = build_site(config, store)
    assert (report.pages_rendered, report.files_written, report.changed_keys) == (0, 0, ())
    assert not report.full


def test_build_site_unchanged_files_keep_mtime(config: Config, store: Store) -> None:
    add(store, "/a/")
    add(store, "/b/")
    build_site(config, store)
    out = Path(config.output_dir)
    old = out / "threads/a/comments.html"
    os.utime(old, ns=(1_000_000_000, 1_000_000_000))
    add(store, "/b/", "another")
    report = build_site(config, store)
    assert old.stat().st_mtime_ns == 1_000_000_000
    assert "threads/a/comments.html" not in report.changed_keys
    assert "threads/b/comments.html" in report.changed_keys
    full = build_site(config, store, full=True)
    assert old.stat().st_mtime_ns == 1_000_000_000
    assert full.files_written == 0


def test_build_site_one_approval_touches_at_most_five_files(config: Config, store: Store) -> None:
    for n in range(30):
        add(store, f"/blog/p{n}/")
    build_site(config, store)
    pending = add(store, "/blog/p7/", "new", status="pending")
    moderate(store, [pending], "approve", actor="t")
    report = build_site(config, store)
    assert report.pages_rendered == 1
    assert report.changed_keys == (
        "feed.atom",
        "threads/blog/comments-counts.json",
        "threads/blog/p7/comments.html",
        "threads/blog/p7/comments.json",
        "threads/blog/p7/feed.atom",
    )


def test_build_site_parts_split_oldest_first(config: Config, store: Store) -> None:
    config = with_build(config, page_size=2)
    ids = [
        add(store, "/p/", f"c{n}", created=f"2026-01-0{n + 1}T00:00:00.000000Z") for n in range(5)
    ]
    build_site(config, store)
    first = read_json(config, "threads/p/comments.json")
    assert (first["parts"], first["count"], first["next"]) == (3, 5, "comments-2.json")
    assert [c["id"] for c in first["comments"]] == ids[:2]  # type: ignore[index,union-attr]
    third = read_json(config, "threads/p/comments-3.json")
    assert "count" not in third
    assert third["next"] is None
    assert [c["id"] for c in third["comments"]] == ids[4:]  # type: ignore[index,union-attr]
    html = (Path(config.output_dir) / "threads/p/comments-2.html").read_text()
    assert 'data-next-part="3"' in html
    assert "<form" not in html


def test_build_site_new_top_level_comment_leaves_middle_parts(config: Config, store: Store) -> None:
    config = with_build(config, page_size=2)
    for n in range(5):
        add(store, "/p/", f"c{n}", created=f"2026-01-0{n + 1}T00:00:00.000000Z")
    build_site(config, store)
    add(store, "/p/", "late", created="2026-02-01T00:00:00.000000Z")
    report = build_site(config, store)
    assert "threads/p/comments-2.html" not in report.changed_keys
    assert "threads/p/comments-3.html" in report.changed_keys


def test_build_site_vanished_parts_are_deleted(config: Config, store: Store) -> None:
    config = with_build(config, page_size=1)
    ids = [add(store, "/p/", f"c{n}") for n in range(3)]
    build_site(config, store)
    moderate(store, ids[1:], "delete", actor="t")
    report = build_site(config, store)
    files = tree(Path(config.output_dir))
    assert "threads/p/comments-2.json" not in files
    assert "threads/p/comments-3.html" not in files
    assert report.files_deleted == 4
    assert_manifest_matches(store, config)


def test_build_site_page_left_empty_keeps_an_empty_thread(config: Config, store: Store) -> None:
    only = add(store, "/p/")
    build_site(config, store)
    moderate(store, [only], "reject", actor="t")
    build_site(config, store)
    data = read_json(config, "threads/p/comments.json")
    assert (data["count"], data["comments"]) == (0, [])
    assert read_json(config, "threads/comments-counts.json")["counts"] == {"/p/": 0}


def test_build_site_removed_parent_becomes_placeholder(config: Config, store: Store) -> None:
    parent = add(store, "/p/", "parent text")
    child = add(store, "/p/", "child text", parent=parent)
    lonely = add(store, "/p/", "lonely text")
    moderate(store, [parent, lonely], "delete", actor="t")
    build_site(config, store)
    data = read_json(config, "threads/p/comments.json")
    comments = data["comments"]
    assert comments == [  # the lonely deleted comment vanishes; the parent keeps its place
        {
            "id": parent,
            "parent": None,
            "depth": 0,
            "removed": True,
            "author": None,
            "website": None,
            "avatar": None,
            "html": None,
            "created": None,
            "edited": None,
            "owner": None,
        },
        {**comments[1], "id": child, "parent": parent, "depth": 1},  # type: ignore[index,dict-item]
    ]
    html = (Path(config.output_dir) / "threads/p/comments.html").read_text()
    assert "parent text" not in html
    assert "This comment was removed." in html
    assert data["count"] == 1


def test_build_site_edit_changes_the_output(config: Config, store: Store) -> None:
    cid = add(store, "/p/", "before")
    build_site(config, store)
    body = "after *edit*"
    edit_comment(store, cid, body=body, body_html=render_markdown(body), renderer="x", actor="t")
    build_site(config, store)
    html = (Path(config.output_dir) / "threads/p/comments.html").read_text()
    assert "<em>edit</em>" in html
    assert "before" not in html


def test_build_site_stale_renderer_is_rerendered(config: Config, store: Store) -> None:
    add(store, "/p/", "**new**", renderer="md0-ancient", body_html="<b>old</b>")
    add(store, "/q/", "ignored", renderer="md0-ancient", body_html="<p>kept</p>", source="import:x")
    build_site(config, store)
    assert (
        "<strong>new</strong>" in (Path(config.output_dir) / "threads/p/comments.html").read_text()
    )
    assert "kept" in (Path(config.output_dir) / "threads/q/comments.html").read_text()


def test_build_site_approval_during_build_leaves_page_dirty(config: Config, store: Store) -> None:
    first = add(store, "/a/")
    add(store, "/b/")
    late = add(store, "/a/", "late", status="pending")
    version_read = get_page(store, "/a/")

    def approve_meanwhile(done: int, total: int) -> None:
        if done == 1:  # /a/ has been read and rendered; approve before its batch is recorded
            moderate(store, [late], "approve", actor="t")

    build_site(config, store, on_progress=approve_meanwhile)
    page = get_page(store, "/a/")
    assert version_read is not None
    assert page is not None
    assert page.built_version == version_read.version < page.version
    report = build_site(config, store)
    assert report.pages_rendered == 1
    ids = [c["id"] for c in read_json(config, "threads/a/comments.json")["comments"]]  # type: ignore[union-attr]
    assert ids == [first, late]


def test_build_site_progress_reports_every_page(config: Config, store: Store) -> None:
    for n in range(3):
        add(store, f"/p{n}/")
    seen: list[tuple[int, int]] = []
    build_site(config, store, on_progress=lambda d, t: seen.append((d, t)))
    assert seen == [(1, 3), (2, 3), (3, 3)]


def test_build_site_config_change_rebuilds_everything(config: Config, store: Store) -> None:
    add(store, "/a/")
    build_site(config, store)
    changed = replace(config, site=replace(config.site, language="de"))
    report = build_site(changed, store)
    assert report.full
    assert report.pages_rendered == 1
    assert "1 Kommentar" in (Path(config.output_dir) / "threads/a/comments.html").read_text()


def test_build_site_wiped_output_is_rebuilt(config: Config, store: Store) -> None:
    add(store, "/a/")
    build_site(config, store)
    for path in sorted(Path(config.output_dir).rglob("*"), reverse=True):
        path.unlink() if path.is_file() else path.rmdir()
    report = build_site(config, store)
    assert report.full
    assert_manifest_matches(store, config)


def test_build_site_closed_threads_omit_the_form(config: Config, store: Store) -> None:
    add(store, "/open/")
    add(store, "/closed/")
    add(store, "/archive/old/")
    set_page_closed(store, "/closed/", True)
    config = with_build(config, closed_pages=["/archive/*"])
    build_site(config, store)
    out = Path(config.output_dir)
    open_html = (out / "threads/open/comments.html").read_text()
    assert "afterword-form" in open_html
    assert "<footer><button>Reply</button></footer>" in open_html
    for key in ("threads/closed/comments.html", "threads/archive/old/comments.html"):
        html = (out / key).read_text()
        assert "<form" not in html
        assert "<footer>" not in html  # no Reply button
        assert "Comments are closed." in html
    assert read_json(config, "threads/closed/comments.json")["closed"] is True


def test_build_site_threads_close_after_days(config: Config, store: Store) -> None:
    from datetime import UTC, datetime

    config = with_build(config, close_after_days=10)
    add(store, "/p/", created="2026-01-01T00:00:00.000000Z")
    build_site(config, store, now=datetime(2026, 1, 5, tzinfo=UTC))
    assert "<form" in (Path(config.output_dir) / "threads/p/comments.html").read_text()
    report = build_site(config, store, now=datetime(2026, 1, 20, tzinfo=UTC))
    assert report.pages_rendered == 1
    assert not report.full
    assert "<form" not in (Path(config.output_dir) / "threads/p/comments.html").read_text()
    again = build_site(config, store, now=datetime(2026, 1, 21, tzinfo=UTC))
    assert again.pages_rendered == 0


def test_build_site_unwritable_output_is_a_build_error(config: Config, store: Store) -> None:
    blocker = Path(config.output_dir)
    blocker.parent.mkdir(parents=True, exist_ok=True)
    blocker.write_text("a file where the folder should be")
    add(store, "/p/")
    with pytest.raises(BuildError, match="not writable"):
        build_site(config, store)


def test_build_site_report_to_dict(config: Config, store: Store) -> None:
    add(store, "/p/")
    report = build_site(config, store)
    data = report.to_dict()
    assert isinstance(report, BuildReport)
    assert data["pages_rendered"] == 1
    assert data["changed_keys"] == sorted(data["changed_keys"])
    assert json.loads(json.dumps(data)) == data


def test_build_site_refuses_a_concurrent_build(config: Config, store: Store) -> None:
    from afterword.builder.write import build_lock

    add(store, "/p/")
    with build_lock(store.path), pytest.raises(BuildError, match="another build"):
        build_site(config, store)
    assert build_site(config, store).pages_rendered == 1


def test_build_site_worker_pool_gives_identical_output(
    config: Config, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    from afterword.builder import pool, site

    for n in range(120):
        parent = add(store, f"/blog/p{n % 40}/", f"comment *{n}*")
        add(store, f"/blog/p{n % 40}/", "reply", parent=parent)
    build_site(config, store)
    single = tree(Path(config.output_dir))
    monkeypatch.setattr(site, "worker_count", lambda pages, full: 2)  # even on one CPU
    monkeypatch.setattr(pool, "CHUNK", 7)
    seen: list[int] = []
    report = build_site(config, store, full=True, on_progress=lambda d, t: seen.append(d))
    assert report.pages_rendered == 40
    assert seen == list(range(1, 41))
    assert report.files_written == 0
    assert tree(Path(config.output_dir)) == single
    assert_manifest_matches(store, config)
