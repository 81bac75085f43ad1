"""The ``afterword`` command: a click group whose commands live in small modules beside this.

Commands are thin: parse, call one library function, print a summary (or JSON with ``--json``).
Every ``AfterwordError`` becomes a one-line ``Error: …`` and its exit code here, in one place.
"""

from __future__ import annotations

import click

from afterword import __version__
from afterword.cli import (
    build,
    demo,
    moderation,
    package_lambda,
    publish,
    pull,
    serve,
    transfer,
)
from afterword.cli.common import AfterwordGroup
from afterword.cli.setup import init_command, migrate_command


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


for command in (
    init_command,
    migrate_command,
    *moderation.COMMANDS,
    *serve.COMMANDS,
    *pull.COMMANDS,
    *package_lambda.COMMANDS,
    *build.COMMANDS,
    *publish.COMMANDS,
    *transfer.COMMANDS,
    *demo.COMMANDS,
):
    main.add_command(command)
