"""Publish planning at scale: the SQL diff over stamped changes against the old full diff.

    python bench/publish_plan.py                    # 100,000 pages, 7 repetitions
    python bench/publish_plan.py --pages 20000 --repeat 5

Planning is the step between "publish starts" and "first request": read what the target must
receive and drop, and make the ``Plan``. It is measured alone (no target, no network), on a
manifest of ``--pages`` pages × 3 files (HTML, JSON, feed) plus one count shard per 100
pages, written through the builder's ``record_batch`` (so the triggers stamp it) and fully
published (``published`` rows and the target's cursor, as a finished publish leaves them).

Measured, each ``--repeat`` times, median printed:

* **no change** — nothing was built since the last publish;
* **one approval** — a build after one approval rewrote 5 objects (the page's HTML, JSON and
  feed, its folder's count shard, the site feed), then the publish is recorded as done.

Side by side, the same two cases planned the way afterword did before (load the whole
manifest and the whole ``published`` table into dicts, diff in Python).
"""

from __future__ import annotations

import argparse
import hashlib
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # this tree's afterword

from afterword.output.plan import Plan, make_plan
from afterword.store import Store, open_store
from afterword.store.build import ObjectRow, record_batch
from afterword.store.publish import (
    mark_synced,
    read_changes,
    read_manifest,
    read_published,
    record_uploaded,
)

TARGET = "cdn"
T = TypeVar("T")


def page_objects(n: int, version: int = 0) -> list[ObjectRow]:
    folder = f"threads/blog/{2000 + n % 25}/post-{n}"
    return [
        ObjectRow(f"{folder}/{name}", _sha(f"{folder}/{name}:{version}"), 900, kind, "fragment",
                  f"/blog/{2000 + n % 25}/post-{n}/")
        for name, kind in [
            ("comments.html", "text/html; charset=utf-8"),
            ("comments.json", "application/json"),
            ("feed.atom", "application/atom+xml; charset=utf-8"),
        ]
    ]  # fmt: skip


def shard(n: int, version: int = 0) -> ObjectRow:
    key = f"counts/{n // 100}.json"
    return ObjectRow(key, _sha(f"{key}:{version}"), 300, "application/json", "fragment", None)


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def seed(store: Store, pages: int) -> None:
    """Build (through ``record_batch``) and record a complete publish of the manifest."""
    store.conn.execute("PRAGMA synchronous = OFF")
    batch: list[ObjectRow] = []
    for n in range(pages):
        batch.extend(page_objects(n))
        if n % 100 == 0:
            batch.append(shard(n))
        if len(batch) >= 5000:
            record_batch(store, put=batch, removed=[], built=[])
            batch = []
    record_batch(store, put=batch, removed=[], built=[])
    changes = read_changes(store, TARGET)
    with store.write() as conn:
        for pending in changes.uploads:
            record_uploaded(conn, TARGET, pending.row.key, pending.row.sha256)
    mark_synced(store, TARGET, changes.clock)
    store.conn.execute("PRAGMA synchronous = FULL")


def plan_now(store: Store) -> tuple[Plan, int]:
    changes = read_changes(store, TARGET)
    return make_plan(changes.uploads, changes.deletions), changes.clock


def plan_before(store: Store) -> Plan:
    """The previous planner: every manifest and published row into dicts, diffed in Python."""
    manifest = read_manifest(store)
    held = read_published(store, TARGET)
    uploads = tuple(manifest[k] for k in sorted(manifest) if held.get(k) != manifest[k].sha256)
    deletions = tuple(sorted(k for k in held if k not in manifest))
    changed = sorted(
        [e.key for e in uploads if not (e.cache_class == "immutable" and e.key not in held)]
        + list(deletions)
    )
    return Plan(uploads=uploads, deletions=deletions, changed_keys=tuple(changed))


def approve_one(store: Store, n: int, version: int) -> None:
    """What the build after one approval on page ``n`` writes to the manifest."""
    site_feed = ObjectRow("feed.atom", _sha(f"feed:{version}"), 5000, "application/atom+xml",
                          "fragment", None)  # fmt: skip
    record_batch(store, put=[*page_objects(n, version), shard(n, version), site_feed],
                 removed=[], built=[])  # fmt: skip


def land(store: Store, plan: Plan, clock: int) -> None:
    """Record the plan as published (what the transfer does once every put succeeded)."""
    with store.write() as conn:
        for row in plan.uploads:
            record_uploaded(conn, TARGET, row.key, row.sha256)
    mark_synced(store, TARGET, clock)


def timed(step: Callable[[], T]) -> tuple[float, T]:
    started = time.perf_counter()
    value = step()
    return time.perf_counter() - started, value


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pages", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="afterword-bench-") as tmp:
        store = open_store(Path(tmp) / "afterword.db")
        started = time.perf_counter()
        seed(store, args.pages)
        objects = store.scalar("SELECT count(*) FROM objects")
        print(f"# publish planning bench — {args.pages:,} pages, {objects:,} manifest rows "
              f"(seeded in {time.perf_counter() - started:.0f} s); machine shared, "
              f"{args.repeat} repetitions, median")  # fmt: skip
        figures: dict[str, list[float]] = {}

        def note(name: str, seconds: float) -> None:
            figures.setdefault(name, []).append(seconds)

        for r in range(args.repeat):
            seconds, (plan, _) = timed(lambda: plan_now(store))
            assert plan.empty, "the seeded target should be in sync"
            note("no change, SQL diff", seconds)
            note("no change, before", timed(lambda: plan_before(store))[0])
            approve_one(store, (4242 + r) % args.pages, r + 1)
            seconds, (plan, clock) = timed(lambda: plan_now(store))
            note("one approval, SQL diff", seconds)
            seconds, old = timed(lambda: plan_before(store))
            note("one approval, before", seconds)
            assert len(plan.uploads) == 5, plan.uploads
            assert old.uploads == plan.uploads
            land(store, plan, clock)
        store.close()
    for name, values in figures.items():
        print(
            f"{name:<24} median {statistics.median(values) * 1000:9.2f} ms   "
            f"(min {min(values) * 1000:.2f}, max {max(values) * 1000:.2f})"
        )


if __name__ == "__main__":
    main()
