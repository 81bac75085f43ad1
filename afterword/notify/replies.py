"""Sending the ``subscriber`` channel: confirmations and reply mails to commenters.

Called by ``Sender.drain`` with the due rows of that channel; delivery, retries, backoff and
``failed`` are the outbox's as for every other row (``Sender.retry``). Each row is checked
again when it is sent, because the world may have moved since it was enqueued:

* a **confirmation** goes out only while the address is still unconfirmed (one mail even if
  several rows are due), to the address of the comment that opted in;
* a **reply** goes out only while notify.reply_mails is on, the address is confirmed and
  still subscribed to the parent comment, the reply still approved and the parent still
  written with that address — otherwise the row is recorded ``skipped``.

The per-address cap: at most ``notify.reply_mails_per_day`` reply mails to one address in
any 24 hours. When more replies are due than the day's budget leaves, the budget's last mail
folds the rest into one; with the budget spent, the rows wait (no attempt counted) until the
oldest mail of the window is a day old. Nothing is dropped.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import timedelta
from email.message import EmailMessage
from functools import partial
from typing import TYPE_CHECKING

from afterword.errors import NotifyError
from afterword.notify.replymail import (
    ReplyItem,
    compose_confirmation,
    compose_replies,
    recipient,
)
from afterword.notify.smtp import send, smtp_session
from afterword.notify.subtokens import UNSUBSCRIBE_DAYS, make_link
from afterword.store import Comment, format_time, get_comment, get_page, parse_time
from afterword.store.outbox import OutboxRow, mark_sent
from afterword.store.subscriptions import (
    CONFIRM_EVENT,
    REPLY_EVENT,
    Subscriber,
    get_subscriber,
    is_subscribed,
    oldest_reply_sent_since,
    postpone,
    replies_sent_since,
)

if TYPE_CHECKING:
    from afterword.notify.sender import DrainReport, Sender

SKIPPED = "skipped"
FOLD_MAX = 200  # replies folded into one mail; the rest waits for the next one
CAP_WINDOW = timedelta(hours=24)

Planned = tuple[list[OutboxRow], EmailMessage]
_Make = Callable[[list[int]], EmailMessage]  # outbox ids in, a composed mail out


class SubscriberMails:
    """One drain pass over the ``subscriber`` rows, on behalf of a ``Sender``."""

    def __init__(self, sender: Sender, report: DrainReport) -> None:
        self.sender = sender
        self.config = sender.config
        self.store = sender.store
        self.report = report
        self.planned: list[Planned] = []

    def run(self, rows: Sequence[OutboxRow]) -> None:
        groups: dict[str, list[OutboxRow]] = {}
        for row in rows:
            groups.setdefault(row.target, []).append(row)
        for target, group in groups.items():
            subscriber = get_subscriber(self.store, int(target)) if target.isdigit() else None
            confirms = [r for r in group if r.event == CONFIRM_EVENT]
            replies = [r for r in group if r.event == REPLY_EVENT]
            self._skip([r for r in group if r.event not in (CONFIRM_EVENT, REPLY_EVENT)])
            if confirms:
                self._plan_confirmation(subscriber, confirms)
            if replies:
                self._plan_replies(subscriber, replies)
        if self.planned:
            self._send()

    def _skip(self, rows: Sequence[OutboxRow]) -> None:
        if rows:
            mark_sent(self.store, [r.id for r in rows], SKIPPED)
            self.report.skipped += len(rows)

    def _page_url(self, comment: Comment) -> str:
        page = get_page(self.store, comment.page_key)
        return (page.url if page and page.url else "") or (
            self.config.site.url.rstrip("/") + comment.page_key
        )

    def _plan_confirmation(self, subscriber: Subscriber | None, rows: list[OutboxRow]) -> None:
        comment = get_comment(self.store, rows[0].comment_id)
        if (
            subscriber is None
            or subscriber.state != "unconfirmed"
            or comment is None
            or _key(comment.email) != subscriber.email_key
        ):
            self._skip(rows)
            return
        link = make_link(
            self.sender.secret,
            self.config.intake_base,
            "confirm",
            subscriber.id,
            self.config.notify.confirm_days,
        )
        self._compose(rows, partial(self._confirmation, comment, link))

    def _confirmation(self, comment: Comment, link: str, ids: list[int]) -> EmailMessage:
        return compose_confirmation(
            self.config,
            self.sender.strings,
            to=recipient(comment.email),
            page_url=self._page_url(comment),
            confirm_url=link,
            ids=ids,
            domain=self.sender.server.host,
        )

    def _plan_replies(self, subscriber: Subscriber | None, rows: list[OutboxRow]) -> None:
        if (
            subscriber is None
            or subscriber.state != "confirmed"
            or not self.config.notify.reply_mails
        ):
            self._skip(rows)
            return
        live: list[tuple[OutboxRow, ReplyItem]] = []
        for row in rows:
            item = self._item(subscriber, row)
            if item is None:
                self._skip([row])
            else:
                live.append((row, item))
        if not live:
            return
        now = self.sender.clock()
        since = format_time(now - CAP_WINDOW)
        budget = self.config.notify.reply_mails_per_day - replies_sent_since(
            self.store, subscriber.id, since
        )
        if budget <= 0:
            oldest = oldest_reply_sent_since(self.store, subscriber.id, since)
            free = parse_time(oldest) + CAP_WINDOW if oldest else now + CAP_WINDOW
            postpone(self.store, [row.id for row, _ in live], format_time(free))
            self.report.held += len(live)
            return
        if len(live) <= budget:
            batches = [[pair] for pair in live]
        else:
            batches = [[pair] for pair in live[: budget - 1]]
            batches.append(live[budget - 1 : budget - 1 + FOLD_MAX])
        unsubscribe = make_link(
            self.sender.secret,
            self.config.intake_base,
            "unsubscribe",
            subscriber.id,
            UNSUBSCRIBE_DAYS,
        )
        for batch in batches:
            rows = [row for row, _ in batch]
            self._compose(rows, partial(self._reply_mail, [i for _, i in batch], unsubscribe))

    def _reply_mail(self, items: list[ReplyItem], unsubscribe: str, ids: list[int]) -> EmailMessage:
        return compose_replies(
            self.config,
            self.sender.strings,
            to=recipient(items[0].parent.email),
            items=[(item, self._page_url(item.reply)) for item in items],
            unsubscribe_url=unsubscribe,
            ids=ids,
            domain=self.sender.server.host,
        )

    def _item(self, subscriber: Subscriber, row: OutboxRow) -> ReplyItem | None:
        reply = get_comment(self.store, row.comment_id)
        if reply is None or reply.status != "approved" or reply.parent_id is None:
            return None
        parent = get_comment(self.store, reply.parent_id)
        if parent is None or _key(parent.email) != subscriber.email_key:
            return None
        if not is_subscribed(self.store, parent.id, subscriber):
            return None
        link = f"{self._page_url(reply)}#c{reply.id}"
        return ReplyItem(reply, parent, link)

    def _compose(self, rows: list[OutboxRow], make: _Make) -> None:
        try:
            message = make([row.id for row in rows])
        except NotifyError as exc:  # an address no header can carry: retried, then failed
            self.sender.retry(rows, str(exc), self.report)
            return
        self.planned.append((rows, message))

    def _send(self) -> None:
        left = list(self.planned)
        try:
            with smtp_session(
                self.sender.server, self.config.notify.timeout_seconds, self.sender.environ
            ) as session:
                while left:
                    rows, message = left[0]
                    try:
                        send(session, message)
                    except NotifyError as exc:
                        self.sender.retry(rows, str(exc), self.report)
                    else:
                        mark_sent(self.store, [r.id for r in rows], str(message["Message-ID"]))
                        self.report.sent += 1
                    left.pop(0)
        except NotifyError as exc:  # no session, or it broke: what is left is retried
            for rows, _ in left:
                self.sender.retry(rows, str(exc), self.report)


def _key(email: str) -> str:
    return email.strip().lower()
