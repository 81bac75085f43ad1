"""Isso: its SQLite database (``comments.db``) or its "generic" JSON import format.

The database is opened read-only. Isso comments are Markdown; ``mode`` 1 is accepted, 2 is
waiting for moderation, 4 is deleted (Isso keeps deleted comments that have replies). Isso
stores client addresses already truncated; afterword hashes them anyway. Votes are dropped.
The generic JSON numbers comments per thread, so the thread id is part of the external id.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import unquote_plus

from afterword.errors import ImportFailed
from afterword.importers.fields import ASSUMED_UTC, BadValue, clean_text, parse_date
from afterword.importers.records import ImportedComment, ImportedPage, Item, Skipped, SourceStatus
from afterword.importers.xmlsource import Progress

SOURCE = "isso"
DEFAULT_AUTHOR = "Anonymous"
_MODES: dict[int, SourceStatus] = {1: "approved", 2: "pending", 4: "deleted"}
_SQLITE_MAGIC = b"SQLite format 3\x00"


def total(path: Path) -> int:
    return 0  # small files: no progress bar needed


def read(path: Path, progress: Progress | None = None) -> Iterator[Item]:
    try:
        with path.open("rb") as handle:
            magic = handle.read(len(_SQLITE_MAGIC))
    except OSError as exc:
        raise ImportFailed(f"{path}: cannot read: {exc.strerror or exc}") from None
    if magic == _SQLITE_MAGIC:
        yield from _read_database(path)
    else:
        yield from _read_generic(path)


def _read_database(path: Path) -> Iterator[Item]:
    try:
        conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
        conn.row_factory = sqlite3.Row
        rows = conn.execute(
            """SELECT c.*, t.uri AS thread_uri, t.title AS thread_title
               FROM comments c JOIN threads t ON t.id = c.tid ORDER BY c.id"""
        )
        for row in rows:
            yield _db_comment(row)
        conn.close()
    except sqlite3.Error as exc:
        raise ImportFailed(f"{path}: not a readable Isso database: {exc}") from None


def _db_comment(row: sqlite3.Row) -> Item:
    comment_id = str(row["id"])
    where = f"comment {comment_id}"
    keys = row.keys()
    page = ImportedPage(str(row["tid"]), row["thread_uri"] or "", clean_text(row["thread_title"]))
    dropped = tuple(name for name in ("likes", "dislikes") if name in keys and (row[name] or 0) > 0)
    record = {
        "id": comment_id,
        "parent": row["parent"],
        "author": row["author"],
        "email": row["email"],
        "website": row["website"],
        "remote_addr": row["remote_addr"],
        "created": row["created"],
        "text": row["text"],
    }
    return _comment(record, page, where, _MODES.get(int(row["mode"] or 0), "pending"), dropped)


def _read_generic(path: Path) -> Iterator[Item]:
    try:
        threads = json.loads(path.read_text(encoding="utf-8-sig"))
    except OSError as exc:
        raise ImportFailed(f"{path}: cannot read: {exc.strerror or exc}") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ImportFailed(f"{path}: neither an Isso database nor Isso JSON: {exc}") from None
    if not isinstance(threads, list):
        raise ImportFailed(f"{path}: Isso JSON must be a list of threads")
    for index, thread in enumerate(threads):
        if not isinstance(thread, dict) or not thread.get("id"):
            yield Skipped(f"thread #{index + 1}", "missing field: id")
            continue
        uri = str(thread["id"])
        page = ImportedPage(uri, uri, clean_text(unquote_plus(str(thread.get("title") or ""))))
        for comment in thread.get("comments") or []:
            yield _generic_comment(comment, page)


def _generic_comment(comment: Any, page: ImportedPage) -> Item:
    if not isinstance(comment, dict) or comment.get("id") is None:
        return Skipped(f"comment in thread {page.url}", "missing field: id")
    record = dict(comment)
    record["id"] = f"{page.url}#{comment['id']}"
    if record.get("parent") is not None:
        record["parent"] = f"{page.url}#{record['parent']}"
    where = f"comment {record['id']}"
    return _comment(record, page, where, "approved", ())


def _comment(
    record: dict[str, Any],
    page: ImportedPage,
    where: str,
    status: SourceStatus,
    dropped: tuple[str, ...],
) -> Item:
    external_id = str(record["id"])
    try:
        created, assumed = parse_date(record.get("created"))
    except BadValue as exc:
        return Skipped(where, str(exc), external_id)
    notes = [ASSUMED_UTC] if assumed else []
    parent = record.get("parent")
    return ImportedComment(
        source=SOURCE,
        external_id=external_id,
        page=page,
        author=clean_text(record.get("author"), notes) or DEFAULT_AUTHOR,
        body=clean_text(record.get("text"), notes),
        body_format="markdown",
        created=created,
        parent_external_id=None if parent is None else str(parent),
        email=str(record.get("email") or "").strip(),
        website=str(record.get("website") or "").strip(),
        status=status,
        ip=str(record.get("remote_addr") or "").strip(),
        where=where,
        dropped=dropped,
        notes=notes,
    )
