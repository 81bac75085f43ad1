"""``afterword demo [DIR]``: the whole loop on this machine, no cloud account needed."""

from __future__ import annotations

from pathlib import Path

import click

DEFAULT_FOLDER = "afterword-demo"


@click.command("demo")
@click.argument("directory", required=False, type=click.Path(file_okay=False, path_type=Path))
@click.option(
    "--port",
    default=0,
    show_default="a free port",
    type=click.IntRange(0, 65535),
    help="Port of the demo's static site on 127.0.0.1.",
)
@click.option("--no-serve", is_flag=True, help="Build the demo site and exit (for scripts and CI).")
def demo_command(directory: Path | None, port: int, no_serve: bool) -> None:
    """Create a demo site in DIR (default ./afterword-demo) with comments, and serve it.

    Starts the intake on a free loopback port, posts and approves a few comments, builds,
    and serves the site on localhost until Ctrl-C. Re-running reuses the folder.
    """
    from afterword.demo import run_demo  # starts servers: imported only when asked for

    run_demo(directory or Path(DEFAULT_FOLDER), port=port, serve=not no_serve, echo=click.echo)


COMMANDS = [demo_command]
