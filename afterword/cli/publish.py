"""``afterword publish``, ``rebuild``, ``watch`` and ``doctor``.

The pipeline (which imports the builder) is imported inside the commands that need it, so
``publish`` and ``doctor`` keep working on a folder someone else built.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

import click

from afterword.cli.common import (
    json_option,
    print_json,
    quiet_option,
    show_progress,
    store_for,
    with_config,
)
from afterword.config import Config

if TYPE_CHECKING:  # boto3 is imported when a command needs it, not at startup
    from afterword.output.publish import PublishReport


@click.command("publish")
@with_config
@click.option("--target", "targets", multiple=True, help="Only this target (repeatable).")
@click.option("--dry-run", is_flag=True, help="Show what would change; send nothing.")
@click.option("--full", is_flag=True, help="Upload everything again (target emptied by hand).")
@json_option
@quiet_option
def publish(
    config: Config,
    targets: tuple[str, ...],
    dry_run: bool,
    full: bool,
    as_json: bool,
    quiet: bool,
) -> None:
    """Upload what changed since the last publish, delete what vanished, invalidate the CDN."""
    from afterword.output import target_config
    from afterword.output.publish import publish_changes

    names = targets or tuple(config.targets)
    if not names:
        target_config(config, "")  # raises the "no publish targets" error
    reports = []
    with store_for(config) as store:
        for name in names:
            with _progress(f"{name}", show_progress(quiet, as_json)) as progress:
                reports.append(
                    publish_changes(
                        config, store, name, dry_run=dry_run, full=full, on_progress=progress
                    )
                )
    if as_json:
        print_json({report.target: report.to_dict() for report in reports})
    elif not quiet:
        for report in reports:
            click.echo(describe(report))


@click.command("rebuild")
@with_config
@click.option("--full", is_flag=True, help="Render every page, not only the changed ones.")
@click.option("--target", "targets", multiple=True, help="Only this target (repeatable).")
@json_option
@quiet_option
def rebuild(
    config: Config, full: bool, targets: tuple[str, ...], as_json: bool, quiet: bool
) -> None:
    """Build, then publish to every target."""
    from afterword.pipeline import rebuild as run_rebuild

    with store_for(config) as store:
        report = run_rebuild(config, store, full=full, targets=targets or None)
    if as_json:
        print_json(report.to_dict())
    elif not quiet:
        click.echo(report.summary())


@click.command("watch")
@with_config
@click.option("--poll", is_flag=True, default=None, help="Poll instead of filesystem events.")
def watch(config: Config, poll: bool | None) -> None:
    """Rebuild and publish whenever the database, templates or config change (Ctrl-C stops)."""
    from afterword.pipeline import watch as run_watch

    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s", stream=sys.stderr
    )
    logging.getLogger("botocore").setLevel(logging.WARNING)
    with store_for(config) as store:
        run_watch(config, store, poll=poll)


@click.command("doctor")
@click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False),
    default=None,
    help="Config file (default: $AFTERWORD_CONFIG or ./afterword.toml).",
)
@json_option
def doctor(config_path: str | None, as_json: bool) -> None:
    """Check config, database, output folder, bucket and CDN access; say what to fix."""
    from afterword.output.doctor import run_doctor

    chosen = config_path or (click.get_current_context().find_root().obj or {}).get("config_path")
    checks = run_doctor(chosen)
    if as_json:
        print_json([check.to_dict() for check in checks])
    else:
        for check in checks:
            click.echo(f"{'ok  ' if check.ok else 'FAIL'}  {check.name}: {check.detail}")
    failed = sum(not check.ok for check in checks)
    if failed:
        if not as_json:
            click.echo(f"{failed} problem(s) found", err=True)
        sys.exit(1)


def describe(report: PublishReport) -> str:
    """One line per target: what moved and what the CDN was told."""
    if report.dry_run:
        return (
            f"{report.target}: would upload {len(report.planned_uploads)}, "
            f"delete {len(report.planned_deletions)} (dry run)"
        )
    line = (
        f"{report.target}: uploaded {report.uploaded} ({report.bytes_uploaded} bytes), "
        f"deleted {report.deleted}, invalidated {len(report.invalidated)} path(s) "
        f"in {report.seconds:.1f} s"
    )
    if report.invalidations_open:
        line += f"; {report.invalidations_open} invalidation(s) still in progress"
    return line


@contextmanager
def _progress(label: str, shown: bool) -> Iterator[Callable[[int, int], None] | None]:
    if not shown:
        yield None
        return
    with click.progressbar(length=1, label=label, file=sys.stderr) as bar:

        def update(done: int, total: int) -> None:
            bar.length = total
            bar.update(done - bar.pos)

        yield update


COMMANDS = [publish, rebuild, watch, doctor]
