"""WordPress WXR export (RSS with ``wp:`` elements, versions 1.0-1.2).

Each ``<item>`` is a post or page; its ``<wp:comment>`` children are the comments. Pingbacks
and trackbacks are skipped (they are link notifications, which afterword does not show).
Comment text is WordPress's HTML-with-line-breaks (body format ``autop``): it is stored as
written and shown with blank lines as paragraphs, as WordPress's own ``wpautop`` does.

A ``comment_id`` is unique within one WordPress database, but not within every file that
claims to be one export (merged multisite exports, hand-joined files repeat ids across posts),
so the external id is scoped by post: ``<post_id>/<comment_id>``. A reply's parent is always
in the same post, so its id is scoped the same way. Databases imported before the ids were
scoped hold the bare ``comment_id``; it is passed on as ``legacy_id`` so re-imports stay
idempotent (``run.py``).
"""

from __future__ import annotations

import html
from collections.abc import Iterator
from pathlib import Path
from xml.etree.ElementTree import Element

from afterword.importers.fields import ASSUMED_UTC, BadValue, clean_text, local_name, parse_date
from afterword.importers.records import ImportedComment, ImportedPage, Item, Skipped, SourceStatus
from afterword.importers.xmlsource import Progress, child_text, iter_elements

SOURCE = "wordpress"
DEFAULT_AUTHOR = "Anonymous"
_STATUSES: dict[str, SourceStatus] = {
    "1": "approved",
    "approve": "approved",
    "0": "pending",
    "hold": "pending",
    "spam": "spam",
    "trash": "deleted",
    "post-trashed": "deleted",
}
_LINK_TYPES = frozenset({"pingback", "trackback"})
_ZERO_DATE = "0000-00-00 00:00:00"


def total(path: Path) -> int:
    return path.stat().st_size


def read(path: Path, progress: Progress | None = None) -> Iterator[Item]:
    for item in iter_elements(path, frozenset({"item"}), progress):
        comments = [c for c in item if local_name(c.tag) == "comment"]
        if not comments:
            continue
        page = _page(item)
        for comment in comments:
            yield _comment(comment, page)


def _page(item: Element) -> ImportedPage:
    post_id = child_text(item, "post_id").strip()
    url = child_text(item, "link").strip() or child_text(item, "guid").strip()
    return ImportedPage(post_id, url, clean_text(html.unescape(child_text(item, "title"))))


def _comment(elem: Element, page: ImportedPage) -> Item:
    comment_id = child_text(elem, "comment_id").strip()
    where = f"comment {comment_id or '(no id)'} on post {page.source_id}"
    kind = child_text(elem, "comment_type").strip()
    if not comment_id:
        return Skipped(where, "missing field: comment_id")
    if kind in _LINK_TYPES:
        return Skipped(where, f"{kind} (afterword does not show link notifications)", comment_id)
    if not page.url:
        return Skipped(where, "its post has no link", comment_id)
    try:
        created, assumed = _date(elem)
    except BadValue as exc:
        return Skipped(where, str(exc), comment_id)
    notes = [ASSUMED_UTC] if assumed else []
    parent = child_text(elem, "comment_parent").strip()
    has_parent = parent not in ("", "0")
    return ImportedComment(
        source=SOURCE,
        external_id=scoped_id(page, comment_id),
        page=page,
        author=clean_text(child_text(elem, "comment_author"), notes) or DEFAULT_AUTHOR,
        body=clean_text(child_text(elem, "comment_content"), notes),
        body_format="autop",
        created=created,
        parent_external_id=scoped_id(page, parent) if has_parent else None,
        email=child_text(elem, "comment_author_email").strip(),
        website=child_text(elem, "comment_author_url").strip(),
        status=_STATUSES.get(child_text(elem, "comment_approved").strip(), "pending"),
        ip=child_text(elem, "comment_author_IP").strip(),
        where=where,
        dropped=_dropped(elem, kind),
        notes=notes,
        legacy_id=comment_id,
        legacy_parent_id=parent if has_parent else "",
    )


def scoped_id(page: ImportedPage, comment_id: str) -> str:
    """``<post_id>/<comment_id>``; a post without an id is named by its link instead."""
    return f"{page.source_id or page.url}/{comment_id}"


def _date(elem: Element) -> tuple[str, bool]:
    """Prefer the GMT date; the local one has no zone, so it is taken as UTC (and noted)."""
    gmt = child_text(elem, "comment_date_gmt").strip()
    if gmt and gmt != _ZERO_DATE:
        created, _ = parse_date(gmt)
        return created, False
    return parse_date(child_text(elem, "comment_date"))


def _dropped(elem: Element, kind: str) -> tuple[str, ...]:
    names: list[str] = []
    if child_text(elem, "comment_user_id").strip() not in ("", "0"):
        names.append("WordPress user id")
    if child_text(elem, "comment_karma").strip() not in ("", "0"):
        names.append("karma")
    if child_text(elem, "comment_agent").strip():
        names.append("user agent")
    names += [
        f"meta {child_text(m, 'meta_key')}" for m in elem if local_name(m.tag) == "commentmeta"
    ]
    if kind and kind != "comment":
        names.append(f"comment type {kind}")
    return tuple(dict.fromkeys(names))  # a meta key may repeat; the report counts comments
