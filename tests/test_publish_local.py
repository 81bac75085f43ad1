"""The local target mirrors the output folder exactly; a purge-URL CDN is told what changed;
the CLI prints one line per target, JSON for scripts, and errors as one line."""

from __future__ import annotations

import fcntl
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from fixtures_s3 import add_to_config, write_output

from afterword.cli import main
from afterword.config import Config, load_config
from afterword.errors import PublishError
from afterword.output import local
from afterword.output.base import cache_control, with_charset
from afterword.output.local import LocalTarget
from afterword.output.plan import batch_paths
from afterword.output.publish import publish_changes
from afterword.store import Store
from afterword.store.publish import list_invalidations, read_published

FILES = {
    "threads/blog/a/comments.json": b'{"a": 1}',
    "threads/blog/a/comments.html": b"<section>a</section>",
    "feed.atom": b"<feed/>",
}


def tree(folder: Path) -> dict[str, bytes]:
    return {
        p.relative_to(folder).as_posix(): p.read_bytes() for p in folder.rglob("*") if p.is_file()
    }


def local_config(site_dir: Path, extra: str = "") -> Config:
    add_to_config(site_dir, f'\n[targets.site]\nkind = "local"\npath = "mirror"\n{extra}')
    return load_config(site_dir / "afterword.toml")


def test_local_target_mirrors_exactly(site_dir: Path, store: Store) -> None:
    config = local_config(site_dir)
    write_output(store, config.output_dir, FILES)
    assert publish_changes(config, store, "site").uploaded == 3
    assert tree(site_dir / "mirror") == FILES
    write_output(
        store, config.output_dir, {"feed.atom": b"<feed>2</feed>"}, removed=tuple(FILES)[:2]
    )
    report = publish_changes(config, store, "site")
    assert (report.uploaded, report.deleted) == (1, 2)
    assert tree(site_dir / "mirror") == {"feed.atom": b"<feed>2</feed>"}
    assert not (site_dir / "mirror" / "threads").exists()  # emptied folders pruned
    assert publish_changes(config, store, "site").requests == 0


def test_local_target_unwritable_folder(site_dir: Path, store: Store) -> None:
    (site_dir / "mirror").write_text("not a folder")
    config = local_config(site_dir)
    write_output(store, config.output_dir, FILES)
    with pytest.raises(PublishError, match=r"cannot write .*targets\.site\.path"):
        publish_changes(config, store, "site")
    assert read_published(store, "site") == {}


def test_local_target_refuses_unsafe_keys(site_dir: Path, store: Store) -> None:
    config = local_config(site_dir)
    write_output(store, config.output_dir, {"ok.json": b"{}"})
    target = LocalTarget("site", config.targets["site"])
    with pytest.raises(PublishError, match="unsafe output key"):
        target.delete("../outside")


