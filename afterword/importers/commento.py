"""Commento's JSON export (``{"version": 1, "comments": [...], "commenters": [...]}``).

Commenters are a separate list joined by ``commenterHex``; ``"anonymous"`` has no entry.
Threading is ``parentHex`` (``"root"`` = top level). Bodies are Markdown (``html`` is often
empty in real exports). Votes (``score``) are dropped: afterword has no voting.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from afterword.errors import ImportFailed
from afterword.importers.fields import ASSUMED_UTC, BadValue, clean_text, parse_date
from afterword.importers.records import ImportedComment, ImportedPage, Item, Skipped, SourceStatus
from afterword.importers.xmlsource import Progress

SOURCE = "commento"
DEFAULT_AUTHOR = "Anonymous"
_STATES: dict[str, SourceStatus] = {
    "approved": "approved",
    "unapproved": "pending",
    "flagged": "pending",
}


def total(path: Path) -> int:
    return 0


def read(path: Path, progress: Progress | None = None) -> Iterator[Item]:
    try:
        data = json.loads(path.read_text(encoding="utf-8-sig"))
    except OSError as exc:
        raise ImportFailed(f"{path}: cannot read: {exc.strerror or exc}") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ImportFailed(f"{path}: not Commento JSON: {exc}") from None
    if not isinstance(data, dict) or not isinstance(data.get("comments"), list):
        raise ImportFailed(f'{path}: not a Commento export (no "comments" list)')
    if data.get("version", 1) != 1:
        raise ImportFailed(f"{path}: Commento export version {data['version']!r} is not supported")
    people = {
        str(c.get("commenterHex")): c for c in data.get("commenters") or [] if isinstance(c, dict)
    }
    for index, comment in enumerate(data["comments"]):
        yield _comment(index, comment, people)


def _comment(index: int, comment: Any, people: dict[str, dict[str, Any]]) -> Item:
    if not isinstance(comment, dict) or not comment.get("commentHex"):
        return Skipped(f"comment #{index + 1}", "missing field: commentHex")
    hex_id = str(comment["commentHex"])
    where = f"comment {hex_id[:12]}"
    url = str(comment.get("url") or "").strip()
    if not url:
        return Skipped(where, "missing field: url", hex_id)
    try:
        created, assumed = parse_date(comment.get("creationDate"))
    except BadValue as exc:
        return Skipped(where, str(exc), hex_id)
    notes = [ASSUMED_UTC] if assumed else []
    person = people.get(str(comment.get("commenterHex")), {})
    parent = str(comment.get("parentHex") or "root")
    markdown = clean_text(comment.get("markdown"), notes)
    return ImportedComment(
        source=SOURCE,
        external_id=hex_id,
        page=ImportedPage(url, url),
        author=clean_text(person.get("name"), notes) or DEFAULT_AUTHOR,
        body=markdown or clean_text(comment.get("html"), notes),
        body_format="markdown" if markdown else "html",
        created=created,
        parent_external_id=None if parent == "root" else parent,
        email=str(person.get("email") or "").strip(),
        website=str(person.get("link") or "").strip(),
        status="deleted"
        if comment.get("deleted")
        else _STATES.get(str(comment.get("state")), "pending"),
        where=where,
        dropped=_dropped(comment, person),
        notes=notes,
    )


def _dropped(comment: dict[str, Any], person: dict[str, Any]) -> tuple[str, ...]:
    names = ["score (votes)"] if comment.get("score") else []
    if person.get("photo"):
        names.append("commenter photo")
    if person.get("provider"):
        names.append("login provider")
    return tuple(names)
