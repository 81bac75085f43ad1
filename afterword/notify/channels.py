"""Which notifications a configuration asks for: the rule the enqueuing side applies.

Kept apart from the sender (no SMTP, no HTTP here) because the intake's batch writer and the
moderation actions import it inside their transactions.
"""

from __future__ import annotations

from afterword.config import Config
from afterword.store.outbox import Channel

NEW_COMMENT = "comment.pending"
APPROVED = "comment.approved"


def channels_for(config: Config) -> list[Channel]:
    """Mail (when there are moderators) plus one channel per webhook; none when off."""
    notify = config.notify
    if notify.mode == "off":
        return []
    found: list[Channel] = [("mail", "")] if notify.moderators else []
    found.extend(("webhook", url) for url in notify.webhooks)
    return found


def notified_statuses(config: Config) -> frozenset[str]:
    """New comments in these statuses are notified: pending, plus spam when asked for."""
    return frozenset({"pending", "spam"}) if config.notify.notify_spam else frozenset({"pending"})


def sends_anything(config: Config) -> bool:
    """Whether anything is ever mailed or called: moderators' channels or reply mails."""
    return bool(channels_for(config)) or config.notify.reply_mails
