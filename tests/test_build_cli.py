"""``afterword build`` through click's CliRunner and as a real subprocess."""

from __future__ import annotations

import json
import os
import pty
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import afterword_env, run_afterword
from test_build_support import add

from afterword.cli import main
from afterword.config import Config
from afterword.store import Store


def test_build_cli_prints_one_line_summary(config: Config, store: Store) -> None:
    add(store, "/p/")
    result = CliRunner().invoke(main, ["build"])
    assert result.exit_code == 0, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("Built 1 page(s) (full: ")
    assert "file(s) written" in lines[0]
    assert "bytes in" in lines[0]


def test_build_cli_json_reports_the_build(config: Config, store: Store) -> None:
    add(store, "/p/")
    result = CliRunner().invoke(main, ["build", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["pages_rendered"] == 1
    assert "threads/p/comments.json" in data["changed_keys"]
    again = json.loads(CliRunner().invoke(main, ["build", "--json"]).output)
    assert (again["files_written"], again["full"]) == (0, False)


def test_build_cli_full_and_quiet(config: Config, store: Store) -> None:
    add(store, "/p/")
    CliRunner().invoke(main, ["build", "--quiet"])
    result = CliRunner().invoke(main, ["build", "--full", "--quiet"])
    assert result.exit_code == 0
    assert result.output == ""
    data = json.loads(CliRunner().invoke(main, ["build", "--full", "--json"]).output)
    assert (data["full"], data["reason"], data["pages_rendered"]) == (True, "requested", 1)


def test_build_cli_unwritable_output_is_one_line_error(site_dir: Path, store: Store) -> None:
    (site_dir / "output").write_text("not a folder")
    add(store, "/p/")
    result = CliRunner().invoke(main, ["build"])
    assert result.exit_code == 1
    assert result.output.startswith("Error: output folder ")
    assert len(result.output.strip().splitlines()) == 1


def _run(site_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return run_afterword("build", *args, cwd=site_dir)


def test_build_cli_subprocess_json_and_error(site_dir: Path, store: Store) -> None:
    add(store, "/p/")
    done = _run(site_dir, "--json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["pages_rendered"] == 1
    assert done.stderr == ""
    quiet = _run(site_dir, "--quiet")
    assert (quiet.returncode, quiet.stdout, quiet.stderr) == (0, "", "")
    out = site_dir / "output"
    for path in sorted(out.rglob("*"), reverse=True):
        path.unlink() if path.is_file() else path.rmdir()
    out.rmdir()
    out.write_text("blocked")
    failed = _run(site_dir)
    assert failed.returncode == 1
    assert failed.stderr.startswith("Error: output folder ")
    assert "Traceback" not in failed.stderr


def test_build_cli_progress_bar_on_a_terminal(
    config: Config, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    import afterword.cli.build as build_cli

    monkeypatch.setattr(build_cli, "show_progress", lambda quiet, as_json: True)
    for n in range(3):
        add(store, f"/p{n}/")
    result = CliRunner().invoke(main, ["build"])
    assert result.exit_code == 0, result.output
    assert "Building" in result.output
    assert "Built 3 page(s)" in result.output


# The real command with two delays put in: a slow start before the first page (as when
# render workers spawn on a loaded machine) and 10 ms per page, so the build lasts long
# enough for click to show an ETA at all (it samples the rate at most once a second).
SLOW_BUILD = """
import sys, time
import afterword.builder.site as site
plan, record = site.plan_build, site._record_page
site.plan_build = lambda *a, **k: (time.sleep(1.5), plan(*a, **k))[1]
site._record_page = lambda *a, **k: (time.sleep(0.01), record(*a, **k))[1]
from afterword.cli import main
main(args=sys.argv[1:], prog_name="afterword")
"""
ETA = re.compile(rb"(\d+)%\s+(\d\d):(\d\d):(\d\d)")


def test_build_cli_progress_eta_matches_the_real_rate(site_dir: Path, store: Store) -> None:
    """The reported bug: a 340-page build of 1.2 s showed "0% 00:05:43" on a terminal.

    The bar's clock started before the first page, so the start-up counted as the first
    page's time. Each ETA drawn on the terminal must be close to the time that really
    remained (measured here), not minutes off.
    """
    for n in range(300):
        add(store, f"/p{n}/")
    main_fd, child_fd = pty.openpty()
    started = time.monotonic()
    child = subprocess.Popen(
        [sys.executable, "-c", SLOW_BUILD, "build"],
        cwd=site_dir,
        env=afterword_env({"COLUMNS": "100", "TERM": "xterm"}),
        stdout=subprocess.PIPE,
        stderr=child_fd,
    )
    os.close(child_fd)
    chunks: list[tuple[float, bytes]] = []
    while True:
        try:
            data = os.read(main_fd, 4096)
        except OSError:  # EIO: the child closed the terminal
            break
        if not data:
            break
        chunks.append((time.monotonic(), data))
    os.close(main_fd)
    out, _ = child.communicate(timeout=60)
    assert child.returncode == 0
    assert b"Built 300 page(s)" in out
    stream = b"".join(data for _, data in chunks)
    assert b"Building" in stream
    assert b"100%" in stream
    ends, offset = [], 0
    for moment, data in chunks:
        offset += len(data)
        ends.append((offset, moment))

    def seen_at(position: int) -> float:
        return next(moment for end, moment in ends if end >= position)

    finished = seen_at(stream.index(b"100%") + 4)
    etas = [
        (seen_at(m.end()), int(m[2]) * 3600 + int(m[3]) * 60 + int(m[4]))
        for m in ETA.finditer(stream)
    ]
    assert etas, stream[-500:]  # the build ran long enough for an ETA to be shown
    for moment, eta in etas:
        remaining = finished - moment
        assert eta <= 2 * remaining + 2, (eta, remaining, moment - started)
