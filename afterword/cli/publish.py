"""``afterword publish``, ``rebuild``, ``watch`` and ``doctor``.

The pipeline (which imports the builder) is imported inside the commands that need it, so
``publish`` and ``doctor`` keep working on a folder someone else built.
"""

from __future__ import annotations

import logging
import sys
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
from afterword.errors import PublishError
from afterword.store import Store
from afterword.store.build import get_fingerprint
from afterword.store.publish import read_manifest

if TYPE_CHECKING:  # boto3 is imported when a command needs it, not at startup
    from afterword.output.publish import PublishReport


@click.command("publish")
@with_config
@click.option("--target", "targets", multiple=True, help="Only this target (repeatable).")
@click.option("--dry-run", is_flag=True, help="Show what would change; send nothing.")
@click.option(
    "--full",
    is_flag=True,
    help="Upload everything again (target emptied by hand); sweep the whole target folder.",
)
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
    """Upload what changed, delete what vanished, invalidate exactly those CDN paths."""
    from afterword.output import target_config
    from afterword.output.publish import publish_changes

    names = targets or tuple(config.targets)
    reports = []
    with store_for(config) as store:
        for name in names or ("",):  # no targets, or an unknown one, is a ConfigError
            target_config(config, name)
        if not has_build(store):
            raise PublishError("nothing to publish: no build yet; run `afterword build` first")
        for name in names:
            with progress_bar(name, show_progress(quiet, as_json)) as progress:
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
        if not targets:
            warn_without_targets(config)
        report = run_rebuild(config, store, full=full, targets=targets or None)
    if as_json:
        print_json(report.to_dict())
    elif not quiet:
        click.echo(report.summary())


@click.command("watch")
@with_config
@click.option("--poll", is_flag=True, default=None, help="Poll instead of filesystem events.")
def watch(config: Config, poll: bool | None) -> None:
    """Rebuild and publish whenever the database, templates or config change.

    Ctrl-C stops.
    """
    from afterword.notify.runner import BackgroundSender
    from afterword.pipeline import watch as run_watch

    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s", stream=sys.stderr
    )
    logging.getLogger("botocore").setLevel(logging.WARNING)
    with store_for(config) as store:
        warn_without_targets(config)
        sender = BackgroundSender(config).start()  # notifications, while watching
        try:
            run_watch(config, store, poll=poll)
        finally:
            sender.stop()


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
    if report.swept:
        line += f"; removed {report.swept} temporary file(s) an interrupted publish left"
    return line


def has_build(store: Store) -> bool:
    """Whether any build finished (or left files): publishing before one would send nothing.

    Worse, it would look like success. The fingerprint is written by every finished build;
    the manifest also counts a build that stopped half-way (its files can still go out).
    """
    return get_fingerprint(store) is not None or bool(read_manifest(store))


def warn_without_targets(config: Config) -> None:
    """``rebuild`` and ``watch`` still build with no target; say that nothing is published."""
    if not config.targets:
        where = config.source if config.source and config.source.is_file() else "the config"
        click.echo(
            f"Warning: no publish targets in {where}: building only; add a [targets.NAME] "
            "table to publish (see docs/publishing.md)",
            err=True,
        )


COMMANDS = [publish, rebuild, watch, doctor]
