"""rebuild = the real builder, then publish: what lands on S3, on a local mirror, and what the
CDN is told after one approval or one deletion."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner
from fixtures_s3 import S3Env, add_to_config, write_output
from test_build_support import add

from afterword.cli import main
from afterword.config import Config, load_config
from afterword.pipeline import rebuild
from afterword.store import Store, moderate
from afterword.store.publish import list_invalidations, read_manifest, read_published

pytestmark = pytest.mark.s3


def output_files(folder: Path) -> dict[str, bytes]:
    return {
        path.relative_to(folder).as_posix(): path.read_bytes()
        for path in folder.rglob("*")
        if path.is_file()
    }


def with_target(site_dir: Path, text: str) -> Config:
    add_to_config(site_dir, text)
    return load_config(site_dir / "afterword.toml")


def test_rebuild_puts_exactly_the_output_on_s3(site_dir: Path, store: Store, s3: S3Env) -> None:
    config = with_target(site_dir, s3.target_toml())
    for page in ("/blog/a/", "/blog/b/", "/notes/c/"):
        add(store, page, "Hello")
    report = rebuild(config, store)
    assert report.publishes[0].uploaded == report.build.files_written
    assert s3.objects() == output_files(config.output_dir)
    head = s3.direct.head_object(Bucket=s3.bucket, Key="threads/blog/a/comments.json")
    assert head["ContentType"] == "application/json; charset=utf-8"
    s3.proxy.reset()
    again = rebuild(config, store)
    assert again.publishes[0].requests == 0
    assert s3.proxy.count() == 0


def test_rebuild_after_approval_touches_exactly_that_page(
    site_dir: Path, store: Store, s3: S3Env
) -> None:
    config = with_target(site_dir, s3.target_toml())
    for page in ("/blog/a/", "/blog/b/", "/notes/c/"):
        add(store, page, "Hello")
    rebuild(config, store)
    pending = add(store, "/blog/b/", "Hello", status="pending")
    moderate(store, [pending], "approve", actor="test")
    s3.proxy.reset()
    report = rebuild(config, store)
    changed = set(report.build.changed_keys)
    assert {k for k in changed if k.startswith("threads/blog/b/")} == {
        "threads/blog/b/comments.json",
        "threads/blog/b/comments.html",
        "threads/blog/b/feed.atom",
    }
    others = changed - {k for k in changed if k.startswith("threads/blog/b/")}
    assert all("count" in k or k.endswith(".atom") for k in others)
    assert set(report.publishes[0].invalidated) == {"/" + k for k in changed}
    assert s3.proxy.count("PUT") == len(changed)
    assert s3.invalidated_paths()[-1] == sorted("/" + k for k in changed)
    assert s3.objects() == output_files(config.output_dir)


def test_rebuild_deleted_thread_is_updated(site_dir: Path, store: Store, s3: S3Env) -> None:
    config = with_target(site_dir, s3.target_toml())
    add(store, "/blog/a/", "Hello")
    gone = add(store, "/blog/b/", "Hello")
    rebuild(config, store)
    before = s3.objects()["threads/blog/b/comments.json"]
    moderate(store, [gone], "delete", actor="test")
    report = rebuild(config, store)
    assert s3.objects() == output_files(config.output_dir)
    assert s3.objects().get("threads/blog/b/comments.json") != before
    assert "/threads/blog/b/comments.json" in report.publishes[0].invalidated
    assert read_published(store, "cdn") == {k: v.sha256 for k, v in read_manifest(store).items()}


def test_rebuild_local_target_mirrors_exactly(site_dir: Path, store: Store) -> None:
    mirror = site_dir / "site" / "static" / "comments"
    config = with_target(site_dir, f'\n[targets.site]\nkind = "local"\npath = "{mirror}"\n')
    first = add(store, "/blog/a/", "Hello")
    add(store, "/blog/b/", "Hello")
    rebuild(config, store)
    assert output_files(mirror) == output_files(config.output_dir)
    moderate(store, [first], "spam", actor="test")
    write_output(store, config.output_dir, {}, removed=())
    rebuild(config, store, full=True)
    assert output_files(mirror) == output_files(config.output_dir)
    assert list_invalidations(store, "site") == []


def test_rebuild_unknown_target_fails_before_building(site_dir: Path, store: Store) -> None:
    config = with_target(site_dir, '\n[targets.site]\nkind = "local"\npath = "m"\n')
    add(store, "/blog/a/", "Hello")
    with pytest.raises(Exception, match="no target named 'nope'"):
        rebuild(config, store, targets=["nope"])
    assert read_manifest(store) == {}


@pytest.mark.slow
def test_publish_killed_midway_is_finished_by_next_run(
    site_dir: Path, store: Store, s3: S3Env
) -> None:
    config = with_target(site_dir, s3.target_toml(max_workers=2))
    files = {f"threads/p{i:03}/comments.json": b'{"n": %d}' % i for i in range(60)}
    write_output(store, config.output_dir, files)
    s3.proxy.state.delay = 0.05
    command = [sys.executable, "-m", "afterword", "publish", "--quiet"]
    child = subprocess.Popen(command, cwd=site_dir, env=s3.env())
    deadline = time.monotonic() + 30
    while s3.proxy.count("PUT") < 20 and time.monotonic() < deadline:
        time.sleep(0.01)
    os.kill(child.pid, signal.SIGKILL)
    child.wait()
    done_before = len(read_published(store, "cdn"))
    assert 0 < done_before < len(files)
    assert [i.state for i in list_invalidations(store, "cdn")] == ["pending"]
    s3.proxy.state.delay = 0
    s3.proxy.reset()
    finish = subprocess.run(command, cwd=site_dir, env=s3.env(), check=False)
    assert finish.returncode == 0
    assert s3.proxy.count("PUT") <= len(files) - done_before
    assert s3.objects() == files
    assert s3.invalidated_paths() == [sorted("/" + k for k in files)]
    assert [i.state for i in list_invalidations(store, "cdn")] == ["completed"]


def test_cli_rebuild_prints_summary_and_json(site_dir: Path, store: Store) -> None:
    with_target(site_dir, '\n[targets.site]\nkind = "local"\npath = "mirror"\n')
    add(store, "/blog/a/", "Hello")
    first = CliRunner().invoke(main, ["rebuild"])
    assert first.exit_code == 0, first.output
    assert "site: " in first.output
    again = CliRunner().invoke(main, ["rebuild", "--json"])
    data = json.loads(again.output)
    assert data["build"]["pages_rendered"] == 0
    assert data["publish"]["site"]["requests"] == 0
    wrong = CliRunner().invoke(main, ["rebuild", "--target", "nope"])
    assert wrong.exit_code == 2
    assert wrong.output.startswith("Error: no target named 'nope'")
