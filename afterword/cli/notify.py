"""``afterword notify``: drain the notification outbox by hand, or show how it is doing.

``serve`` and ``watch`` drain it in the background; this command is for cron jobs, a site
with neither running, and for looking (``--status``).
"""

from __future__ import annotations

import dataclasses
import logging
import sys
import time

import click

from afterword.cli.common import json_option, print_json, with_config
from afterword.config import Config
from afterword.store import require_database


@click.command("notify")
@click.option("--once", is_flag=True, help="Send what is due now, then exit.")
@click.option("--status", "show_status", is_flag=True, help="Show queued, sent and failed.")
@click.option("--webhook-key", is_flag=True, help="Print the key webhook signatures are made with.")
@json_option
@with_config
def notify_command(
    config: Config, once: bool, show_status: bool, webhook_key: bool, as_json: bool
) -> None:
    """Send queued notifications to moderators (mail, webhooks); loops until Ctrl-C.

    Exits 1 with --status when notifications have failed for good.
    """
    from afterword.notify.runner import POLL_SECONDS, drain_once
    from afterword.notify.status import describe, problems, read_status

    require_database(config.database_path, config.source)
    if webhook_key:
        _print_webhook_key(config)
        return
    if show_status:
        status = read_status(config)
        found = problems(config, status)
        if as_json:
            print_json({**dataclasses.asdict(status), "problems": found})
        else:
            click.echo(describe(config, status))
            for problem in found:
                click.echo(f"problem: {problem}")
        if status.failed:
            sys.exit(1)
        return
    if once:
        report = drain_once(config)
        if report is None:
            _say(as_json, {"busy": True}, "another sender is running; nothing sent")
            return
        text = f"sent {report.sent}, failed {report.failed}, held {report.held}"
        _say(as_json, dataclasses.asdict(report), text)
        return
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    try:
        while True:
            drain_once(config, wait=0)
            time.sleep(POLL_SECONDS)
    except KeyboardInterrupt:
        return


def _say(as_json: bool, data: object, text: str) -> None:
    if as_json:
        print_json(data)
    else:
        click.echo(text)


def _print_webhook_key(config: Config) -> None:
    from afterword.notify.webhook import webhook_key
    from afterword.store import open_store, site_secret

    with open_store(config.database_path) as store:
        secret = site_secret(store)
    click.echo(webhook_key(config, secret).decode("utf-8"))


COMMANDS = [notify_command]
