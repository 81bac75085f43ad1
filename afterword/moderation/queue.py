"""The moderation queue as a moderator sees it: listing, ages, a table and a JSON shape.

Everything here reads; nothing changes a comment. The JSON shape is for the moderator's own
scripts, so it carries the e-mail (it is their database) but never the salted IP hash, which
means nothing to a person and is only useful for rate limiting.
"""

from __future__ import annotations

import dataclasses
import shutil
import sys
import unicodedata
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import click

from afterword.errors import ModerationError
from afterword.markup import excerpt
from afterword.pagekey import normalize_page_key
from afterword.store import Comment, Store, list_comments, parse_time, utc_now
from afterword.store.revisions import Revision, revision_queue

QUEUE_STATUSES = ("pending", "approved", "rejected", "spam", "deleted", "all")
EXCERPT_CHARS = 200
# Bidi overrides and embeddings would let a comment reorder the text a moderator reads.
_BIDI = frozenset("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def list_queue(store: Store, *, status: str = "pending", page: str | None = None) -> list[Comment]:
    """Comments with ``status`` ("all" for every status), oldest first, optionally one page."""
    if status not in QUEUE_STATUSES:
        raise ModerationError(f"unknown status {status!r}; use one of {', '.join(QUEUE_STATUSES)}")
    key = normalize_page_key(page) if page else None
    return list_comments(store, status=None if status == "all" else status, page=key)


def list_revisions(store: Store, *, page: str | None = None) -> list[tuple[Comment, Revision]]:
    """Published comments whose author's edit waits for a moderator, oldest edit first."""
    return revision_queue(store, normalize_page_key(page) if page else None)


def revision_item(
    comment: Comment, revision: Revision, now: datetime | None = None
) -> dict[str, Any]:
    """A waiting revision as JSON data: the published comment, and the text that would
    replace it (``approve ID`` publishes it, ``reject ID`` keeps the published text)."""
    return {
        **queue_item(comment, now),
        "revision": {
            "id": revision.id,
            "created": revision.created,
            "age": format_age(revision.created, now),
            "body": revision.body,
            "body_html": revision.body_html,
        },
    }


def as_revised(comment: Comment, revision: Revision) -> Comment:
    """The comment as its revision would make it: for tables that show the new text."""
    return dataclasses.replace(comment, body=revision.body, created=revision.created)


def format_age(created: str, now: datetime | None = None) -> str:
    """A compact age for a terminal column: "45s", "12m", "3h", "9d", "2y"."""
    moment = now or parse_time(utc_now())
    seconds = max(0, int((moment - parse_time(created)).total_seconds()))
    for unit, size in (("y", 31_536_000), ("d", 86_400), ("h", 3_600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def terminal_safe(text: str, *, keep_newlines: bool = False) -> str:
    """Drop control and bidi characters before text written by strangers reaches a terminal.

    An escape sequence in an author name could otherwise move the cursor, retitle the window
    or hide the rest of the comment from the moderator deciding on it.
    """
    kept = []
    for ch in text:
        if ch in _BIDI:
            continue
        if unicodedata.category(ch) == "Cc" and not (keep_newlines and ch == "\n"):
            kept.append(" ")
        else:
            kept.append(ch)
    return "".join(kept)


def echo_text(text: str, *, nl: bool = True) -> None:
    """``click.echo`` that degrades to "?" rather than crashing on a non-UTF-8 terminal.

    A moderator on a latin-1 SSH session must still be able to work a queue that holds a
    comment in Japanese; losing a few glyphs beats a traceback.
    """
    encoding = getattr(sys.stdout, "encoding", None) or "utf-8"
    click.echo(text.encode(encoding, "replace").decode(encoding), nl=nl)


def queue_item(comment: Comment, now: datetime | None = None) -> dict[str, Any]:
    """One comment as JSON data: everything a script needs, minus the salted IP hash."""
    return {
        "id": comment.id,
        "page": comment.page_key,
        "parent": comment.parent_id,
        "status": comment.status,
        "author": comment.author,
        "email": comment.email,
        "website": comment.website,
        "created": comment.created,
        "updated": comment.updated,
        "age": format_age(comment.created, now),
        "source": comment.source,
        "excerpt": excerpt(comment.body, EXCERPT_CHARS),
        "body": comment.body,
        "body_html": comment.body_html,
    }


def format_table(
    comments: Sequence[Comment], *, width: int | None = None, show_status: bool = False
) -> str:
    """A fixed-width table that fits the terminal; the excerpt takes what space is left.

    ``show_status`` adds a STATUS column, for listings that mix statuses (``--status all``):
    without it an approved comment and a spam one look the same.
    """
    if not comments:
        return ""
    total = width or shutil.get_terminal_size((100, 24)).columns
    now = parse_time(utc_now())
    header = ["ID", "AGE", *(["STATUS"] if show_status else []), "PAGE", "AUTHOR"]
    rows = [
        [
            str(c.id),
            format_age(c.created, now),
            *([c.status] if show_status else []),
            _clip(terminal_safe(c.page_key), 30),
            _clip(terminal_safe(c.author), 20),
        ]
        for c in comments
    ]
    widths = [max(len(header[i]), *(len(r[i]) for r in rows)) for i in range(len(header))]
    room = max(20, total - sum(widths) - 2 * len(widths))
    lines = [_line(header, widths, "EXCERPT")]
    for row, comment in zip(rows, comments, strict=True):
        lines.append(_line(row, widths, excerpt(comment.body, room)))
    return "\n".join(line.rstrip() for line in lines)


def _line(cells: Sequence[str], widths: Sequence[int], last: str) -> str:
    id_cell = cells[0].rjust(widths[0])
    middle = [cell.ljust(w) for cell, w in zip(cells[1:], widths[1:], strict=True)]
    return "  ".join([id_cell, *middle, last])


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
