"""The command-line basics: the group, help, errors as one line, subprocess behaviour."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import click
import pytest
from click.testing import CliRunner
from conftest import run_afterword

from afterword import __version__
from afterword.cli import main
from afterword.cli.common import actor_name, show_progress
from afterword.config import load_config
from afterword.store import NewComment, Store, add_comment, get_comment, open_store


def run(site_dir: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """``python -m afterword`` as a user would run it, with only the given AFTERWORD_* set."""
    encoding = env.get("PYTHONIOENCODING", "utf-8")
    return run_afterword(*args, cwd=site_dir, env=env, encoding=encoding)


def add(store: Store, body: str = "Hello", **fields: Any) -> int:
    fields.setdefault("page_key", "/blog/post/")
    fields.setdefault("author", "Zoë")
    new = NewComment(body=body, body_html=f"<p>{body}</p>", renderer="t", **fields)
    return add_comment(store, new).id


def open_site_store(site: Path) -> Store:
    return open_store(load_config(site / "afterword.toml", environ={}).database_path)


def registered() -> list[str]:
    return main.list_commands(click.Context(main))


def test_cli_lists_core_commands() -> None:
    names = registered()
    for name in ("init", "migrate", "queue", "approve", "reject", "spam", "delete", "review"):
        assert name in names


@pytest.mark.parametrize("name", registered())
def test_cli_every_command_has_help(name: str) -> None:
    result = CliRunner().invoke(main, [name, "-h"], prog_name="afterword")
    assert result.exit_code == 0, result.output
    assert result.output.startswith(f"Usage: afterword {name} ")


def test_cli_version() -> None:
    result = CliRunner().invoke(main, ["--version"])
    assert result.exit_code == 0
    assert result.output == f"afterword, version {__version__}\n"


def test_cli_unknown_command_is_usage_error() -> None:
    result = CliRunner().invoke(main, ["aprove"], prog_name="afterword")
    assert result.exit_code == 2
    assert result.stderr == (
        "Error: No such command 'aprove'. Did you mean 'approve'? (see afterword --help)\n"
    )


def walk(group: click.Group = main, path: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    """The words naming every command below ``afterword``, nested groups (import) included."""
    ctx = click.Context(group)
    for name in group.list_commands(ctx):
        command = group.get_command(ctx, name)
        assert command is not None
        yield (*path, name)
        if isinstance(command, click.Group):
            yield from walk(command, (*path, name))


def leaf(words: tuple[str, ...]) -> click.Command:
    command: click.Command = main
    for word in words:
        assert isinstance(command, click.Group)
        found = command.get_command(click.Context(command), word)
        assert found is not None
        command = found
    return command


def one_usage_line(args: list[str], words: tuple[str, ...]) -> str:
    """Run ``afterword *args``; assert the one-line usage error; return its message."""
    result = CliRunner().invoke(main, args, prog_name="afterword")
    assert result.exit_code == 2, result.output
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    hint = f" (see {' '.join(('afterword', *words))} --help)"
    assert lines[0].startswith("Error: ")
    assert lines[0].endswith(hint)
    return lines[0].removeprefix("Error: ").removesuffix(hint)


@pytest.mark.parametrize("words", [(), *walk()], ids=lambda w: " ".join(w) or "afterword")
def test_cli_usage_errors_are_one_line_for_every_command(words: tuple[str, ...]) -> None:
    """An unknown option, and for a command with required arguments none of them: one line
    ``Error: …`` with a hint, exit 2 — never click's three-line Usage/Try/Error block."""
    assert one_usage_line([*words, "--no-such-option"], words) == (
        "No such option '--no-such-option'."
    )
    command = leaf(words)
    if isinstance(command, click.Group):
        alone = CliRunner().invoke(main, list(words), prog_name="afterword")
        assert alone.stderr.startswith(f"Usage: {' '.join(('afterword', *words))} ")  # its help
    elif any(p.required for p in command.params):
        assert one_usage_line(list(words), words).startswith("Missing ")
    helped = CliRunner().invoke(main, [*words, "--help"], prog_name="afterword")
    assert helped.exit_code == 0, helped.output
    assert helped.stdout.startswith(f"Usage: {' '.join(('afterword', *words))} ")
    assert helped.stderr == ""


