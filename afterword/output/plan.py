"""What one publish does, from the diff ``store.publish.read_changes`` computed in SQL: pure.

Uploads are keys whose sha256 differs from the published one (or that the target lacks);
deletions are keys the target holds that the manifest no longer has. The paths to invalidate
are all of those except new content-hashed assets: a changed or vanished key may be cached
at the edge, and so may a *new* key (a CDN caches the 404 the widget got before the first
comment), but nobody can have fetched a hashed name before it existed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from afterword.store.build import ObjectRow
from afterword.store.publish import Pending

MAX_PATHS_PER_INVALIDATION = 1000  # well below CloudFront's 3,000 paths in progress


@dataclass(frozen=True)
class Plan:
    """What one publish has to do for one target."""

    uploads: tuple[ObjectRow, ...] = ()
    deletions: tuple[str, ...] = ()
    changed_keys: tuple[str, ...] = field(default=())

    @property
    def empty(self) -> bool:
        return not self.uploads and not self.deletions

    @property
    def upload_bytes(self) -> int:
        return sum(entry.size for entry in self.uploads)


def make_plan(uploads: Sequence[Pending], deletions: Sequence[str]) -> Plan:
    """The plan for the changed rows (each with whether the target holds a version of it)
    and vanished keys; sorted for stable output."""
    ordered = sorted(uploads, key=lambda pending: pending.row.key)
    gone = tuple(sorted(deletions))
    changed = sorted([p.row.key for p in ordered if not _new_hashed(p)] + list(gone))
    return Plan(uploads=tuple(p.row for p in ordered), deletions=gone, changed_keys=tuple(changed))


def batch_paths(paths: list[str], *, wildcard: str, wildcard_over: int) -> list[list[str]]:
    """Exactly the paths, in batches; above ``wildcard_over`` one wildcard instead."""
    if not paths:
        return []
    if len(paths) > wildcard_over:
        return [[wildcard]]
    size = MAX_PATHS_PER_INVALIDATION
    return [paths[start : start + size] for start in range(0, len(paths), size)]


def _new_hashed(pending: Pending) -> bool:
    return pending.row.cache_class == "immutable" and not pending.held
