"""Generated docs stay in step with the code, and every command explains itself."""

from __future__ import annotations

import dataclasses
import importlib.util
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import click
import pytest

from afterword.cli import main
from afterword.config import SECTIONS, TargetConfig, setting_key

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "scripts" / "gen_docs.py"
HOW_TO_FIX = "run python scripts/gen_docs.py"


def load_gen_docs() -> ModuleType:
    spec = importlib.util.spec_from_file_location("gen_docs", SCRIPT)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def gen_docs() -> ModuleType:
    return load_gen_docs()


@pytest.mark.parametrize("name", ["cli.md", "configuration.md"])
def test_docs_are_up_to_date(gen_docs: ModuleType, name: str) -> None:
    path = ROOT / "docs" / name
    expected = gen_docs.outputs()[path]
    assert path.exists(), f"docs/{name} is missing: {HOW_TO_FIX}"
    assert path.read_text(encoding="utf-8") == expected, f"docs/{name} is out of date: {HOW_TO_FIX}"


def all_commands() -> list[tuple[str, click.Command]]:
    gen_docs = load_gen_docs()
    return [
        (ctx.command_path, command) for ctx, command in gen_docs.iter_commands(main, "afterword")
    ]


@pytest.mark.parametrize(("path", "command"), all_commands(), ids=lambda v: str(v))
def test_docs_every_command_has_help(path: str, command: click.Command) -> None:
    assert (command.help or "").strip(), f"`{path}` has no help text (add a docstring)"
    for param in command.params:
        if isinstance(param, click.Option):
            assert (param.help or "").strip(), f"`{path} {param.opts[0]}` has no help text"


def test_docs_cli_covers_subcommands_of_groups(gen_docs: ModuleType) -> None:
    group = click.Group("outer", help="Outer group.")
    inner = click.Group("inner", help="Inner group.")
    inner.add_command(click.Command("leaf", help="A leaf."))
    group.add_command(inner)
    paths = [ctx.command_path for ctx, _ in gen_docs.iter_commands(group, "outer")]
    assert paths == ["outer", "outer inner", "outer inner leaf"]


def test_docs_cli_lists_every_registered_command(gen_docs: ModuleType) -> None:
    text = gen_docs.render_cli()
    for name in main.list_commands(click.Context(main)):
        assert f"## `afterword {name}`" in text


def test_docs_configuration_has_every_setting(gen_docs: ModuleType) -> None:
    text = gen_docs.render_config()
    for section, cls in SECTIONS.items():
        for fld in dataclasses.fields(cls):
            name = setting_key(fld)  # the file's name: notify.from, not the field's
            assert f"### {section}.{name}\n" in text
            assert f"`AFTERWORD_{section.upper()}_{name.upper()}`" in text
    for name in TargetConfig.__dataclass_fields__:
        assert f"### targets.NAME.{name}\n" in text
    assert "- Default: `5000`" in text  # database.busy_timeout_ms
    assert "- Choices: `none`, `identicon`, `gravatar`" in text


def test_gen_docs_check_and_write(tmp_path: Path) -> None:
    def gen(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, str(SCRIPT), "--docs-dir", str(tmp_path), *args],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )

    stale = gen("--check")
    assert stale.returncode == 1
    assert f"cli.md is out of date: {HOW_TO_FIX}" in stale.stderr
    assert gen().returncode == 0
    assert gen("--check").returncode == 0
    assert (tmp_path / "configuration.md").read_text(encoding="utf-8").startswith("# Configuration")
