"""Disqus XML export (``<disqus>`` with ``<thread>`` and ``<post>`` elements).

Ids are the ``dsq:id`` attributes (the ``<id>`` children are optional, often legacy, and
repeat). Threads usually precede posts; a post whose thread comes later waits in a small
buffer until the end of the file, so odd orderings still import. A thread marked
``<isDeleted>`` was deleted in Disqus with all its posts: they are imported as deleted (kept,
never published) and the report says how many.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from xml.etree.ElementTree import Element

from afterword.importers.fields import ASSUMED_UTC, BadValue, clean_text, local_name, parse_date
from afterword.importers.records import ImportedComment, ImportedPage, Item, Skipped, SourceStatus
from afterword.importers.xmlsource import Progress, attr, child, child_text, iter_elements

SOURCE = "disqus"
DEFAULT_AUTHOR = "Anonymous"
DELETED_THREAD = "thread deleted in Disqus: its posts imported as deleted"
_POST_USED = frozenset(
    {"message", "createdAt", "isDeleted", "isSpam", "author", "ipAddress", "thread", "parent"}
)
_AUTHOR_USED = frozenset({"name", "email", "link", "url"})
_IGNORED = frozenset({"isAnonymous"})  # a Disqus account flag, not content
_LABELS = {"id": "legacy post id (e.g. wp_id=…)", "likes": "likes (votes)"}


def total(path: Path) -> int:
    """Progress is measured in bytes read."""
    return path.stat().st_size


def read(path: Path, progress: Progress | None = None) -> Iterator[Item]:
    threads: dict[str, ImportedPage] = {}
    waiting: list[Element] = []
    for elem in iter_elements(path, frozenset({"thread", "post"}), progress):
        if local_name(elem.tag) == "thread":
            page = _page(elem)
            if page is not None:
                threads[page.source_id] = page
            continue
        if attr(child(elem, "thread"), "id") in threads:
            yield _post(elem, threads)
        else:
            waiting.append(_detached(elem))
    for elem in waiting:
        yield _post(elem, threads)


def _detached(elem: Element) -> Element:
    """Keep a copy: the streaming reader clears elements once handed over."""
    copy = Element(elem.tag, dict(elem.attrib))
    copy.text = elem.text
    copy.extend(list(elem))
    return copy


def _page(elem: Element) -> ImportedPage | None:
    thread_id = attr(elem, "id")
    if not thread_id:
        return None
    url = child_text(elem, "link").strip()
    if not url:
        legacy = child_text(elem, "id").strip()
        url = legacy if legacy.startswith(("http://", "https://", "/")) else ""
    deleted = child_text(elem, "isDeleted").strip() == "true"
    return ImportedPage(thread_id, url, clean_text(child_text(elem, "title")), deleted)


def _post(elem: Element, threads: dict[str, ImportedPage]) -> Item:
    post_id = attr(elem, "id")
    where = f"post {post_id or '(no dsq:id)'}"
    if not post_id:
        return Skipped(where, "missing field: dsq:id")
    page = threads.get(attr(child(elem, "thread"), "id"))
    if page is None:
        return Skipped(where, "orphan: its thread is not in the file", post_id)
    if not page.url:
        return Skipped(where, f"thread {page.source_id} has no link", post_id)
    try:
        created, assumed = parse_date(child_text(elem, "createdAt"))
    except BadValue as exc:
        return Skipped(where, str(exc), post_id)
    notes = [ASSUMED_UTC] if assumed else []
    status = _status(elem)
    if page.deleted and status != "spam":
        status = "deleted"
        notes.append(DELETED_THREAD)
    author = child(elem, "author")
    name = clean_text(child_text(author, "name"), notes) if author is not None else ""
    return ImportedComment(
        source=SOURCE,
        external_id=post_id,
        page=page,
        author=name or DEFAULT_AUTHOR,
        body=clean_text(child_text(elem, "message"), notes),
        body_format="html",
        created=created,
        parent_external_id=attr(child(elem, "parent"), "id") or None,
        email=child_text(author, "email").strip() if author is not None else "",
        website=_website(author),
        status=status,
        ip=child_text(elem, "ipAddress").strip(),
        where=where,
        dropped=_dropped(elem, author),
        notes=notes,
    )


def _status(elem: Element) -> SourceStatus:
    if child_text(elem, "isSpam").strip() == "true":
        return "spam"
    if child_text(elem, "isDeleted").strip() == "true":
        return "deleted"
    return "approved"


def _website(author: Element | None) -> str:
    if author is None:
        return ""
    return (child_text(author, "link") or child_text(author, "url")).strip()


def _dropped(elem: Element, author: Element | None) -> tuple[str, ...]:
    names = [
        _LABELS.get(local_name(c.tag), f"post {local_name(c.tag)}")
        for c in elem
        if local_name(c.tag) not in _POST_USED and (c.text or "").strip()
    ]
    if author is not None:
        names += [
            f"author {local_name(c.tag)}"
            for c in author
            if local_name(c.tag) not in _AUTHOR_USED | _IGNORED and (c.text or "").strip()
        ]
    return tuple(names)
