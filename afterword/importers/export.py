"""The lossless export (``afterword export``) and its restore (``afterword import afterword``).

One JSON document, one row per line so that it diffs and greps well, written in a stable
order with no timestamp: exporting the same database twice gives the same bytes, and
restoring an export into an empty database and exporting again gives the same bytes too.
The format is documented in ``docs/export-format.md``. Build bookkeeping (versions, the
manifest, what targets hold), the notification outbox and the site secret are not exported.
Every other column is: ``tests/test_export.py`` checks the exported columns against the
schema, so a new column cannot be left out unnoticed again.
"""

from __future__ import annotations

import json
import os
import sqlite3
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from afterword.errors import ImportFailed, InvalidPageKey
from afterword.pagekey import normalize_page_key
from afterword.store import Store, format_time, parse_time
from afterword.store.migrations import STATUSES
from afterword.store.revisions import REVISION_STATUSES
from afterword.store.subscriptions import person_subscriptions
from afterword.store.transfer import (
    COMMENT_COLUMNS,
    LOG_COLUMNS,
    PAGE_COLUMNS,
    REVISION_COLUMNS,
    iter_rows,
    person_rows,
    restore_rows,
    revision_rows,
    stored_comment_pages,
    stored_page_keys,
)

FORMAT = "afterword-export"
VERSION = 2  # 2: comments.edited and the revisions section (author edits)
TABLES = (
    ("pages", PAGE_COLUMNS),
    ("comments", COMMENT_COLUMNS),
    ("moderation_log", LOG_COLUMNS),
    ("revisions", REVISION_COLUMNS),
)


def export_site(store: Store, path: Path) -> dict[str, int]:
    """Everything: pages, comments of every status (with e-mails), the moderation log, and
    authors' revisions (pending ones wait for a moderator; decided ones are history)."""
    sections: dict[str, Iterable[dict[str, Any]]] = {
        "pages": iter_rows(store, "pages", PAGE_COLUMNS, "key"),
        "comments": iter_rows(store, "comments", COMMENT_COLUMNS, "id"),
        "moderation_log": iter_rows(store, "moderation_log", LOG_COLUMNS, "id"),
        "revisions": iter_rows(store, "revisions", REVISION_COLUMNS, "id"),
    }
    return _write(path, "site", sections)


def export_person(store: Store, email: str, path: Path) -> dict[str, int]:
    """One person's comments (by e-mail, any case), their pages, their moderation history,
    their revisions of those comments, and what the address asked of reply mails (its
    subscriber row and subscriptions)."""
    pages, comments, log = person_rows(store, email)
    revisions = revision_rows(store, [c["id"] for c in comments])
    subscriber, subscriptions = person_subscriptions(store, email)
    sections: dict[str, Iterable[dict[str, Any]]] = {
        "pages": pages,
        "comments": comments,
        "moderation_log": log,
        "revisions": revisions,
        "subscriber": subscriber,
        "subscriptions": subscriptions,
    }
    return _write(path, {"email": email.strip()}, sections)


def _write(
    path: Path, scope: object, sections: dict[str, Iterable[dict[str, Any]]]
) -> dict[str, int]:
    """Write atomically and privately: the export holds e-mail addresses.

    ``mkstemp`` creates a fresh file with mode 0600 and ``O_EXCL`` beside the target, so a
    leftover temp file (with looser permissions) or a symlink planted at a predictable name
    is never reused or followed; ``os.replace`` then swaps it in as one step.
    """
    counts: dict[str, int] = {}
    temp: Path | None = None
    try:
        fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        temp = Path(name)
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as out:
            out.write(f'{{"format": "{FORMAT}", "version": {VERSION},\n')
            out.write(f' "scope": {_dump(scope)}')
            for section, rows in sections.items():
                counts[section] = _write_section(out, section, rows)
            out.write("\n}\n")
            out.flush()
            os.fsync(out.fileno())
        os.replace(temp, path)
        temp = None
    except OSError as exc:
        raise ImportFailed(f"{path}: cannot write the export: {exc.strerror or exc}") from None
    finally:
        if temp is not None:
            temp.unlink(missing_ok=True)
    return counts


def _write_section(out: Any, name: str, rows: Iterable[dict[str, Any]]) -> int:
    out.write(f',\n "{name}": [')
    count = 0
    for row in rows:
        out.write(("," if count else "") + "\n  " + _dump(row))
        count += 1
    out.write("\n ]" if count else "]")
    return count


def _dump(value: object) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True)


