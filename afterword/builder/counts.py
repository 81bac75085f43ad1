"""Comment counts for list pages, sharded by folder (format: docs/json-format.md).

A page's count lives in its folder's shard, so a list page of sibling posts needs one request
per folder, and an approval rewrites one shard of at most ``SHARD_MAX`` entries. A folder with
more pages is split into ``fnv1a32(key) % buckets`` files; the number of buckets is a pure
function of the number of entries, so an incremental build and a full build agree byte for
byte.

An incremental build starts from the shard already in the output folder (checked against the
manifest's sha256) and applies the counts of the pages it rendered; if the shard is missing or
was altered, it is recomputed from the database instead.
"""

from __future__ import annotations

import json
from typing import Any

from afterword.builder.render import dump_json
from afterword.builder.write import JSON, Output, OutputWriter
from afterword.pagekey import encode_page_path
from afterword.store import Store
from afterword.store.build import folder_counts

SHARD_MAX = 1000
HEAD_NAME = "comments-counts.json"


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
    ordered = dict(sorted(counts.items()))
    buckets = bucket_count(len(ordered))
    head: dict[str, object] = {"version": 1, "folder": folder}
    if not buckets:
        head["counts"] = ordered
        return [Output(prefix + HEAD_NAME, dump_json(head), JSON)]
    head.update({"pages": len(ordered), "buckets": buckets})
    split: dict[str, dict[str, int]] = {bucket_name_for(i, buckets): {} for i in range(buckets)}
    for key, count in ordered.items():
        split[bucket_name(key, buckets)][key] = count
    outputs = [Output(prefix + HEAD_NAME, dump_json(head), JSON)]
    for name, part in split.items():
        body = {"version": 1, "folder": folder, "bucket": name, "counts": part}
        outputs.append(Output(f"{prefix}comments-counts-{name}.json", dump_json(body), JSON))
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


def _load_shard(
    writer: OutputWriter, store: Store, folder: str, prefix: str
) -> tuple[list[str], dict[str, int]]:
    """The folder's current counts (and file keys) from the output, or from the database."""
    try:
        return _read_shard(writer, store, folder, prefix)
    except (ValueError, TypeError):
        return _recover(store, folder, prefix, [prefix + HEAD_NAME])


def _read_shard(
    writer: OutputWriter, store: Store, folder: str, prefix: str
) -> tuple[list[str], dict[str, int]]:
    head_key = prefix + HEAD_NAME
    if not writer.has_object(head_key):
        return [], folder_counts(store, folder)
    head = _read_json(writer, head_key)
    if head is None:
        return _recover(store, folder, prefix, [head_key])
    if "counts" in head:
        return [head_key], _counts(head["counts"])
    buckets = int(head.get("buckets", 0))
    keys = [head_key] + [
        f"{prefix}comments-counts-{bucket_name_for(i, buckets)}.json" for i in range(buckets)
    ]
    counts: dict[str, int] = {}
    for key in keys[1:]:
        part = _read_json(writer, key)
        if part is None or "counts" not in part:
            return _recover(store, folder, prefix, keys)
        counts.update(_counts(part["counts"]))
    return keys, counts


def _recover(
    store: Store, folder: str, prefix: str, known: list[str]
) -> tuple[list[str], dict[str, int]]:
    """Damaged shard: trust the database; remove every bucket name it might have used."""
    candidates = set(known)
    for buckets in (16, 256):
        candidates.update(
            f"{prefix}comments-counts-{bucket_name_for(i, buckets)}.json" for i in range(buckets)
        )
    return sorted(candidates), folder_counts(store, folder)


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
