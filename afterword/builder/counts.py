"""Comment counts for list pages, sharded by folder (format: docs/json-format.md).

A page's count lives in its folder's shard, so a list page of sibling posts needs one request
per folder, and an approval rewrites one shard of at most ``SHARD_MAX`` entries. A folder with
more pages is split into ``fnv1a32(key) % buckets`` files; the number of buckets is a pure
function of the number of entries, so an incremental build and a full build agree byte for
byte.

An incremental build starts from the shard already in the output folder (checked against the
manifest's sha256) and applies the counts of the pages it rendered; if the shard is missing or
was altered, it is recomputed from the database instead.

The folder index (``comments-folders.json``, split the same way) lists every folder that has a
shard, with the number of pages in it. Any page's folder may have no shard at all, and asking
for one would be a 404 in the reader's console; the index is the one file that always exists,
so the widget learns from it, without a failing request, that a page has no thread. It only
changes when a folder's number of pages does, i.e. when a page gets its first comment.
"""

from __future__ import annotations

import json
from typing import Any

from afterword.builder.render import dump_json
from afterword.builder.write import JSON, Output, OutputWriter
from afterword.pagekey import encode_page_path
from afterword.store import Store
from afterword.store.build import built_page_keys, folder_counts

SHARD_MAX = 1000
HEAD_NAME = "comments-counts.json"
INDEX_STEM = "comments-folders"  # at the output root: comments-folders.json (+ buckets)


def fnv1a32(text: str) -> int:
    value = 0x811C9DC5
    for byte in text.encode("utf-8"):
        value = ((value ^ byte) * 0x01000193) & 0xFFFFFFFF
    return value


def bucket_count(entries: int) -> int:
    if entries <= SHARD_MAX:
        return 0
    return 16 if entries <= 16 * SHARD_MAX else 256


def bucket_name(key: str, buckets: int) -> str:
    width = 1 if buckets == 16 else 2
    return format(fnv1a32(key) % buckets, f"0{width}x")


def folder_of(key: str) -> str:
    """The folder a page's count is filed under: the key without its last segment."""
    if key == "/":
        return "/"
    return key[: key.rstrip("/").rfind("/") + 1]


def shard_prefix(key: str) -> str:
    """``threads/<encoded folder>/`` for a page key (the folder's own key may not exist)."""
    encoded = encode_page_path(key)
    folder = encoded.rsplit("/", 1)[0] if "/" in encoded else ""
    return f"threads/{folder}/" if folder else "threads/"


def shard_outputs(folder: str, prefix: str, counts: dict[str, int]) -> list[Output]:
    """The head file, and the bucket files when the folder is too big for one."""
    return map_outputs(prefix + HEAD_NAME.removesuffix(".json"), {"folder": folder}, counts)


def map_outputs(stem: str, about: dict[str, object], counts: dict[str, int]) -> list[Output]:
    """``<stem>.json`` holding ``counts``, or a head and ``<stem>-<h>.json`` buckets past
    ``SHARD_MAX`` entries; ``about`` goes into every file (the count shards name their folder).
    """
    ordered = dict(sorted(counts.items()))
    buckets = bucket_count(len(ordered))
    head: dict[str, object] = {"version": 1, **about}
    if not buckets:
        head["counts"] = ordered
        return [Output(f"{stem}.json", dump_json(head), JSON)]
    head.update({"pages": len(ordered), "buckets": buckets})
    split: dict[str, dict[str, int]] = {bucket_name_for(i, buckets): {} for i in range(buckets)}
    for key, count in ordered.items():
        split[bucket_name(key, buckets)][key] = count
    outputs = [Output(f"{stem}.json", dump_json(head), JSON)]
    for name, part in split.items():
        body = {"version": 1, **about, "bucket": name, "counts": part}
        outputs.append(Output(f"{stem}-{name}.json", dump_json(body), JSON))
    return outputs


def bucket_name_for(index: int, buckets: int) -> str:
    return format(index, "01x" if buckets == 16 else "02x")


