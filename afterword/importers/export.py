"""The lossless export (``afterword export``) and its restore (``afterword import afterword``).

One JSON document, one row per line so that it diffs and greps well, written in a stable
order with no timestamp: exporting the same database twice gives the same bytes, and
restoring an export into an empty database and exporting again gives the same bytes too.
The format is documented in ``docs/export-format.md``. Build bookkeeping (versions, the
manifest, what targets hold) and the site secret are not exported.
"""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from afterword.errors import ImportFailed, InvalidPageKey
from afterword.pagekey import normalize_page_key
from afterword.store import Store
from afterword.store.transfer import (
    COMMENT_COLUMNS,
    LOG_COLUMNS,
    PAGE_COLUMNS,
    iter_rows,
    person_rows,
    restore_rows,
)

FORMAT = "afterword-export"
VERSION = 1
TABLES = (("pages", PAGE_COLUMNS), ("comments", COMMENT_COLUMNS), ("moderation_log", LOG_COLUMNS))


def export_site(store: Store, path: Path) -> dict[str, int]:
    """Everything: pages, comments of every status (with e-mails), the moderation log."""
    sections: dict[str, Iterable[dict[str, Any]]] = {
        "pages": iter_rows(store, "pages", PAGE_COLUMNS, "key"),
        "comments": iter_rows(store, "comments", COMMENT_COLUMNS, "id"),
        "moderation_log": iter_rows(store, "moderation_log", LOG_COLUMNS, "id"),
    }
    return _write(path, "site", sections)


def export_person(store: Store, email: str, path: Path) -> dict[str, int]:
    """One person's comments (by e-mail, any case), their pages and their moderation history."""
    pages, comments, log = person_rows(store, email)
    scope = {"email": email.strip()}
    return _write(path, scope, {"pages": pages, "comments": comments, "moderation_log": log})


def _write(
    path: Path, scope: object, sections: dict[str, Iterable[dict[str, Any]]]
) -> dict[str, int]:
    """Write atomically (temp file, then rename) and privately: the export holds e-mails."""
    counts: dict[str, int] = {}
    temp = path.with_name(f".{path.name}.tmp")
    try:
        fd = os.open(temp, os.O_CREAT | os.O_TRUNC | os.O_WRONLY, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as out:
            out.write(f'{{"format": "{FORMAT}", "version": {VERSION},\n')
            out.write(f' "scope": {_dump(scope)}')
            for name, rows in sections.items():
                counts[name] = _write_section(out, name, rows)
            out.write("\n}\n")
        os.replace(temp, path)
    except OSError as exc:
        temp.unlink(missing_ok=True)
        raise ImportFailed(f"{path}: cannot write the export: {exc.strerror or exc}") from None
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
    """Load and check an export: format, version, scope and every row's columns."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ImportFailed(f"{path}: cannot read: {exc.strerror or exc}") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ImportFailed(f"{path}: not an afterword export: {exc}") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise ImportFailed(f'{path}: not an afterword export (no "format": "{FORMAT}")')
    if data.get("version") != VERSION:
        raise ImportFailed(f"{path}: export version {data.get('version')!r} is not supported")
    if data.get("scope") != "site":
        raise ImportFailed(f"{path}: a one-person export cannot be restored; use a full export")
    for name, columns in TABLES:
        rows = data.get(name)
        if not isinstance(rows, list):
            raise ImportFailed(f"{path}: the export has no {name!r} list")
        for index, row in enumerate(rows):
            if not isinstance(row, dict) or set(row) != set(columns):
                raise ImportFailed(f"{path}: {name}[{index}] does not have the documented fields")
            _check_key(path, f"{name}[{index}]", row.get("key", row.get("page_key")))
    return data


def _check_key(path: Path, where: str, key: object) -> None:
    """Page keys name output folders: only canonical ones may enter the database."""
    if key is None:
        return
    try:
        canonical = isinstance(key, str) and normalize_page_key(key) == key
    except InvalidPageKey:
        canonical = False
    if not canonical:
        raise ImportFailed(f"{path}: {where} has a page key that is not canonical: {key!r}")


def restore_export(store: Store, path: Path, *, dry_run: bool = False) -> dict[str, Any]:
    """Restore a full export with its own ids (one transaction); returns a small report."""
    data = read_export(path)
    result: dict[str, Any] = {"source": "afterword", "path": str(path), "dry_run": dry_run}
    try:
        with store.write() as conn:
            added, present = restore_rows(
                conn, data["pages"], data["comments"], data["moderation_log"]
            )
            result.update(pages=len(data["pages"]), imported=added, already_present=present)
            result["moderation_log"] = len(data["moderation_log"])
            if dry_run:
                raise _Rollback
    except _Rollback:
        pass
    except sqlite3.Error as exc:
        raise ImportFailed(f"{path}: the database refused a row: {exc}") from None
    return result


class _Rollback(Exception):
    """Undoes a dry-run restore once its report is known."""
