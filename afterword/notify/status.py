"""The outbox's health in words: shared by ``notify --status``, ``doctor`` and ``/metrics``."""

from __future__ import annotations

from afterword.config import Config
from afterword.errors import AfterwordError
from afterword.notify.channels import sends_anything
from afterword.notify.smtp import check_addresses, parse_smtp_url
from afterword.store.outbox import OutboxStatus, outbox_status
from afterword.store.submissions import probe


def read_status(config: Config) -> OutboxStatus:
    """Counts read with a short-lived connection of their own (never the writer's)."""
    with probe(config.database_path) as conn:
        return outbox_status(conn)


def problems(config: Config, status: OutboxStatus) -> list[str]:
    """What a person should look at; empty when notifications are fine (or off)."""
    found: list[str] = []
    if not sends_anything(config):
        return found
    if not config.intake.public_url:
        found.append(
            "intake.public_url is empty, so the links in notifications point at "
            f"{config.intake_base}: set it to the intake's public address"
        )
    try:
        parse_smtp_url(config.notify.smtp_url)
        check_addresses("notify.moderators", config.notify.moderators)
    except AfterwordError as exc:
        found.append(str(exc))
    if status.failed:
        found.append(
            f"{status.failed} notification(s) failed for good (last error: {status.last_error})"
        )
    elif status.queued and status.last_error:
        found.append(f"{status.queued} notification(s) waiting to be retried: {status.last_error}")
    return found


def describe(config: Config, status: OutboxStatus) -> str:
    if not sends_anything(config):
        mode = config.notify.mode
        why = "notify.mode is off" if mode == "off" else "no notify.moderators or notify.webhooks"
        return f"notifications are off ({why}); {status.sent} sent before"
    line = f"{status.queued} queued, {status.sent} sent, {status.failed} failed"
    if status.oldest_queued:
        line += f"; oldest queued since {status.oldest_queued}"
    return line