class CountUpdater:
    """Collects the counts of rendered pages, then rewrites the shards they belong to."""

    def __init__(self) -> None:
        self._updates: dict[str, dict[str, int]] = {}
        self._prefixes: dict[str, str] = {}

    def note(self, page_key: str, count: int) -> None:
        folder = folder_of(page_key)
        self._updates.setdefault(folder, {})[page_key] = count
        if folder not in self._prefixes:
            self._prefixes[folder] = shard_prefix(page_key)

    def write(self, writer: OutputWriter, store: Store, *, full: bool) -> None:
        sizes: dict[str, int] = {}
        for folder in sorted(self._updates):
            prefix = self._prefixes[folder]
            if full:
                old_keys: list[str] = []
                counts = dict(self._updates[folder])
            else:
                old_keys, counts = _load_shard(writer, store, folder, prefix)
                counts.update(self._updates[folder])
            outputs = shard_outputs(folder, prefix, counts)
            for out in outputs:
                writer.put(out)
            for key in sorted(set(old_keys) - {o.key for o in outputs}):
                writer.remove(key)
            sizes[index_key(prefix)] = len(counts)
        _write_index(writer, store, sizes, full=full)


def index_key(prefix: str) -> str:
    """A folder's key in the index: its shard's path below ``threads/`` ("" at the top)."""
    return prefix.removeprefix("threads/")


def _write_index(writer: OutputWriter, store: Store, sizes: dict[str, int], *, full: bool) -> None:
    """Update the folders' page numbers in the index; a full build writes it even when empty."""
    if not full and not sizes and writer.read_verified(f"{INDEX_STEM}.json") is not None:
        return  # one small read per build, so an index lost or altered by hand is put back
    old_keys: list[str] = []
    entries: dict[str, int] = {}
    if not full:
        found = _read_map(writer, INDEX_STEM)
        old_keys, entries = found if found and found[0] else _recover_index(store)
    entries.update(sizes)
    outputs = map_outputs(INDEX_STEM, {}, {k: v for k, v in entries.items() if v})
    for out in outputs:
        writer.put(out)
    for key in sorted(set(old_keys) - {o.key for o in outputs}):
        writer.remove(key)


def _recover_index(store: Store) -> tuple[list[str], dict[str, int]]:
    """Missing or damaged index: count the built pages of each folder in the database."""
    entries: dict[str, int] = {}
    for key in built_page_keys(store):
        folder = index_key(shard_prefix(key))
        entries[folder] = entries.get(folder, 0) + 1
    return _bucket_keys(INDEX_STEM), entries


def _load_shard(
    writer: OutputWriter, store: Store, folder: str, prefix: str
) -> tuple[list[str], dict[str, int]]:
    """The folder's current counts (and file keys) from the output, or from the database."""
    stem = prefix + HEAD_NAME.removesuffix(".json")
    found = _read_map(writer, stem)
    if found is None:  # damaged: trust the database; remove every bucket name it might have used
        return _bucket_keys(stem), folder_counts(store, folder)
    keys, counts = found
    return (keys, counts) if keys else ([], folder_counts(store, folder))


def _read_map(writer: OutputWriter, stem: str) -> tuple[list[str], dict[str, int]] | None:
    """The map in ``<stem>.json`` and its buckets, with their keys; ([], {}) when there is
    none, None when a file is damaged (altered since the build recorded it, or not a map)."""
    head_key = f"{stem}.json"
    if not writer.has_object(head_key):
        return [], {}
    try:
        head = _read_json(writer, head_key)
        if head is None:
            return None
        if "counts" in head:
            return [head_key], _counts(head["counts"])
        buckets = int(head.get("buckets", 0))
        keys = [head_key] + [f"{stem}-{bucket_name_for(i, buckets)}.json" for i in range(buckets)]
        counts: dict[str, int] = {}
        for key in keys[1:]:
            part = _read_json(writer, key)
            if part is None or "counts" not in part:
                return None
            counts.update(_counts(part["counts"]))
    except (ValueError, TypeError):
        return None
    return keys, counts


def _bucket_keys(stem: str) -> list[str]:
    """Every file name a map may have used: its head and any bucket of 16 or 256."""
    names = {f"{stem}.json"}
    for buckets in (16, 256):
        names.update(f"{stem}-{bucket_name_for(i, buckets)}.json" for i in range(buckets))
    return sorted(names)


def _counts(value: Any) -> dict[str, int]:
    if not isinstance(value, dict):
        raise ValueError("counts must be an object")
    return {str(k): int(v) for k, v in value.items()}


def _read_json(writer: OutputWriter, key: str) -> dict[str, Any] | None:
    data = writer.read_verified(key)
    if data is None:
        return None
    try:
        parsed = json.loads(data)
    except ValueError:
        return None
    return parsed if isinstance(parsed, dict) else None