def read_export(path: Path) -> dict[str, Any]:
    """Load and check an export: format, version, scope, and every row's fields and values.

    Every value is checked here, before anything is written: a malformed timestamp or
    status that reached the database would make later commands (``afterword queue``, the
    builder) fail on every run, long after the restore reported success.
    """
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ImportFailed(f"{path}: cannot read: {exc.strerror or exc}") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ImportFailed(f"{path}: not an afterword export: {exc}") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise ImportFailed(f'{path}: not an afterword export (no "format": "{FORMAT}")')
    if data.get("version") not in (1, VERSION):
        raise ImportFailed(f"{path}: export version {data.get('version')!r} is not supported")
    if data.get("scope") != "site":
        raise ImportFailed(f"{path}: a one-person export cannot be restored; use a full export")
    if data["version"] == 1:
        _upgrade_v1(path, data)
    for name, columns in TABLES:
        rows = data.get(name)
        if not isinstance(rows, list):
            raise ImportFailed(f"{path}: the export has no {name!r} list")
        seen: set[object] = set()
        for index, row in enumerate(rows):
            if not isinstance(row, dict) or set(row) != set(columns):
                raise ImportFailed(f"{path}: {name}[{index}] does not have the documented fields")
            _check_values(path, f"{name}[{index}]", FIELDS[name], row)
            ident = row["key"] if name == "pages" else row["id"]
            if ident in seen:
                raise ImportFailed(f"{path}: {name}[{index}]: {ident!r} appears twice in the file")
            seen.add(ident)
    _check_cycles(path, data["comments"])
    _check_pending_revisions(path, data["revisions"])
    return data


def _upgrade_v1(path: Path, data: dict[str, Any]) -> None:
    """Read a version 1 export (before author edits) as the version 2 file it stands for:
    no comment was ever edited and no revision exists. Its rows are checked against the
    version 1 fields, so a v1 file carrying v2 fields is refused, not half-read."""
    if "revisions" in data:
        raise ImportFailed(f"{path}: a version 1 export has no 'revisions' list")
    data["revisions"] = []
    comments = data.get("comments")
    for index, row in enumerate(comments if isinstance(comments, list) else []):
        if isinstance(row, dict):
            if "edited" in row:
                raise ImportFailed(
                    f"{path}: comments[{index}] does not have the documented fields "
                    "(version 1 has no 'edited')"
                )
            row["edited"] = None


def _check_pending_revisions(path: Path, revisions: list[dict[str, Any]]) -> None:
    """At most one revision per comment waits for a moderator (the store's unique index)."""
    waiting: set[int] = set()
    for index, row in enumerate(revisions):
        if row["status"] == "pending":
            if row["comment_id"] in waiting:
                raise ImportFailed(
                    f"{path}: revisions[{index}].status: comment {row['comment_id']} "
                    "already has a pending revision in the file"
                )
            waiting.add(row["comment_id"])


def _check_values(path: Path, where: str, kinds: dict[str, str], row: dict[str, Any]) -> None:
    for field, kind in kinds.items():
        valid, expected = KINDS[kind]
        value = row[field]
        if not valid(value):
            shown = repr(value) if len(repr(value)) <= 60 else repr(value)[:57] + "..."
            raise ImportFailed(f"{path}: {where}.{field}: {expected} (got {shown})")


def _check_cycles(path: Path, comments: list[dict[str, Any]]) -> None:
    """A reply chain that loops back has no top-level comment: no thread could show it."""
    parents = {row["id"]: row["parent_id"] for row in comments}
    index = {row["id"]: i for i, row in enumerate(comments)}
    done: set[int] = set()
    for start in parents:
        trail: list[int] = []
        node = start
        while node in parents and node not in done:
            if node in trail:
                raise ImportFailed(
                    f"{path}: comments[{index[node]}].parent_id: "
                    f"the reply chain of comment {node} loops back to itself"
                )
            trail.append(node)
            node = parents[node]
        done.update(trail)


def _check_links(path: Path, conn: sqlite3.Connection, data: dict[str, Any]) -> None:
    """Every page key, parent and logged comment exists, in the file or already stored."""
    comments: list[dict[str, Any]] = data["comments"]
    keys = {row["key"] for row in data["pages"]}
    pages = {row["id"]: row["page_key"] for row in comments}
    keys |= stored_page_keys(conn, {row["page_key"] for row in comments} - keys)
    logged = [*data["moderation_log"], *data["revisions"]]
    wanted = {row["parent_id"] for row in comments} | {e["comment_id"] for e in logged}
    pages |= stored_comment_pages(conn, wanted - set(pages) - {None})
    for index, row in enumerate(comments):
        where, parent = f"{path}: comments[{index}]", row["parent_id"]
        if row["page_key"] not in keys:
            raise ImportFailed(f"{where}.page_key: no page {row['page_key']!r} {ELSEWHERE}")
        if parent is not None and parent not in pages:
            raise ImportFailed(f"{where}.parent_id: no comment {parent} {ELSEWHERE}")
        if parent is not None and pages[parent] != row["page_key"]:
            raise ImportFailed(f"{where}.parent_id: comment {parent} is on another page")
    for section in ("moderation_log", "revisions"):
        for index, entry in enumerate(data[section]):
            if entry["comment_id"] not in pages:
                raise ImportFailed(
                    f"{path}: {section}[{index}].comment_id: "
                    f"no comment {entry['comment_id']} {ELSEWHERE}"
                )


