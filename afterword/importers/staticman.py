"""Staticman data files: one YAML (or JSON) file per comment, one folder per post.

Several schema generations mix in one folder (legacy Disqus/WordPress imports with ``id``,
Staticman v2 with ``_id``, v1 with neither). ``replying_to`` is a 1-based index into the
folder's top-level comments sorted by file name -- what the usual Jekyll theme does -- so it is
resolved here, per folder. ``email`` in these files is an MD5 hash, not an address: dropped.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

from afterword.errors import ImportFailed
from afterword.importers.fields import ASSUMED_UTC, BadValue, clean_text, parse_date
from afterword.importers.records import ImportedComment, ImportedPage, Item, Skipped
from afterword.importers.xmlsource import Progress

SOURCE = "staticman"
DEFAULT_AUTHOR = "Anonymous"
_SUFFIXES = frozenset({".yml", ".yaml", ".json"})
_USED = frozenset({"name", "url", "message", "date", "replying_to", "_parent", "_paper", "hidden"})
_IDS = frozenset({"id", "_id", "updated", "timestamp"})  # bookkeeping, not content
_Loader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def total(path: Path) -> int:
    return sum(1 for _ in _files(path))


def _files(root: Path) -> Iterator[Path]:
    return (p for p in sorted(root.rglob("*")) if p.is_file() and p.suffix in _SUFFIXES)


def read(path: Path, progress: Progress | None = None) -> Iterator[Item]:
    if not path.is_dir():
        raise ImportFailed(f"{path}: Staticman comments are a folder of files; give the folder")
    folders: dict[Path, list[Path]] = {}
    for file in _files(path):
        folders.setdefault(file.parent, []).append(file)
    done = 0
    for folder, files in folders.items():
        yield from _read_folder(path, folder, files)
        done += len(files)
        if progress is not None:
            progress(done)


def _read_folder(root: Path, folder: Path, files: list[Path]) -> Iterator[Item]:
    loaded: list[tuple[str, dict[str, Any]]] = []
    for file in sorted(files, key=lambda p: p.name):
        where = file.relative_to(root).as_posix()
        data = _load(file)
        if isinstance(data, str):
            yield Skipped(where, data, where)
        else:
            loaded.append((where, data))
    page = _folder_page(root, folder, loaded)
    top_level = [where for where, data in loaded if not _reply_index(data)]
    for where, data in loaded:
        yield _comment(where, data, page, top_level)


def _load(file: Path) -> dict[str, Any] | str:
    """The file's mapping, or the reason it cannot be read."""
    try:
        text = file.read_text(encoding="utf-8-sig")
        data = json.loads(text) if file.suffix == ".json" else yaml.load(text, Loader=_Loader)
    except UnicodeDecodeError:
        return "not UTF-8 text"
    except OSError as exc:
        return f"cannot read: {exc.strerror or exc}"
    except (yaml.YAMLError, json.JSONDecodeError) as exc:
        kind = "JSON" if file.suffix == ".json" else "YAML"
        return f"not valid {kind}: {str(exc).splitlines()[0]}"
    if not isinstance(data, dict):
        return "not a mapping of fields"
    return data


def _folder_page(
    root: Path, folder: Path, loaded: list[tuple[str, dict[str, Any]]]
) -> ImportedPage:
    """The folder is the thread (as the theme shows it); its page is the path most files name.

    Ties go to the newest file, so a post that moved (``/til/x/`` → ``/notes/x/``) lands
    where it lives now; files naming no page at all belong to it too.
    """
    named = Counter(_page_path(data) for _, data in reversed(loaded))
    named.pop("", None)
    slug = folder.relative_to(root).as_posix()
    url = named.most_common(1)[0][0] if named else f"/{slug}/"
    return ImportedPage(slug, url)


def _page_path(data: dict[str, Any]) -> str:
    return str(data.get("_parent") or data.get("_paper") or "").strip()


def _reply_index(data: dict[str, Any]) -> int:
    value = str(data.get("replying_to") or "").strip()
    return int(value) if value.isdigit() else 0


def _comment(where: str, data: dict[str, Any], page: ImportedPage, top_level: list[str]) -> Item:
    try:
        created, assumed = parse_date(data.get("date"))
    except BadValue as exc:
        return Skipped(where, str(exc), where)
    notes = [ASSUMED_UTC] if assumed else []
    body = clean_text(data.get("message"), notes)
    if not body:
        return Skipped(where, "missing field: message", where)
    if _page_path(data) not in ("", page.url):
        notes.append("page path differs from the rest of its folder; kept with the folder")
    return ImportedComment(
        source=SOURCE,
        external_id=where,
        page=page,
        author=clean_text(data.get("name"), notes) or DEFAULT_AUTHOR,
        body=body,
        body_format="markdown",
        created=created,
        parent_external_id=_parent(data, top_level, notes),
        website=str(data.get("url") or "").strip(),
        status="pending" if data.get("hidden") not in (None, "", False) else "approved",
        where=where,
        dropped=_dropped(data),
        notes=notes,
    )


def _parent(data: dict[str, Any], top_level: list[str], notes: list[str]) -> str | None:
    index = _reply_index(data)
    if not index:
        return None
    if index > len(top_level):
        notes.append(f"orphan: replying_to {index} is out of range, imported as top-level")
        return None
    return top_level[index - 1]


def _dropped(data: dict[str, Any]) -> tuple[str, ...]:
    names = [k for k in data if k not in _USED | _IDS | {"email"} and data[k] not in (None, "")]
    if data.get("email"):
        names.append("email (an MD5 hash, not an address)")
    return tuple(sorted(names))
