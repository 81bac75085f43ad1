"""Atom feeds: the site's latest approved comments, and each page's.

A feed's ``<updated>`` is its newest entry's time, never the build's, so a feed's bytes change
only when its comments do — a rebuild with nothing new writes nothing.

A feed must stay well-formed XML whatever the store holds: one comment with a character XML
forbids (U+FFFE, a C0 control, a lone surrogate) would make a reader reject the whole site
feed. So the rendered document itself goes through ``strip_forbidden`` — not just the fields
this module knows about — and Jinja's autoescape handles markup characters.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from typing import NamedTuple

import jinja2

from afterword.builder.render import render
from afterword.builder.view import CommentView, body_html, safe_website, shown_name
from afterword.builder.write import ATOM, Output
from afterword.pagekey import page_folder
from afterword.strings import fill
from afterword.text import strip_forbidden

EPOCH = "1970-01-01T00:00:00Z"


class FeedEntry(NamedTuple):
    url: str
    title: str
    author: str
    website: str | None
    created: str
    html: str


@dataclass(frozen=True)
class FeedSite:
    """What every feed needs to know about the site."""

    template: jinja2.Template
    strings: dict[str, str]
    language: str
    site_url: str
    site_title: str
    origin: str

    def page_url(self, page_key: str) -> str:
        return self.origin + page_key


def page_feed(
    site: FeedSite, page_key: str, title: str, created: str, views: Sequence[CommentView]
) -> Output:
    page_name = title or page_key
    url = site.page_url(page_key)
    entries = [
        FeedEntry(
            url=f"{url}#c{v.id}",
            title=fill(site.strings["feed_entry_title"], author=v.author, page=page_name),
            author=v.author,
            website=v.website,
            created=v.created,
            html=v.html,
        )
        for v in views
    ]
    text = _render(
        site,
        feed_id=url,
        title=fill(site.strings["feed_page_title"], page=page_name),
        link=url,
        updated=entries[0].created if entries else created,
        entries=entries,
    )
    return Output(f"{page_folder(page_key)}/feed.atom", text, ATOM, page_key=page_key)


def site_feed(site: FeedSite, rows: Sequence[sqlite3.Row]) -> Output:
    entries = []
    for row in rows:
        page_key = str(row["page_key"])
        page_name = str(row["page_title"]) or page_key
        author = shown_name(str(row["author"]))
        entries.append(
            FeedEntry(
                url=f"{site.page_url(page_key)}#c{row['id']}",
                title=fill(site.strings["feed_entry_title"], author=author, page=page_name),
                author=author,
                website=safe_website(str(row["website"])),
                created=str(row["created"]),
                html=body_html(row),
            )
        )
    text = _render(
        site,
        feed_id=site.site_url,
        title=fill(site.strings["feed_site_title"], site=site.site_title),
        link=site.site_url,
        updated=entries[0].created if entries else EPOCH,
        entries=entries,
    )
    return Output("feed.atom", text, ATOM)


def _render(site: FeedSite, **context: object) -> bytes:
    text = render(site.template, {"lang": site.language, **context})
    return strip_forbidden(text).encode("utf-8")