def _is_id(value: object) -> bool:
    """A row id: an int (not a bool) that SQLite can hold, above zero."""
    return type(value) is int and 0 < value <= MAX_ID


def _is_text(value: object) -> bool:
    """A string SQLite can store: lone surrogates (from JSON escapes) cannot be encoded."""
    if not isinstance(value, str):
        return False
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _is_time(value: object) -> bool:
    """The one stored format, exactly: the queue and threads sort timestamps as text."""
    try:
        return isinstance(value, str) and format_time(parse_time(value)) == value
    except ValueError:
        return False


def _is_json_object(value: object) -> bool:
    try:
        return _is_text(value) and isinstance(json.loads(str(value)), dict)
    except json.JSONDecodeError:
        return False


def _is_key(value: object) -> bool:
    """Page keys name output folders: only canonical ones may enter the database."""
    try:
        return _is_text(value) and normalize_page_key(str(value)) == value
    except InvalidPageKey:
        return False


MAX_ID = 2**63 - 1
ELSEWHERE = "in the file or the database"
TIME_EXAMPLE = "2026-11-28T08:40:00.123456Z"
KINDS: dict[str, tuple[Callable[[object], bool], str]] = {
    "id": (_is_id, "not a positive integer id"),
    "id?": (lambda v: v is None or _is_id(v), "not null or a positive integer id"),
    "text": (_is_text, "not a text"),
    "text?": (lambda v: v is None or _is_text(v), "not null or a text"),
    "time": (_is_time, f"not a timestamp like {TIME_EXAMPLE}"),
    "time?": (lambda v: v is None or _is_time(v), f"not null or a timestamp like {TIME_EXAMPLE}"),
    "status": (lambda v: v in STATUSES, f"not one of {', '.join(STATUSES)}"),
    "revision": (
        lambda v: v in REVISION_STATUSES,
        f"not one of {', '.join(REVISION_STATUSES)}",
    ),
    "flag": (lambda v: type(v) is int and v in (0, 1), "not 0 or 1"),
    "json": (_is_json_object, "not a JSON object as text"),
    "key": (_is_key, "not a canonical page key"),
}
FIELDS: dict[str, dict[str, str]] = {
    "pages": {"key": "key", "url": "text", "title": "text", "closed": "flag", "created": "time"},
    "comments": {
        "id": "id", "page_key": "key", "parent_id": "id?", "status": "status", "author": "text",
        "email": "text", "website": "text", "body": "text", "body_html": "text",
        "renderer": "text", "created": "time", "updated": "time", "ip_hash": "text",
        "body_hash": "text", "source": "text", "external_id": "text?", "extra": "json",
        "edited": "time?",
    },
    "moderation_log": {
        "id": "id", "comment_id": "id", "action": "text", "from_status": "status",
        "to_status": "status", "actor": "text", "reason": "text", "at": "time",
    },
    "revisions": {
        "id": "id", "comment_id": "id", "status": "revision", "body": "text",
        "body_html": "text", "renderer": "text", "body_hash": "text", "created": "time",
        "decided": "time?",
    },
}  # fmt: skip


def restore_export(store: Store, path: Path, *, dry_run: bool = False) -> dict[str, Any]:
    """Restore a full export with its own ids (one transaction); returns a small report."""
    data = read_export(path)
    result: dict[str, Any] = {"source": "afterword", "path": str(path), "dry_run": dry_run}
    try:
        with store.write() as conn:
            _check_links(path, conn, data)
            added, present = restore_rows(
                conn, data["pages"], data["comments"], data["moderation_log"], data["revisions"]
            )
            result.update(pages=len(data["pages"]), imported=added, already_present=present)
            result["moderation_log"] = len(data["moderation_log"])
            result["revisions"] = len(data["revisions"])
            if dry_run:
                raise _Rollback
    except _Rollback:
        pass
    except sqlite3.Error as exc:
        raise ImportFailed(f"{path}: the database refused a row: {exc}") from None
    return result


class _Rollback(Exception):
    """Undoes a dry-run restore once its report is known."""
