"""Draining the outbox: compose, send, record — with backoff, digests and a flood guard.

One pass (``Sender.drain``) takes the due rows. Webhook rows are called one by one. Mail rows
are grouped: in ``each`` mode one mail per comment while the hour's budget
(``max_mails_per_hour``) lasts, and when more are due than the budget allows, the last mail of
the budget folds all the rest into one digest; in ``digest`` mode everything due goes out as
one digest once the oldest row has waited ``digest_minutes``. A budget already spent holds
mail rows until the hour frees up. Nothing is dropped.

Each message is recorded as sent in its own transaction right after the server accepted it,
so a crash costs at most that one message twice (same ``Message-ID`` /
``X-Afterword-Delivery``). A failure bumps the row's attempts and schedules the next one
``retry_seconds × 2^attempts`` later (at most an hour); after ``max_attempts`` the row is
``failed`` and shows in ``afterword notify --status``, ``doctor`` and ``/metrics``.

A row about a comment no longer in a notified status (a moderator got there first) is
recorded as ``skipped`` instead of sent.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from afterword.config import Config
from afterword.errors import NotifyError
from afterword.moderation.signals import spam_signals
from afterword.notify.channels import notified_statuses
from afterword.notify.links import make_links
from afterword.notify.mail import Notice, compose
from afterword.notify.replies import SubscriberMails
from afterword.notify.smtp import check_addresses, parse_smtp_url, send, smtp_session
from afterword.notify.webhook import payload, post, webhook_key
from afterword.store import Store, format_time, get_comment, get_page, site_secret, utc_now
from afterword.store.outbox import (
    OutboxRow,
    due_rows,
    mails_sent_since,
    mark_retry,
    mark_sent,
    oldest_queued,
)
from afterword.store.subscriptions import CHANNEL as SUBSCRIBER
from afterword.strings import load_strings

SKIPPED = "skipped"
DIGEST_MAX = 200  # notices in one digest; the rest waits for the next one
MAX_BACKOFF_SECONDS = 3600.0

log = logging.getLogger("afterword.notify")


@dataclass
class DrainReport:
    """What one pass did."""

    sent: int = 0  # messages (a digest counts once)
    skipped: int = 0
    failed: int = 0  # attempts that failed this pass
    held: int = 0  # mail rows waiting for the digest time or the hour's budget
    errors: list[str] = field(default_factory=list)


class Sender:
    """Drains one database's outbox; one pass at a time (the caller holds the lock)."""

    def __init__(
        self,
        config: Config,
        store: Store,
        *,
        environ: Mapping[str, str] | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.config = config
        self.store = store
        self.environ = environ
        self.clock = clock
        self.secret = site_secret(store)
        self.server = parse_smtp_url(config.notify.smtp_url)
        check_addresses("notify.moderators", config.notify.moderators)
        self.strings = load_strings(config.site.language, config.build.templates_dir)

    def drain(self) -> DrainReport:
        report = DrainReport()
        rows = due_rows(self.store, utc_now())
        for row in rows:
            if row.channel == "webhook":
                self._send_webhook(row, report)
        mails = [row for row in rows if row.channel == "mail"]
        if mails:
            self._send_mails(mails, report)
        commenters = [row for row in rows if row.channel == SUBSCRIBER]
        if commenters:  # confirmations and reply mails (notify.replies)
            SubscriberMails(self, report).run(commenters)
        return report

    def _notice(self, comment_id: int) -> Notice | None:
        comment = get_comment(self.store, comment_id)
        if comment is None or comment.status not in notified_statuses(self.config):
            return None
        page = get_page(self.store, comment.page_key)
        page_url = (page.url if page and page.url else "") or (
            self.config.site.url.rstrip("/") + comment.page_key
        )
        parent = get_comment(self.store, comment.parent_id) if comment.parent_id else None
        signals = spam_signals(self.store, comment, max_links=self.config.moderation.max_links)
        links = make_links(
            self.secret,
            self.config.intake_base,
            comment.id,
            comment.status,
            self.config.moderation.link_days,
        )
        return Notice(comment, page_url, parent, links, signals.flags)

    def _send_webhook(self, row: OutboxRow, report: DrainReport) -> None:
        notice = self._notice(row.comment_id)
        if notice is None:
            mark_sent(self.store, [row.id], SKIPPED)
            report.skipped += 1
            return
        try:
            key = webhook_key(self.config, self.secret, self.environ)
            body = payload(self.config, row.event, notice, utc_now())
            post(row.target, body, key, row.id, self.config.notify.timeout_seconds)
        except NotifyError as exc:
            self.retry([row], str(exc), report)
            return
        mark_sent(self.store, [row.id], f"webhook.{row.id}")
        report.sent += 1

    def _send_mails(self, rows: list[OutboxRow], report: DrainReport) -> None:
        planned = self._plan(rows)  # decided on rows: held ones cost no composing at all
        report.held += len(rows) - sum(len(chosen) for chosen in planned)
        groups: list[list[tuple[OutboxRow, Notice]]] = []
        for chosen in planned:
            live = []
            for row in chosen:
                notice = self._notice(row.comment_id)
                if notice is None:
                    mark_sent(self.store, [row.id], SKIPPED)
                    report.skipped += 1
                else:
                    live.append((row, notice))
            if live:
                groups.append(live)
        if not groups:
            return
        try:
            with smtp_session(
                self.server, self.config.notify.timeout_seconds, self.environ
            ) as session:
                for index, group in enumerate(groups):
                    ids = [row.id for row, _ in group]
                    message = compose(
                        self.config,
                        [notice for _, notice in group],
                        self.strings,
                        ids=ids,
                        domain=self.server.host,
                    )
                    try:
                        send(session, message)
                    except NotifyError as exc:
                        self.retry([row for row, _ in group], str(exc), report)
                        groups[index] = []
                        continue
                    mark_sent(self.store, ids, str(message["Message-ID"]))
                    report.sent += 1
                    groups[index] = []
        except NotifyError as exc:  # no session, or it broke: what is left is retried
            left = [row for group in groups for row, _ in group]
            if left:
                self.retry(left, str(exc), report)

    def _plan(self, rows: list[OutboxRow]) -> list[list[OutboxRow]]:
        """Which rows go out now, grouped into messages (see the module docstring)."""
        now = self.clock()
        hour_ago = format_time(now - timedelta(hours=1))
        budget = self.config.notify.max_mails_per_hour - mails_sent_since(self.store, hour_ago)
        if budget <= 0:
            return []
        if self.config.notify.mode == "digest":
            oldest = oldest_queued(self.store, "mail") or rows[0].created
            wait = timedelta(minutes=self.config.notify.digest_minutes)
            if oldest > format_time(now - wait):
                return []
            return [rows[:DIGEST_MAX]]
        if len(rows) <= budget:
            return [[row] for row in rows]
        singles = [[row] for row in rows[: budget - 1]]
        return [*singles, rows[budget - 1 : budget - 1 + DIGEST_MAX]]

    def retry(self, rows: Sequence[OutboxRow], error: str, report: DrainReport) -> None:
        """Back these rows off exponentially (public: the reply-mail sender shares it)."""
        attempts = min(row.attempts for row in rows)
        delay = min(self.config.notify.retry_seconds * 2**attempts, MAX_BACKOFF_SECONDS)
        when = format_time(self.clock() + timedelta(seconds=delay))
        mark_retry(self.store, [r.id for r in rows], error, when, self.config.notify.max_attempts)
        report.failed += 1
        report.errors.append(error)
        log.warning("notification not delivered (retry in %.0f s): %s", delay, error)
