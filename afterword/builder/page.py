"""One page's files: the thread fragments and JSON, part by part, and the page's feed.

``PageRenderer`` is made once per build; it holds the compiled templates, strings and avatar
maker, so rendering a page is a few template calls and no I/O.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime, timedelta
from fnmatch import fnmatchcase
from typing import Any
from urllib.parse import urlsplit

from markupsafe import Markup

from afterword.builder.avatar import Avatar, AvatarMaker
from afterword.builder.dates import install_date_filters
from afterword.builder.feeds import FeedSite, page_feed
from afterword.builder.render import (
    dump_json,
    get_template,
    heading,
    make_environment,
    render,
)
from afterword.builder.thread import DEPTH_CAP, Part, Thread
from afterword.builder.view import CommentView
from afterword.builder.write import HTML, JSON, Output
from afterword.config import Config
from afterword.pagekey import page_folder
from afterword.store.models import Page, format_time
from afterword.strings import load_strings
from afterword.widget import widget_strings


def site_origin(site_url: str) -> str:
    """Page URLs are the site's origin plus the key; the key is already a root path."""
    parts = urlsplit(site_url)
    return f"{parts.scheme}://{parts.netloc}"


def single_quoted_attribute(text: str) -> str:
    """``text`` escaped for an attribute value in single quotes: ``&``, ``<``, ``>`` and ``'``
    only, so JSON's double quotes cost one byte each instead of five (``&#34;``)."""
    for raw, entity in (("&", "&amp;"), ("<", "&lt;"), (">", "&gt;"), ("'", "&#39;")):
        text = text.replace(raw, entity)
    return text


class PageRenderer:
    """Everything that turns a ``Thread`` into output files."""

    def __init__(self, config: Config, secret: bytes, now: datetime) -> None:
        env = make_environment(config.build.templates_dir)
        self.config = config
        self.strings = load_strings(config.site.language, config.build.templates_dir)
        install_date_filters(env, config.site.language, self.strings)  # before compiling
        self.thread_template = get_template(env, "thread.html")
        self.empty_template = get_template(env, "empty.html")
        self.strings_json = json.dumps(
            widget_strings(config.site.language),
            ensure_ascii=False,
            sort_keys=True,
            separators=(",", ":"),  # in every part 1: no byte to spare
        )
        # For data-strings='…': its many double quotes stay as they are (not &#34; each).
        self.strings_single_quoted = Markup(single_quoted_attribute(self.strings_json))
        self.avatars = AvatarMaker(config.build.avatar, secret)
        self.origin = site_origin(config.site.url)
        self.feeds = FeedSite(
            template=get_template(env, "feed.atom"),
            strings=self.strings,
            language=config.site.language,
            site_url=config.site.url,
            site_title=config.site.title,
            origin=self.origin,
        )
        days = config.build.close_after_days
        self.close_before = format_time(now - timedelta(days=days)) if days else None

    def is_closed(self, page: Page, thread: Thread) -> bool:
        if page.closed or any(fnmatchcase(page.key, p) for p in self.config.build.closed_pages):
            return True
        first = thread.first_created
        return self.close_before is not None and first is not None and first <= self.close_before

    def page_outputs(self, page: Page, thread: Thread) -> list[Output]:
        closed = self.is_closed(page, thread)
        folder = page_folder(page.key)
        total = len(thread.parts)
        outputs = []
        for part in thread.parts:
            stem = "comments" if part.number == 1 else f"comments-{part.number}"
            nxt = part.number + 1 if part.number < total else None
            context = self._context(page.key, thread.count, total, part, nxt, closed)
            html = render(self.thread_template, context).encode("utf-8")
            data = self._json(page.key, thread.count, total, part, nxt, closed)
            outputs.append(Output(f"{folder}/{stem}.html", html, HTML, page_key=page.key))
            outputs.append(Output(f"{folder}/{stem}.json", data, JSON, page_key=page.key))
        outputs.append(page_feed(self.feeds, page.key, page.title, page.created, thread.latest))
        return outputs

    def empty_output(self) -> Output:
        context = self._context("", 0, 1, Part(1, ()), None, False)
        context["page_url"] = ""
        return Output("empty.html", render(self.empty_template, context).encode("utf-8"), HTML)

    def avatar(self, key: str) -> Avatar:
        return self.avatars.make(key)

    def _context(
        self, key: str, count: int, parts: int, part: Part, nxt: int | None, closed: bool
    ) -> dict[str, Any]:
        return {
            "page_key": key,
            "page_url": self.origin + key if key else "",
            "count": count,
            "parts": parts,
            "part": part.number,
            "comments": part.comments,
            "next_part": nxt,
            "closed": closed,
            "heading": heading(self.strings, count),
            "t": self.strings,
            "strings_json": self.strings_json,
            "strings_single_quoted": self.strings_single_quoted,
            "lang": self.config.site.language,
            "intake_url": self.config.intake_url,
            "limits": self.config.limits,
            "reply_mails": self.config.notify.reply_mails,
            "depth_cap": DEPTH_CAP,
        }

    def _json(
        self, key: str, count: int, parts: int, part: Part, nxt: int | None, closed: bool
    ) -> bytes:
        data: dict[str, Any] = {"version": 1, "page": key, "part": part.number}
        if part.number == 1:
            data.update({"parts": parts, "count": count, "closed": closed})
        data["next"] = f"comments-{nxt}.json" if nxt else None
        data["comments"] = [self._comment_json(c) for c in part.comments]
        return dump_json(data)

    def _comment_json(self, c: CommentView) -> dict[str, Any]:
        if c.removed:
            return {
                "id": c.id,
                "parent": c.parent,
                "depth": c.depth,
                "removed": True,
                "author": None,
                "website": None,
                "avatar": None,
                "html": None,
                "created": None,
                "edited": None,
                "owner": None,
            }
        return {
            "id": c.id,
            "parent": c.parent,
            "depth": c.depth,
            "removed": False,
            "author": c.author,
            "website": c.website,
            "avatar": c.avatar.url,
            "html": c.html,
            "created": c.created,
            "edited": c.edited,
            "owner": c.owner,
        }


def part_keys(page_key: str, parts: Sequence[int]) -> list[str]:
    """The file keys of the given part numbers of a page's thread."""
    folder = page_folder(page_key)
    keys: list[str] = []
    for number in parts:
        stem = "comments" if number == 1 else f"comments-{number}"
        keys.extend((f"{folder}/{stem}.html", f"{folder}/{stem}.json"))
    return keys