def test_cli_bad_values_are_one_line_usage_errors(site_dir: Path) -> None:
    assert one_usage_line(["approve", "x"], ("approve",)) == (
        "Invalid value for 'IDS...': 'x' is not a valid integer range."
    )
    assert one_usage_line(["queue", "--status", "bogus"], ("queue",)).startswith(
        "Invalid value for '--status': 'bogus' is not one of 'pending',"
    )
    assert one_usage_line(["import", "bogus"], ("import",)) == "No such command 'bogus'."
    assert one_usage_line(["queue", "--page"], ("queue",)) == (
        "Option '--page' requires an argument."
    )


def test_cli_actor_name_configured_or_login(
    site_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LOGNAME", "sam")
    assert actor_name(load_config(environ={})) == "sam"
    configured = load_config(environ={"AFTERWORD_MODERATION_MODERATOR": "The Mods"})
    assert actor_name(configured) == "The Mods"


def test_cli_show_progress_never_for_scripts() -> None:
    assert show_progress(quiet=True, as_json=False) is False
    assert show_progress(quiet=False, as_json=True) is False


def test_cli_locked_database_is_one_line_error(store: Store) -> None:
    comment_id = add(store)
    store.conn.execute("BEGIN IMMEDIATE")  # another writer holds the lock
    try:
        result = CliRunner().invoke(
            main, ["approve", str(comment_id)], env={"AFTERWORD_DATABASE_BUSY_TIMEOUT_MS": "50"}
        )
    finally:
        store.conn.rollback()
    assert result.exit_code == 1
    assert result.stderr.startswith("Error: ")
    assert "database is locked" in result.stderr
    assert len(result.stderr.splitlines()) == 1
    found = get_comment(store, comment_id)
    assert found is not None
    assert found.status == "pending"


def test_cli_subprocess_help_and_version(site_dir: Path) -> None:
    helped = run(site_dir, "--help")
    assert helped.returncode == 0
    assert "review" in helped.stdout
    versioned = run(site_dir, "--version")
    assert versioned.stdout == f"afterword, version {__version__}\n"
    unknown = run(site_dir, "frobnicate")
    assert unknown.returncode == 2
    assert unknown.stderr == "Error: No such command 'frobnicate'. (see afterword --help)\n"
    missing = run(site_dir, "approve")
    assert (missing.returncode, missing.stdout) == (2, "")
    assert missing.stderr == "Error: Missing argument 'IDS...'. (see afterword approve --help)\n"


def test_cli_subprocess_init_queue_and_moderate(tmp_path: Path) -> None:
    init = run(tmp_path, "init", "site", "--site-url", "https://blog.example.com")
    assert init.returncode == 0, init.stderr
    site = tmp_path / "site"
    with open_site_store(site) as store:
        first, second = add(store, "first"), add(store, "second", page_key="/other/")
    listed = run(site, "queue", "--json")
    assert listed.returncode == 0, listed.stderr
    assert [c["id"] for c in json.loads(listed.stdout)["comments"]] == [first, second]
    rejected = run(site, "reject", str(first), str(second), "--reason", "spammy")
    assert (rejected.returncode, rejected.stdout) == (0, "rejected 2 comments on 2 pages\n")
    again = run(site, "delete", str(first), "999")
    assert again.returncode == 1
    assert again.stderr == "Error: no comment with id 999\n"
    empty = run(site, "queue")
    assert (empty.returncode, empty.stdout, empty.stderr) == (0, "No pending comments.\n", "")


def test_cli_json_survives_a_non_utf8_terminal(store: Store, site_dir: Path) -> None:
    """Scripts may run with a latin-1 or ASCII locale; JSON output must not crash there."""
    add(store, "日本語 🎉", email="zoë@example.com")
    for encoding in ("latin-1", "ascii"):
        done = run(site_dir, "queue", "--json", PYTHONIOENCODING=encoding)
        assert done.returncode == 0, done.stderr
        assert "Traceback" not in done.stderr
        assert json.loads(done.stdout)["comments"][0]["body"] == "日本語 🎉"


def test_cli_table_survives_a_non_utf8_terminal(store: Store, site_dir: Path) -> None:
    add(store, "日本語 🎉 café")
    done = run(site_dir, "queue", PYTHONIOENCODING="latin-1")
    assert done.returncode == 0, done.stderr
    assert "Zoë" in done.stdout  # what latin-1 can show is shown, the rest degrades
    assert "??? ? café" in done.stdout
