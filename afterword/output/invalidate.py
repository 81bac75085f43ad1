"""CDN invalidations as owed work: recorded first, submitted after the uploads, then checked.

States: ``pending`` (owed, not sent: the uploads it covers may not have landed yet),
``submitted`` (the CDN accepted it; its reference is kept), ``completed``. A run submits what
is pending and asks about what is submitted; a run with neither asks nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

from afterword.output.base import Cdn
from afterword.output.plan import Plan, batch_paths
from afterword.store import Store
from afterword.store.publish import add_invalidations, mark_invalidation, open_invalidations


@dataclass(frozen=True)
class Outcome:
    """What flushing did: the paths sent now, how many are still open, requests made."""

    submitted_paths: tuple[str, ...] = ()
    still_open: int = 0
    requests: int = 0


def owe_invalidations(store: Store, target: str, cdn: Cdn, plan: Plan, wildcard_over: int) -> None:
    """Record the plan's changed paths as pending, before any upload starts.

    Paths an earlier, interrupted run already owes are not owed twice.
    """
    if not plan.changed_keys:
        return
    owed = {p for i in open_invalidations(store, target) if i.state == "pending" for p in i.paths}
    if cdn.wildcard() in owed:
        return
    paths = [p for p in cdn.url_paths(list(plan.changed_keys)) if p not in owed]
    if not paths:
        return
    batches = batch_paths(paths, wildcard=cdn.wildcard(), wildcard_over=wildcard_over)
    with store.write() as conn:
        add_invalidations(conn, target, batches)


def flush_invalidations(store: Store, target: str, cdn: Cdn | None) -> Outcome:
    """Submit pending invalidations, check submitted ones; without a CDN, retire them."""
    owed = open_invalidations(store, target)
    if not owed:
        return Outcome()
    if cdn is None:
        with store.write() as conn:
            for invalidation in owed:
                mark_invalidation(conn, invalidation.id, "completed", "no CDN configured")
        return Outcome()
    sent: list[str] = []
    requests = 0
    still_open = 0
    for invalidation in owed:
        requests += 1
        if invalidation.state == "pending":
            reference, done = cdn.submit(list(invalidation.paths))
            sent.extend(invalidation.paths)
        else:
            reference, done = invalidation.reference, cdn.is_complete(invalidation.reference)
        with store.write() as conn:
            mark_invalidation(
                conn, invalidation.id, "completed" if done else "submitted", reference
            )
        still_open += 0 if done else 1
    return Outcome(tuple(sent), still_open, requests)
