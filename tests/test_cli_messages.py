"""Messages a person can act on: a missing database, JSON errors, publish before build,
rebuild without targets, the order of --help, what init says next.

Subprocesses where the process boundary matters (exit status, stderr, files left behind);
click's runner where only the command's output does.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import click
import pytest
from click.testing import CliRunner
from conftest import add_rendered, afterword_env, run_afterword
from fixtures_s3 import add_to_config

from afterword.cli import WORKFLOW, main
from afterword.store import Store

EMPTY_FOLDER_COMMANDS = [
    ["queue"],
    ["review"],
    ["approve", "1"],
    ["reject", "1"],
    ["spam", "1"],
    ["delete", "1"],
    ["build"],
    ["publish"],
    ["rebuild"],
    ["watch", "--poll"],
    ["notify", "--once"],
    ["notify", "--status"],
    ["reply", "1", "--body", "hi"],
    ["migrate"],
    ["export", "out.json"],
    ["import", "disqus", "in.xml"],
    ["import", "afterword", "in.json"],
    ["erase", "--email", "someone@example.com", "--yes"],
    ["serve", "--port", "0"],
    ["serve", "--port", "0", "--workers", "2"],
    ["pull", "--once"],
]
# What each command with --json needs besides it, to get as far as opening the database.
JSON_ARGS = {
    "queue": [],
    "approve": ["1"],
    "reject": ["1"],
    "spam": ["1"],
    "delete": ["1"],
    "build": [],
    "publish": [],
    "rebuild": [],
    "notify": ["--once"],
    "reply": ["1", "--body", "hi"],
    "export": ["out.json"],
    "erase": ["--email", "someone@example.com", "--yes"],
    **{f"import {kind}": ["in.file"] for kind in ("disqus", "wordpress", "isso", "staticman")},
    "import commento": ["in.file"],
    "import afterword": ["in.file"],
    "pull": ["--once"],
}


def missing_database_line(folder: Path) -> str:
    return (
        f"Error: no database at {folder / 'afterword.db'} (no config file at "
        f"{folder / 'afterword.toml'}, so the defaults were used): run `afterword init` to "
        "create it, or point --config (or AFTERWORD_CONFIG) at the site's afterword.toml"
    )


@pytest.mark.parametrize("args", EMPTY_FOLDER_COMMANDS, ids=" ".join)
def test_command_in_an_empty_folder_refuses_and_creates_nothing(
    tmp_path: Path, args: list[str]
) -> None:
    done = run_afterword(*args, cwd=tmp_path, timeout=60)
    assert done.returncode == 2, done.stderr
    assert done.stderr == missing_database_line(tmp_path) + "\n"  # one line, the fix in it
    assert done.stdout == ""
    assert list(tmp_path.iterdir()) == []  # no database, no output folder, nothing


def test_missing_database_names_the_config_that_pointed_at_it(site_dir: Path) -> None:
    (site_dir / "afterword.db").unlink()
    elsewhere = site_dir / "elsewhere"
    elsewhere.mkdir()
    config = site_dir / "afterword.toml"
    for args in (["queue"], ["--config", str(config), "queue"], ["queue", "--config", str(config)]):
        done = run_afterword(*args, cwd=elsewhere if "--config" in args else site_dir)
        assert done.returncode == 2
        assert done.stderr == (
            f"Error: no database at {site_dir / 'afterword.db'} (database.path in {config}): "
            "run `afterword init` to create it, or point --config (or AFTERWORD_CONFIG) at the "
            "site's afterword.toml\n"
        )
    assert not (site_dir / "afterword.db").exists()
    assert list(elsewhere.iterdir()) == []


def test_uvicorn_factory_refuses_a_missing_database(tmp_path: Path) -> None:
    """``uvicorn --factory afterword.intake:create_app`` must not collect into a new file."""
    site = tmp_path / "site"
    assert CliRunner().invoke(main, ["init", str(site)]).exit_code == 0
    (site / "afterword.db").unlink()
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "--factory",
            "afterword.intake:create_app",
            "--port",
            "0",
        ],
        cwd=tmp_path,
        env=afterword_env({"AFTERWORD_CONFIG": str(site / "afterword.toml")}),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2, done.stderr
    assert done.stderr.splitlines() == [
        f"Error: no database at {site / 'afterword.db'} (database.path in "
        f"{site / 'afterword.toml'}): run `afterword init` to create it, or point --config "
        "(or AFTERWORD_CONFIG) at the site's afterword.toml"
    ]
    assert not (site / "afterword.db").exists()


def json_commands(group: click.Group = main, prefix: str = "") -> Iterator[str]:
    """Every command (through nested groups) that has --json, by its path below afterword."""
    ctx = click.Context(group)
    for name in group.list_commands(ctx):
        command = group.get_command(ctx, name)
        assert command is not None
        if isinstance(command, click.Group):
            yield from json_commands(command, f"{prefix}{name} ")
        elif any(p.name == "as_json" for p in command.params):
            yield f"{prefix}{name}"


def test_every_json_command_is_covered_below() -> None:
    # doctor reports a missing database as one of its checks; policy reads only the config;
    # package-lambda packages the code and opens nothing.
    assert set(json_commands()) - {"doctor", "policy", "package-lambda"} == set(JSON_ARGS)


@pytest.fixture
def empty_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name in [n for n in os.environ if n.startswith("AFTERWORD_")]:
        monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.mark.parametrize("command", sorted(JSON_ARGS))
def test_json_missing_database_is_a_json_error_on_stdout(empty_folder: Path, command: str) -> None:
    result = CliRunner().invoke(main, [*command.split(), "--json", *JSON_ARGS[command]])
    assert result.exit_code == 2
    assert result.stderr == ""
    assert json.loads(result.stdout) == {
        "error": {
            "code": "database_missing",
            "exit_code": 2,
            "message": missing_database_line(empty_folder).removeprefix("Error: "),
        }
    }
    assert list(empty_folder.iterdir()) == []


def json_error(args: list[str], **kwargs: str) -> tuple[int, dict[str, object], str]:
    result = CliRunner().invoke(main, args, **kwargs)  # type: ignore[arg-type]
    data = json.loads(result.stdout)
    assert set(data) == {"error"}, data
    return result.exit_code, data["error"], result.stderr


def test_json_errors_keep_the_exit_codes_of_the_text_errors(site_dir: Path, store: Store) -> None:
    cases = [
        (["approve", "999", "--json"], 1, "moderation", "no comment with id 999"),
        (["publish", "--json"], 2, "config", "no publish targets: add a [targets.NAME]"),
        (["queue", "--json", "--status", "bogus"], 2, "usage", "Invalid value for '--status'"),
        (["queue", "--bogus", "--json"], 2, "usage", "No such option '--bogus'"),
        (["approve", "--json", "x"], 2, "usage", "'x' is not a valid integer range"),
        (["queue", "--json", "--page", "/" + "a" * 3000], 1, "invalid_page_key", "longer than"),
    ]
    for args, code, kind, text in cases:
        exit_code, error, stderr = json_error(args)
        assert (exit_code, error["code"], error["exit_code"], stderr) == (code, kind, code, "")
        assert text in str(error["message"])
        plain = CliRunner().invoke(main, [a for a in args if a != "--json"])
        assert plain.exit_code == code  # the same status without --json
        assert plain.stdout == ""
        assert "Error: " in plain.stderr


def test_json_config_and_import_errors(site_dir: Path, store: Store) -> None:
    broken = site_dir / "in.xml"
    broken.write_text("<disqus><thread", encoding="utf-8")
    exit_code, error, _ = json_error(["import", "disqus", str(broken), "--json"])
    assert (exit_code, error["code"]) == (1, "import_failed")
    assert "not well-formed XML" in str(error["message"])
    add_to_config(site_dir, "\n[bulid]\n")
    exit_code, error, _ = json_error(["build", "--json"])
    assert (exit_code, error["code"]) == (2, "config")
    assert "unknown section [bulid]" in str(error["message"])


def test_json_abort_is_json(site_dir: Path, store: Store) -> None:
    add_rendered(store, email="zoe@example.org")
    exit_code, error, stderr = json_error(
        ["erase", "--email", "zoe@example.org", "--json"], input="n\n"
    )
    assert (exit_code, error["code"]) == (1, "aborted")
    assert "Erase the personal data of 1 comments" in stderr  # the question is not in the JSON


def test_command_without_json_keeps_plain_usage_errors(site_dir: Path) -> None:
    result = CliRunner().invoke(main, ["serve", "--json"])
    assert result.exit_code == 2
    assert result.stdout == ""
    assert "No such option: --json" in result.stderr or "No such option '--json'" in result.stderr


def test_publish_before_any_build_says_so(site_dir: Path, store: Store) -> None:
    add_to_config(site_dir, '\n[targets.site]\nkind = "local"\npath = "mirror"\n')
    add_rendered(store, status="approved")
    before = run_afterword("publish", cwd=site_dir)
    assert before.returncode == 1
    assert before.stderr == "Error: nothing to publish: no build yet; run `afterword build` first\n"
    assert not (site_dir / "mirror").exists()
    exit_code, error, _ = json_error(["publish", "--json"])
    assert (exit_code, error["code"]) == (1, "publish")
    assert error["message"] == "nothing to publish: no build yet; run `afterword build` first"
    assert run_afterword("build", cwd=site_dir).returncode == 0
    after = run_afterword("publish", cwd=site_dir)
    assert after.returncode == 0, after.stderr
    assert after.stdout.startswith("site: uploaded ")
    assert (site_dir / "mirror" / "empty.html").exists()


def test_rebuild_without_targets_warns_and_still_builds(site_dir: Path, store: Store) -> None:
    add_rendered(store, status="approved")
    done = run_afterword("rebuild", cwd=site_dir)
    assert done.returncode == 0, done.stderr
    assert done.stderr == (
        f"Warning: no publish targets in {site_dir / 'afterword.toml'}: building only; add a "
        "[targets.NAME] table to publish (see docs/publishing.md)\n"
    )
    assert done.stdout.startswith("built 1 page(s)")
    assert (site_dir / "output" / "threads" / "blog" / "post" / "comments.json").exists()
    scripted = run_afterword("rebuild", "--json", cwd=site_dir)
    assert scripted.returncode == 0
    assert json.loads(scripted.stdout)["publish"] == {}
    assert scripted.stderr.startswith("Warning: no publish targets")


def test_rebuild_with_a_target_does_not_warn(site_dir: Path, store: Store) -> None:
    add_to_config(site_dir, '\n[targets.site]\nkind = "local"\npath = "mirror"\n')
    done = run_afterword("rebuild", cwd=site_dir)
    assert (done.returncode, done.stderr) == (0, "")


def test_watch_without_targets_warns(site_dir: Path) -> None:
    child = subprocess.Popen(
        [sys.executable, "-m", "afterword", "watch", "--poll"],
        cwd=site_dir,
        env=afterword_env(),
        stderr=subprocess.PIPE,
        text=True,
    )
    lines: list[str] = []
    seen = threading.Event()

    def read() -> None:
        assert child.stderr is not None
        for line in child.stderr:
            lines.append(line)
            if line.startswith("Warning: "):
                seen.set()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        assert seen.wait(30), lines
    finally:
        child.send_signal(signal.SIGINT)
        child.wait(timeout=30)
        reader.join(10)
        assert child.stderr is not None
        child.stderr.close()
    warnings = [line for line in lines if line.startswith("Warning: ")]
    assert warnings == [
        f"Warning: no publish targets in {site_dir / 'afterword.toml'}: building only; add a "
        "[targets.NAME] table to publish (see docs/publishing.md)\n"
    ]


def test_help_lists_commands_in_workflow_order_with_whole_summaries() -> None:
    result = CliRunner().invoke(main, ["--help"], terminal_width=100)
    assert result.exit_code == 0
    listing = result.output.split("Commands:\n", 1)[1].splitlines()
    names = [line.split()[0] for line in listing]
    assert names == [command.name for command in WORKFLOW]
    assert names[:4] == ["init", "serve", "pull", "queue"]  # set up, collect, moderate
    assert names != sorted(names)
    for line, command in zip(listing, WORKFLOW, strict=True):
        summary = line.split(None, 1)[1]
        assert command.help is not None
        first_paragraph = " ".join(command.help.split("\n\n")[0].split())
        assert first_paragraph.startswith(summary)  # the whole first sentence, on one line
        assert summary.endswith(".")
        assert not summary.endswith("...")


def test_help_on_a_narrow_terminal_wraps_but_never_cuts() -> None:
    result = CliRunner().invoke(main, ["--help"], terminal_width=60)
    text = " ".join(result.output.split("Commands:\n", 1)[1].split())
    assert "invalidate exactly those CDN paths." in text
    assert "..." not in text


def test_init_prints_the_next_three_commands(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    here = CliRunner().invoke(main, ["init"])
    assert here.exit_code == 0, here.output
    first, *rest = here.output.splitlines()
    assert first == f"Wrote {tmp_path / 'afterword.toml'} and created {tmp_path / 'afterword.db'}"
    assert rest[0] == "Next:"
    assert [line.split()[:2] for line in rest[1:]] == [
        ["afterword", "serve"],
        ["afterword", "review"],
        ["afterword", "build"],
    ]
    assert "http://127.0.0.1:8000/api/comments" in rest[1]
    there = CliRunner().invoke(main, ["init", "blog"])
    assert there.output.splitlines()[1] == "Next, in blog:"


def test_init_keeps_an_existing_config_and_creates_the_missing_database(tmp_path: Path) -> None:
    site = tmp_path / "site"
    site.mkdir()
    config = site / "afterword.toml"
    config.write_text('[site]\ntitle = "Mine"\n', encoding="utf-8")
    done = run_afterword("init", cwd=site)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[0] == f"Kept {config} and created {site / 'afterword.db'}"
    assert config.read_text(encoding="utf-8") == '[site]\ntitle = "Mine"\n'
    assert run_afterword("queue", cwd=site).stdout == "No pending comments.\n"
    again = run_afterword("init", cwd=site)
    assert again.returncode == 2
    assert again.stderr == f"Error: {config} already exists (use --force to overwrite)\n"
