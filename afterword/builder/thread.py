"""A page's comment tree, assembled from store rows and cut into parts.

Pure data in, pure data out: no SQL, no templates. The tree is flattened into pre-order
(each top-level thread followed by its replies, oldest first at every level) so that the
templates can render unlimited depth with a flat loop instead of recursion, which neither
Python's stack nor a hostile 10,000-deep reply chain can break.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass

from afterword.builder.view import AvatarFor, CommentView, ViewMaker

# Beyond this depth replies still nest in the markup, but CSS stops indenting them, so each
# one names the comment it answers ("in reply to …").
DEPTH_CAP = 8


@dataclass(frozen=True)
class Part:
    """One fragment file: ``number`` is 1-based; ``comments`` in pre-order."""

    number: int
    comments: tuple[CommentView, ...]


@dataclass(frozen=True)
class Thread:
    page_key: str
    count: int
    first_created: str | None
    parts: tuple[Part, ...]
    latest: tuple[CommentView, ...]  # approved comments, newest first (for the page feed)


def assemble_thread(
    page_key: str,
    rows: Sequence[sqlite3.Row],
    page_size: int,
    feed_size: int,
    avatar: AvatarFor,
) -> Thread:
    """Build the tree from approved rows plus their (maybe unapproved) ancestors."""
    by_id = {int(r["id"]): r for r in rows}
    maker = ViewMaker(by_id, avatar)
    children: dict[int | None, list[sqlite3.Row]] = {}
    for row in sorted(rows, key=lambda r: (str(r["created"]), int(r["id"]))):
        parent = row["parent_id"]
        key = int(parent) if parent is not None and int(parent) in by_id else None
        children.setdefault(key, []).append(row)
    keep = _visible_ids(children)
    tops = [r for r in children.get(None, []) if int(r["id"]) in keep]
    size = max(1, page_size)
    groups = [tops[i : i + size] for i in range(0, len(tops), size)] or [[]]
    parts = tuple(
        Part(n, tuple(_flatten(group, children, keep, maker))) for n, group in enumerate(groups, 1)
    )
    approved = [r for r in rows if r["status"] == "approved"]
    latest = sorted(approved, key=lambda r: (str(r["created"]), int(r["id"])), reverse=True)
    first = min((str(r["created"]) for r in approved), default=None)
    views = tuple(maker.make(r, None, 0, 0, False) for r in latest[: max(0, feed_size)])
    return Thread(page_key, len(approved), first, parts, views)


def _visible_ids(children: dict[int | None, list[sqlite3.Row]]) -> set[int]:
    """Approved comments, and unapproved ones only if something below them is visible."""
    keep: set[int] = set()

    def walk(row: sqlite3.Row) -> bool:
        stack: list[tuple[sqlite3.Row, int]] = [(row, 0)]
        result: dict[int, bool] = {}
        while stack:
            current, state = stack.pop()
            cid = int(current["id"])
            kids = children.get(cid, [])
            if state == 0:
                stack.append((current, 1))
                stack.extend((k, 0) for k in kids)
                continue
            visible = current["status"] == "approved" or any(result[int(k["id"])] for k in kids)
            result[cid] = visible
            if visible:
                keep.add(cid)
        return result[int(row["id"])]

    for top in children.get(None, []):
        walk(top)
    return keep


def _flatten(
    group: Sequence[sqlite3.Row],
    children: dict[int | None, list[sqlite3.Row]],
    keep: set[int],
    maker: ViewMaker,
) -> list[CommentView]:
    """Pre-order walk without recursion; ``closes`` tells the template how far to unwind."""
    out: list[CommentView] = []
    stack: list[tuple[sqlite3.Row, int]] = [(r, 0) for r in reversed(group)]
    while stack:
        row, depth = stack.pop()
        kids = [k for k in children.get(int(row["id"]), []) if int(k["id"]) in keep]
        next_depth = stack[-1][1] if stack else 0
        closes = 0 if kids else depth - next_depth + 1
        parent = int(row["parent_id"]) if depth > 0 else None
        out.append(maker.make(row, parent, depth, closes, bool(kids)))
        stack.extend((k, depth + 1) for k in reversed(kids))
    return out