class PurgeHandler(BaseHTTPRequestHandler):
    server: Any

    def do_POST(self) -> None:
        self.server.seen.append((self.path, self.headers.get("Authorization")))
        status = 500 if self.server.fail else 200
        self.send_response(status)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet."""


@pytest.fixture
def purge_server() -> Iterator[Any]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), PurgeHandler)
    server.seen = []  # type: ignore[attr-defined]
    server.fail = False  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()
    thread.join()


def test_purge_url_is_called_per_changed_path(
    site_dir: Path, store: Store, purge_server: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AFTERWORD_PURGE_AUTHORIZATION", "Bearer t0ken")
    port = purge_server.server_address[1]
    config = local_config(site_dir, f'purge_url = "http://127.0.0.1:{port}/purge?p={{path}}"\n')
    write_output(store, config.output_dir, FILES)
    purge_server.fail = True
    with pytest.raises(
        PublishError, match=r"purge request to http://127.0.0.1:\d+/purge answered 500"
    ):
        publish_changes(config, store, "site")
    assert [i.state for i in list_invalidations(store, "site")] == ["pending"]
    purge_server.fail = False
    purge_server.seen.clear()
    report = publish_changes(config, store, "site")
    assert sorted(purge_server.seen) == sorted((f"/purge?p=/{k}", "Bearer t0ken") for k in FILES)
    assert report.invalidations_open == 0
    assert [i.state for i in list_invalidations(store, "site")] == ["completed"]


def test_purge_url_unreachable(site_dir: Path, store: Store) -> None:
    config = local_config(site_dir, 'purge_url = "http://127.0.0.1:9/purge{path}"\n')
    write_output(store, config.output_dir, FILES)
    with pytest.raises(PublishError, match=r"cannot reach purge URL http://127\.0\.0\.1:9/purge"):
        publish_changes(config, store, "site")


def test_cli_publish_summary_json_and_error(site_dir: Path, store: Store) -> None:
    config = local_config(site_dir)
    write_output(store, config.output_dir, FILES)
    runner = CliRunner()
    dry = runner.invoke(main, ["publish", "--dry-run"])
    assert dry.exit_code == 0
    assert "site: would upload 3, delete 0 (dry run)" in dry.output
    done = runner.invoke(main, ["publish", "--json"])
    assert json.loads(done.output)["site"]["uploaded"] == 3
    quiet = runner.invoke(main, ["publish", "--quiet"])
    assert quiet.exit_code == 0
    assert quiet.output == ""
    again = runner.invoke(main, ["publish"])
    assert "site: uploaded 0 (0 bytes), deleted 0, invalidated 0 path(s)" in again.output
    wrong = runner.invoke(main, ["publish", "--target", "nope"])
    assert wrong.exit_code == 2
    assert wrong.output.strip() == "Error: no target named 'nope' (configured: site)"


def test_cli_publish_without_targets(site_dir: Path, store: Store) -> None:
    result = CliRunner().invoke(main, ["publish"])
    assert result.exit_code == 2
    assert "no publish targets" in result.output
    assert "Traceback" not in result.output


def test_plan_batches() -> None:
    paths = [f"/p{i}" for i in range(2500)]
    assert [len(b) for b in batch_paths(paths, wildcard="/*", wildcard_over=3000)] == [
        1000,
        1000,
        500,
    ]
    assert batch_paths(paths, wildcard="/*", wildcard_over=10) == [["/*"]]
    assert batch_paths([], wildcard="/*", wildcard_over=10) == []


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("application/json", "application/json; charset=utf-8"),
        ("text/html; charset=utf-8", "text/html; charset=utf-8"),
        ("application/atom+xml", "application/atom+xml; charset=utf-8"),
        ("image/png", "image/png"),
    ],
)
def test_with_charset(given: str, expected: str) -> None:
    assert with_charset(given) == expected


def test_cache_control_by_class() -> None:
    assert cache_control("immutable", invalidated=False, shared_max_age=5) == (
        "public, max-age=31536000, immutable"
    )
    assert cache_control("short", invalidated=False, shared_max_age=5) == "public, max-age=300"
    assert "s-maxage=31536000" in cache_control("fragment", invalidated=True, shared_max_age=5)
    assert "s-maxage=5," in cache_control("fragment", invalidated=False, shared_max_age=5)


def test_publish_full_restores_a_target_emptied_by_hand(site_dir: Path, store: Store) -> None:
    config = local_config(site_dir)
    write_output(store, config.output_dir, FILES)
    publish_changes(config, store, "site")
    for path in (site_dir / "mirror").rglob("*.json"):
        path.unlink()
    assert publish_changes(config, store, "site").requests == 0  # published rows cannot know
    assert publish_changes(config, store, "site", full=True).uploaded == len(FILES)
    assert tree(site_dir / "mirror") == FILES


# A publisher that SIGKILLs itself between writing a temporary file and renaming it into place:
# exactly what a kill mid-write leaves in the folder, made by the real write path.
KILLED_MID_WRITE = """
import os, signal, sys
from pathlib import Path
from afterword.output import local
def killed(source, destination):
    os.kill(os.getpid(), signal.SIGKILL)
