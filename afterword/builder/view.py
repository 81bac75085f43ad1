"""One comment as the output shows it: safe website, current HTML, avatar, placeholders.

Everything a stranger typed is judged here once — the website must pass the one URL policy
(``afterword.urls``), the body is the current sanitizer's output, and characters XML forbids
are stripped from the name and the body whatever the store holds (``afterword.text``) — so
templates, JSON and feeds only ever see values that are safe to publish.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from typing import NamedTuple

from markupsafe import Markup

from afterword.builder.avatar import NO_AVATAR, Avatar
from afterword.markup import RENDERER_VERSION, render_markdown, sanitize_html
from afterword.store.models import OWNER_SOURCE
from afterword.store.pulled import PULL_SOURCE
from afterword.text import ANONYMOUS, is_invisible, strip_forbidden
from afterword.urls import publishable_url

AvatarFor = Callable[[str], Avatar]


def _closer(levels: int) -> Markup:
    return Markup("</li>" + "</ol></li>" * (levels - 1))


_OPEN_REPLIES = Markup('<ol class="afterword-replies">')
_CLOSERS = [Markup(""), *(_closer(n) for n in range(1, 16))]


class CommentView(NamedTuple):
    """One comment as every output format shows it; a placeholder has ``removed=True``.

    A NamedTuple rather than a frozen dataclass: a full build makes hundreds of thousands.
    """

    id: int
    parent: int | None
    depth: int
    removed: bool
    author: str
    website: str | None
    avatar: Avatar
    html: str
    created: str
    parent_author: str
    closes: int  # how many <ol>/<li> levels close after this comment (for the flat loop)
    has_replies: bool
    edited: str | None = None  # when its author's approved revision replaced the text
    owner: bool = False  # posted by the site's owner (``afterword reply``, a link's reply box)
    # The SQS message id of a comment stored by ``afterword pull``: an SQS intake's 202 can
    # name no database id, so the widget recognises its pending receipt by this instead.
    submission: str | None = None

    @property
    def date(self) -> str:
        return self.created[:10]

    @property
    def end(self) -> Markup:
        """The markup that follows this comment in the flat loop: open its replies' list, or
        close it and every list it ended."""
        if self.has_replies:
            return _OPEN_REPLIES
        return _CLOSERS[self.closes] if self.closes < len(_CLOSERS) else _closer(self.closes)


def safe_website(url: str) -> str | None:
    """The link to publish, or ``None``: exactly what the intake accepts (``afterword.urls``)."""
    return publishable_url(url)


def shown_name(author: str) -> str:
    """The name to publish: without characters XML forbids, and never blank — a name that
    shows nothing (stored before the intake refused such names) is published as Anonymous."""
    name = strip_forbidden(author)
    return ANONYMOUS if is_invisible(name) else name


def body_html(row: sqlite3.Row) -> str:
    """The body to publish, always the output of the *current* sanitizer.

    Intake HTML stored by the current renderer already is (it came from ``render_markdown``)
    and is used as is, which keeps full builds fast; stale intake HTML is re-rendered from
    its Markdown. Imported HTML came from elsewhere, so it is sanitized again every time.
    """
    source = str(row["source"])
    if source == "intake":
        if row["renderer"] == RENDERER_VERSION:
            return strip_forbidden(str(row["body_html"]))
        return strip_forbidden(render_markdown(str(row["body"])))
    # No images, imported or not: an <img> would make every reader's browser fetch a third
    # party (a tracking pixel), which the widget promises never to do.
    return strip_forbidden(sanitize_html(str(row["body_html"])))


def avatar_key(row: sqlite3.Row) -> str:
    """What the identicon is derived from: the e-mail, else the name (never published)."""
    email = str(row["email"]).strip()
    return email if email else "name:" + str(row["author"])


class ViewMaker:
    """Makes the views of one page; bodies are worked out once even though the page's
    feed shows them again."""

    def __init__(self, by_id: dict[int, sqlite3.Row], avatar: AvatarFor) -> None:
        self.by_id = by_id
        self.avatar = avatar
        self._html: dict[int, str] = {}

    def html(self, row: sqlite3.Row) -> str:
        key = int(row["id"])
        found = self._html.get(key)
        if found is None:
            found = self._html[key] = body_html(row)
        return found

    def make(
        self, row: sqlite3.Row, parent: int | None, depth: int, closes: int, has_replies: bool
    ) -> CommentView:
        return make_view(self, row, parent, depth, closes, has_replies)


def make_view(
    maker: ViewMaker,
    row: sqlite3.Row,
    parent: int | None,
    depth: int,
    closes: int,
    has_replies: bool,
) -> CommentView:
    parent_row = maker.by_id.get(parent) if parent is not None else None
    parent_author = ""
    if parent_row is not None and parent_row["status"] == "approved":
        parent_author = shown_name(str(parent_row["author"]))
    if row["status"] != "approved":
        return CommentView(
            int(row["id"]),
            parent,
            depth,
            True,
            "",
            None,
            NO_AVATAR,
            "",
            "",
            "",
            closes,
            has_replies,
        )
    return CommentView(
        id=int(row["id"]),
        parent=parent,
        depth=depth,
        removed=False,
        author=shown_name(str(row["author"])),
        website=safe_website(str(row["website"])),
        avatar=maker.avatar(avatar_key(row)),
        html=maker.html(row),
        created=str(row["created"]),
        parent_author=parent_author,
        closes=closes,
        has_replies=has_replies,
        edited=row["edited"],
        owner=str(row["source"]) == OWNER_SOURCE,
        submission=pulled_submission(row),
    )


def pulled_submission(row: sqlite3.Row | dict[str, object]) -> str | None:
    """The message id ``afterword pull`` stored as the external id (hex, safe in markup)."""
    external = row["external_id"]
    if str(row["source"]) != PULL_SOURCE or not isinstance(external, str):
        return None
    return external if external.isascii() and external.isalnum() else None
