"""Per-person erasure (``afterword erase --email``): the right to be forgotten, done in one place.

Comments are matched by ``email_key`` (the address trimmed and lower-cased, indexed); the
address's reply-mail subscriptions and unsent mails to it go in the same transaction. What
remains depends on
``privacy.erase_mode``: ``anonymize`` keeps the text under "Anonymous" (replies stay
readable), ``delete`` empties the text and marks the comment deleted. Either way the e-mail,
name, website and IP hash are gone, the moderation log records each change without the
address, and every page that showed one of the comments is marked for the next build.
"""

from __future__ import annotations

from dataclasses import dataclass

from afterword.errors import ModerationError
from afterword.store import Store, utc_now
from afterword.store.subscriptions import erase_subscriber
from afterword.store.transfer import erase_email, person_rows

ERASE_MODES = ("anonymize", "delete")


@dataclass(frozen=True)
class Erasure:
    comments: int
    pages_bumped: int
    mode: str
    subscriptions: int = 0
    queued_mails: int = 0


def count_person(store: Store, email: str) -> int:
    """How many comments an erasure would touch (for the confirmation prompt)."""
    _, comments, _ = person_rows(store, email)
    return len(comments)


def erase_person(store: Store, email: str, *, mode: str, actor: str) -> Erasure:
    """Erase one person's personal data in one transaction."""
    if mode not in ERASE_MODES:
        raise ModerationError(f"unknown erase mode {mode!r}; use anonymize or delete")
    if "@" not in email:
        raise ModerationError(f"{email!r} is not an e-mail address")
    with store.write() as conn:
        changed, bumped = erase_email(conn, email, mode=mode, actor=actor, now=utc_now())
        gone = erase_subscriber(conn, email)
    return Erasure(changed, bumped, mode, gone.subscriptions, gone.queued_mails)
