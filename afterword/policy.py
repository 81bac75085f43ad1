"""The moderation rules applied when a comment arrives: queue it, or publish it at once.

Pure: the caller supplies how many approved comments an e-mail already has (a number, or a
function asked only when the answer matters, so the common case costs no query). The intake's
writer calls this inside the transaction that stores the comment, so "N earlier approved
comments" is counted against the same snapshot the comment is written into.

Rules:

1. More than ``moderation.max_links`` links → ``pending``, whoever wrote it (a trusted address
   can be spoofed; a spam comment is recognisable by its links).
2. An e-mail listed in ``moderation.trusted`` (exactly, or by ``@domain``; case-insensitive)
   → ``approved``.
3. ``moderation.auto_approve_after = N`` (N > 0) and at least N approved comments from the
   same e-mail → ``approved``.
4. Otherwise → ``pending``.

Rule 1 wins over 2 and 3, but is evaluated last: counting links parses HTML, and with the
default settings (no trusted list, no auto-approval) no comment could skip the queue anyway.

There is no e-mail verification: these rules trust whoever types an address, which is why the
link rule comes first and why both rules are off by default.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Literal

from afterword.config import Config
from afterword.markup import count_links

Status = Literal["approved", "pending"]
ApprovedCount = int | Callable[[str], int]


def initial_status(
    config: Config, approved_count: ApprovedCount, email: str, body_html: str
) -> Status:
    """``approved`` when a rule lets the comment skip the queue, else ``pending``."""
    rules = config.moderation
    address = email.strip().lower()
    if not address or not _vouched_for(config, approved_count, address):
        return "pending"
    return "pending" if count_links(body_html) > rules.max_links else "approved"


def _vouched_for(config: Config, approved_count: ApprovedCount, address: str) -> bool:
    """Rules 2 and 3: a trusted address, or enough approved comments already."""
    rules = config.moderation
    if is_trusted(address, rules.trusted):
        return True
    if rules.auto_approve_after <= 0:
        return False
    earlier = approved_count(address) if callable(approved_count) else approved_count
    return earlier >= rules.auto_approve_after


def is_trusted(email: str, trusted: Iterable[str]) -> bool:
    """Exact address, or ``@domain`` matching the part after the last ``@``."""
    address = email.strip().lower()
    domain = "@" + address.rpartition("@")[2]
    for entry in trusted:
        wanted = entry.strip().lower()
        if wanted and (address == wanted or (wanted.startswith("@") and domain == wanted)):
            return True
    return False
