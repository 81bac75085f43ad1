"""``afterword pull``: store the submissions that SQS intakes queued (``intake.queue``)."""

from __future__ import annotations

import sys
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

if TYPE_CHECKING:  # boto3 is imported when the command runs, not at startup
    from afterword.intake.pull import PullReport


@click.command("pull")
@with_config
@click.option("--once", is_flag=True, help="Store what is queued now, then exit.")
@click.option(
    "--batch",
    default=100,
    show_default=True,
    type=click.IntRange(1, 1000),
    help="Messages stored per transaction.",
)
@json_option
@quiet_option
def pull(config: Config, once: bool, batch: int, as_json: bool, quiet: bool) -> None:
    """Store submissions queued in SQS by intakes elsewhere, exactly once.

    Without ``--once`` it keeps long-polling until Ctrl-C.
    """
    from afterword.intake.pull import pull_queue, queue_url
    from afterword.intake.sqs import sqs_client

    show = show_progress(quiet, as_json)

    def progress(report: PullReport) -> None:
        if show:
            click.echo(f"\rpulled {report.received:,} message(s)", nl=False, err=True)

    with store_for(config) as store:
        url = queue_url(config)
        try:
            report = pull_queue(
                config, store, sqs_client(url), once=once, batch=batch, on_batch=progress
            )
        except KeyboardInterrupt:  # between or inside a batch: what was committed is deleted
            report = None
    if show:
        click.echo("", err=True)
    if report is None:
        sys.exit(130)
    if as_json:
        print_json(report.to_dict())
    elif not quiet:
        click.echo(summary(report))


def summary(report: PullReport) -> str:
    statuses = ", ".join(f"{n} {status}" for status, n in sorted(report.statuses.items()))
    return (
        f"Pulled {report.received} message(s): {report.stored} stored, {report.refused} "
        f"refused, {report.redelivered} already stored, {report.invalid} invalid, "
        f"{report.malformed} unreadable" + (f" ({statuses})" if statuses else "")
    )


COMMANDS = [pull]
