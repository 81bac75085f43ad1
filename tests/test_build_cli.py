"""``afterword build`` through click's CliRunner and as a real subprocess."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import run_afterword
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
