"""``afterword build``: render dirty pages into the output folder."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from afterword.cli.common import (
    json_option,
    print_json,
    progress_bar,
    quiet_option,
    show_progress,
    store_for,
    with_config,
)
from afterword.config import Config

if TYPE_CHECKING:  # the builder pulls in Jinja: imported when a build runs, not at startup
    from afterword.builder import BuildReport


@click.command("build")
@click.option("--full", is_flag=True, help="Rebuild every page, not only the changed ones.")
@json_option
@quiet_option
@with_config
def build(config: Config, full: bool, as_json: bool, quiet: bool) -> None:
    """Render approved comments to static JSON and HTML (only what changed)."""
    from afterword.builder import build_site

    with (
        store_for(config) as store,
        progress_bar("Building", show_progress(quiet, as_json)) as progress,
    ):
        report = build_site(config, store, full=full, on_progress=progress)
    if as_json:
        print_json(report.to_dict())
    elif not quiet:
        click.echo(summary(report))


def summary(report: BuildReport) -> str:
    """One line: pages rendered, files written, bytes, seconds."""
    kind = f" (full: {report.reason})" if report.full else ""
    return (
        f"Built {report.pages_rendered} page(s){kind}: {report.files_written} file(s) written, "
        f"{report.files_deleted} deleted, {report.bytes_written:,} bytes in {report.seconds:.2f}s"
    )


COMMANDS = [build]