os.replace = killed
Path(sys.argv[1]).mkdir(parents=True, exist_ok=True)
local.write_atomic(Path(sys.argv[1]) / sys.argv[2], b"half")
"""
# Look like ours at a glance, but are not of our naming: a publish must never remove them.
LOOKALIKES = (
    ".afterword-notes",
    ".comments.json.1a2b3c4d.tmp",
    ".comments.json.afterword-XYZ.tmp",
    ".comments.json.afterword-0123456789abcdef.tmp.bak",
    "comments.json.afterword-0123456789abcdef.tmp",
    "notes.tmp",
)


def kill_mid_write(site_dir: Path, folder: Path, name: str) -> Path:
    """Run a real writer that dies by SIGKILL mid-write; return the temporary it left."""
    result = subprocess.run(
        [sys.executable, "-c", KILLED_MID_WRITE, str(folder), name],
        env={**os.environ, "PYTHONPATH": str(Path(local.__file__).parents[2])},
        cwd=site_dir,
        capture_output=True,
        check=False,
        timeout=60,
    )
    assert result.returncode == -signal.SIGKILL, result.stderr
    (left,) = [p for p in folder.iterdir() if p.name.startswith(f".{name}.")]
    assert left.read_bytes() == b"half"
    return left


def age(path: Path, seconds: float) -> None:
    then = time.time() - seconds
    os.utime(path, (then, then))


@contextmanager
def other_publish_running(config: Config) -> Iterator[None]:
    """Holds the publish lock as a publish in another process would (shared, all along)."""
    path = config.database_path.with_name(config.database_path.name + ".publish-lock")
    with path.open("a+b") as handle:
        fcntl.flock(handle, fcntl.LOCK_SH)
        yield


def test_publish_sweeps_what_a_killed_publish_left(site_dir: Path, store: Store) -> None:
    """Killed mid-write, then published again (CLI): the leftover is gone before anything is
    served, the user's lookalike files stay, and the leftover never reached the mirror's
    manifest-driven contents."""
    config = local_config(site_dir)
    mirror = site_dir / "mirror" / "threads" / "blog" / "a"
    left = kill_mid_write(site_dir, mirror, "comments.json")
    for name in LOOKALIKES:
        (mirror / name).write_bytes(b"mine")
        age(mirror / name, 7200)
    write_output(store, config.output_dir, FILES)
    result = CliRunner().invoke(main, ["publish"])
    assert result.exit_code == 0, result.output
    assert "; removed 1 temporary file(s) an interrupted publish left" in result.output
    assert not left.exists()
    assert tree(site_dir / "mirror") == {
        **FILES,
        **{f"threads/blog/a/{name}": b"mine" for name in LOOKALIKES},
    }


def test_publish_spares_a_fresh_temporary_while_another_publish_runs(
    site_dir: Path, store: Store
) -> None:
    """With another publish of the site running, a young temporary may be its write in
    flight: only ones older than STALE_SECONDS go. Alone, any of ours goes."""
    config = local_config(site_dir)
    mirror = site_dir / "mirror" / "threads" / "blog" / "a"
    fresh = kill_mid_write(site_dir, mirror, "comments.json")
    stale = kill_mid_write(site_dir, mirror, "comments.html")
    age(stale, local.STALE_SECONDS + 60)
    write_output(store, config.output_dir, FILES)
    with other_publish_running(config):
        assert publish_changes(config, store, "site").swept == 1
    assert (fresh.exists(), stale.exists()) == (True, False)
    write_output(store, config.output_dir, {"threads/blog/a/comments.json": b'{"a": 2}'})
    assert publish_changes(config, store, "site").swept == 1  # alone now
    assert not fresh.exists()


def test_publish_full_sweeps_folders_this_publish_does_not_touch(
    site_dir: Path, store: Store
) -> None:
    config = local_config(site_dir)
    write_output(store, config.output_dir, FILES)
    publish_changes(config, store, "site")
    elsewhere = kill_mid_write(site_dir, site_dir / "mirror" / "threads" / "old", "x.json")
    assert publish_changes(config, store, "site").swept == 0  # nothing to write near it
    assert elsewhere.exists()
    result = CliRunner().invoke(main, ["publish", "--full", "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["site"]["swept"] == 1
    assert not elsewhere.exists()


def test_builder_temporaries_in_the_output_folder_are_never_published(
    site_dir: Path, store: Store
) -> None:
    """A build killed mid-write leaves ``.<name>.<hex>.tmp`` in the output folder; publish
    copies what the manifest lists, so the leftover never reaches a target."""
    config = local_config(site_dir)
    write_output(store, config.output_dir, FILES)
    stray = config.output_dir / "threads" / "blog" / "a" / ".comments.json.1a2b3c4d.tmp"
    stray.write_bytes(b"half")
    assert publish_changes(config, store, "site", full=True).uploaded == len(FILES)
    assert tree(site_dir / "mirror") == FILES


def test_publish_lock_that_cannot_be_created_is_one_line(site_dir: Path, store: Store) -> None:
    config = local_config(site_dir)
    write_output(store, config.output_dir, FILES)
    lock = config.database_path.with_name(config.database_path.name + ".publish-lock")
    lock.mkdir()  # something in the way of the lock file
    result = CliRunner().invoke(main, ["publish"])
    assert result.exit_code == 1, result.output
    assert result.stderr == f"Error: cannot create {lock}: Is a directory\n"
    assert not (site_dir / "mirror" / "feed.atom").exists()  # nothing published without it
