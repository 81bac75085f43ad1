"""The ``afterword`` command: a click group whose commands live in small modules beside this.

Commands are thin: parse, call one library function, print a summary (or JSON with ``--json``).
Every ``AfterwordError`` becomes a one-line ``Error: …`` and its exit code here, in one place.
"""

from __future__ import annotations

from typing import Any

import click

from afterword import __version__
from afterword.cli.common import AfterwordGroup
from afterword.cli.setup import init_command, migrate_command

COMMAND_MODULES = (
    "afterword.cli.moderation",
    "afterword.cli.serve",
    "afterword.cli.build",
    "afterword.cli.publish",
    "afterword.cli.transfer",
    "afterword.cli.demo",
)


@click.group(cls=AfterwordGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="afterword")
@click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False),
    envvar="AFTERWORD_CONFIG",
    help="Config file (default ./afterword.toml).",
)
@click.pass_context
def main(ctx: click.Context, config_path: str | None) -> None:
    """afterword: comments for static sites, with no live read path."""
    ctx.obj = {"config_path": config_path}


main.add_command(init_command)
main.add_command(migrate_command)


def _register(module_name: str) -> None:
    """Each command module exposes COMMANDS; missing modules are stages not built yet."""
    import importlib

    try:
        module: Any = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name != module_name:
            raise
        return
    for command in module.COMMANDS:
        main.add_command(command)


for _name in COMMAND_MODULES:
    _register(_name)
