"""Cheap spam signals shown beside each comment in ``afterword review``.

These are hints for a person, not a filter: each is one look at the comment's own text or
one indexed query, so that paging through a long queue stays instant. The thresholds are
deliberately plain so a moderator can predict them.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from afterword.markup import count_links
from afterword.store import Comment, Store, count_approved_by_email, list_comments

SHORT_CHARS = 8  # "nice!", "+1", "first": rarely worth a reader's time
LONG_CHARS = 4000  # a wall of text is more often a pasted advert than a reply
CAPS_MIN_LETTERS = 12  # "OK" and "LOL" are not shouting
REPEATED_RUN = re.compile(r"(\S)\1{5,}")  # six of the same non-space character in a row
URLS = re.compile(r"\]\([^)]*\)|\b(?:https?://|www\.)\S+", re.IGNORECASE)


@dataclass(frozen=True)
class Signals:
    """The number of links and the names of the signals that fired."""

    links: int
    flags: tuple[str, ...]

    def describe(self) -> str:
        return ", ".join(self.flags) if self.flags else "none"


def text_signals(body: str, links: int, *, max_links: int) -> list[str]:
    """Signals that need only the comment's own text."""
    flags = []
    if links > max_links:
        flags.append(f"{links} links (more than {max_links})")
    words = URLS.sub(" ", body)  # a URL's case says nothing about shouting
    cased = [ch for ch in words if ch.isupper() or ch.islower()]
    if len(cased) >= CAPS_MIN_LETTERS and all(ch.isupper() for ch in cased):
        flags.append("all caps")
    stripped = body.strip()
    if len(stripped) < SHORT_CHARS:
        flags.append("very short")
    elif len(stripped) > LONG_CHARS:
        flags.append("very long")
    if REPEATED_RUN.search(body):
        flags.append("repeated characters")
    return flags


def spam_signals(
    store: Store, comment: Comment, *, max_links: int, queue: Sequence[Comment] = ()
) -> Signals:
    """All signals for one comment; ``queue`` lets duplicates among pending ones show up."""
    links = count_links(comment.body_html)
    flags = text_signals(comment.body, links, max_links=max_links)
    if not comment.email:
        flags.append("no e-mail")
    elif count_approved_by_email(store, comment.email) == 0:
        flags.append("first-time author")
    if _has_duplicate(store, comment, queue):
        flags.append("duplicate body")
    return Signals(links, tuple(flags))


def _has_duplicate(store: Store, comment: Comment, queue: Sequence[Comment]) -> bool:
    """Same text elsewhere on the page or in the queue: copy-paste spam or a double post."""
    mine = _normalized(comment.body)
    others = [*queue, *list_comments(store, status=None, page=comment.page_key)]
    return any(o.id != comment.id and _normalized(o.body) == mine for o in others)


def _normalized(body: str) -> str:
    return " ".join(body.split()).casefold()
