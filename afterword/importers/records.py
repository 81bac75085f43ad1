"""Plain records every source parser yields, whatever the source looked like.

Parsers only translate a foreign format into these; they never touch the store, page keys,
Markdown or hashing. That keeps each parser small and testable on its own, and puts every
policy decision (status, URL mapping, sanitizing, privacy) in one place: ``run.py``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

BodyFormat = Literal["html", "markdown", "text", "autop"]
SourceStatus = Literal["approved", "pending", "rejected", "spam", "deleted"]


@dataclass(frozen=True)
class ImportedPage:
    """A page (Disqus thread, WordPress post, Staticman folder) as the source names it;
    ``deleted``: the source deleted the page itself (a Disqus thread marked ``isDeleted``)."""

    source_id: str
    url: str
    title: str = ""
    deleted: bool = False


@dataclass
class ImportedComment:
    """One comment, with the source's own ids kept as strings (ids above 2^53 stay exact).

    ``created`` is already normalized to afterword's timestamp text; ``dropped`` names what
    the source had for this comment that afterword does not keep (votes, user names …), so the
    fidelity report can say so; ``notes`` are repairs made while reading (a date assumed UTC).
    ``legacy_id``/``legacy_parent_id``: the ids an older afterword stored for this comment and
    its parent (WordPress ids before they were scoped by post), so a database imported with the
    old scheme recognises the comment instead of importing it twice.
    """

    source: str
    external_id: str
    page: ImportedPage
    author: str
    body: str
    body_format: BodyFormat
    created: str
    parent_external_id: str | None = None
    email: str = ""
    website: str = ""
    status: SourceStatus = "approved"
    ip: str = ""
    where: str = ""
    dropped: tuple[str, ...] = ()
    notes: list[str] = field(default_factory=list)
    legacy_id: str = ""
    legacy_parent_id: str = ""


@dataclass(frozen=True)
class Skipped:
    """A record the parser could not turn into a comment, and why (for the report)."""

    where: str
    reason: str
    external_id: str = ""


Item = ImportedComment | Skipped
