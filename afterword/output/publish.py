"""``publish_changes``: make one target hold exactly the build manifest, then invalidate.

Order matters for crash safety. (1) The paths to invalidate are recorded before any upload,
so a publisher killed mid-way still owes them to the CDN. (2) Uploads and deletes run in a
thread pool; only the main thread writes to the store, recording confirmed successes in small
groups (every ``COMMIT_SECONDS``), so a crash costs at most a few re-uploads, never a skip.
(3) Once every object landed, the owed invalidations are submitted, and ones still in
progress are checked again by later runs until they complete. With nothing to upload and
nothing owed, no request is made at all.

Before any of that, under the publish lock (``output.lock``), the target sweeps what a killed
publish may have left where this one is about to write (a local folder's temporary files,
``LocalTarget.sweep``), so a leftover is never served or copied on by a site generator.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import asdict, dataclass
from typing import Any

from afterword.config import Config, TargetConfig
from afterword.errors import PublishError
from afterword.output import open_target, target_config
from afterword.output.base import Cdn, Target, Upload, cache_control, with_charset
from afterword.output.cdn import open_cdn
from afterword.output.invalidate import flush_invalidations, owe_invalidations
from afterword.output.lock import publish_lock
from afterword.output.plan import Plan, make_plan
from afterword.store import Store
from afterword.store.build import ObjectRow
from afterword.store.publish import mark_synced, read_changes, record_deleted, record_uploaded

Progress = Callable[[int, int], None]
COMMIT_SECONDS = 0.25
COMMIT_ROWS = 500


@dataclass(frozen=True)
class PublishReport:
    """What one publish did to one target (or, with ``dry_run``, would do)."""

    target: str
    uploaded: int
    deleted: int
    bytes_uploaded: int
    invalidated: tuple[str, ...]
    invalidations_open: int
    requests: int
    seconds: float
    dry_run: bool = False
    planned_uploads: tuple[str, ...] = ()
    planned_deletions: tuple[str, ...] = ()
    swept: int = 0  # leftovers of killed publishes removed from the target

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        for name in ("invalidated", "planned_uploads", "planned_deletions"):
            data[name] = list(data[name])
        return data


def publish_changes(
    config: Config,
    store: Store,
    target_name: str,
    *,
    dry_run: bool = False,
    full: bool = False,
    on_progress: Progress | None = None,
) -> PublishReport:
    """Upload what changed to ``target_name``, delete what vanished, invalidate the CDN.

    ``full`` uploads every object again, for a target that was emptied or edited by hand
    (the ``published`` table cannot know about that).
    """
    settings = target_config(config, target_name)
    target = open_target(target_name, settings)
    cdn = open_cdn(target_name, settings)
    started = time.monotonic()
    try:
        changes = read_changes(store, target_name, full=full)
        plan = make_plan(changes.uploads, changes.deletions)
        if dry_run:
            return _report(target_name, plan, started, dry_run=True)
        keys = [entry.key for entry in plan.uploads] + list(plan.deletions)
        swept: list[int] = []

        def sweep(alone: bool) -> None:
            swept.append(target.sweep(keys, everywhere=full, alone=alone))

        with publish_lock(config.database_path, sweep):
            if cdn is not None:
                wildcard_over = settings.invalidation_wildcard_over
                owe_invalidations(store, target_name, cdn, plan, wildcard_over)
            transfer = Transfer(config, store, settings, target, cdn is not None)
            transfer.run(plan, on_progress)
            if not full:  # a full publish deletes nothing, so it cannot vouch for deletions
                mark_synced(store, target_name, changes.clock)
            outcome = flush_invalidations(store, target_name, cdn)
    finally:
        target.close()
    return PublishReport(
        target=target_name,
        uploaded=len(plan.uploads),
        deleted=len(plan.deletions),
        bytes_uploaded=plan.upload_bytes,
        invalidated=outcome.submitted_paths,
        invalidations_open=outcome.still_open,
        requests=len(plan.uploads) + len(plan.deletions) + outcome.requests,
        seconds=round(time.monotonic() - started, 3),
        swept=sum(swept),
    )


class Transfer:
    """The parallel part: workers put and delete, the main thread records."""

    def __init__(
        self, config: Config, store: Store, settings: TargetConfig, target: Target, cdn: bool
    ) -> None:
        self.output_dir = config.output_dir
        self.store = store
        self.target = target
        self.invalidated = cdn
        self.shared_max_age = settings.shared_max_age
        self.stop = threading.Event()
        self.done: list[tuple[str, str | None]] = []
        self.landed = 0
        self.last_commit = time.monotonic()

    def run(self, plan: Plan, on_progress: Progress | None) -> None:
        if plan.empty:
            return
        total = len(plan.uploads) + len(plan.deletions)
        pool = ThreadPoolExecutor(self.target.max_workers, thread_name_prefix="afterword-put")
        futures: dict[Future[None], tuple[str, str | None]] = {}
        for entry in plan.uploads:
            futures[pool.submit(self._put, entry)] = (entry.key, entry.sha256)
        for key in plan.deletions:
            futures[pool.submit(self._delete, key)] = (key, None)
        try:
            errors = self._collect(futures, total, on_progress)
        finally:
            self.stop.set()
            pool.shutdown(wait=True, cancel_futures=True)
            self._commit()
        if errors:
            raise PublishError(
                f"{errors[0]} ({self.landed} of {total} changes landed and are recorded; "
                "the next publish does the rest)"
            )

    def _collect(
        self,
        futures: dict[Future[None], tuple[str, str | None]],
        total: int,
        progress: Progress | None,
    ) -> list[PublishError]:
        errors: list[PublishError] = []
        pending = set(futures)
        finished = 0
        while pending:
            ready, pending = wait(pending, timeout=COMMIT_SECONDS, return_when=FIRST_COMPLETED)
            for future in ready:
                finished += 1
                error = future.exception() if not future.cancelled() else None
                if isinstance(error, PublishError):
                    errors.append(error)
                    self.stop.set()
                elif error is not None:
                    raise error
                elif not future.cancelled():
                    self.done.append(futures[future])
                    self.landed += 1
            if progress is not None:
                progress(finished, total)
            self._commit_if_due()
        return errors

    def _put(self, entry: ObjectRow) -> None:
        if self.stop.is_set():
            raise PublishError("stopped after an earlier failure")
        path = self.output_dir.joinpath(*entry.key.split("/"))
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise PublishError(
                f"{path}: cannot read built output ({exc.strerror}): run `afterword build --full`"
            ) from None
        if hashlib.sha256(data).hexdigest() != entry.sha256:
            raise PublishError(
                f"{path} changed since the build recorded it: run `afterword build` again"
            )
        content_type = with_charset(entry.content_type)
        cache = cache_control(
            entry.cache_class, invalidated=self.invalidated, shared_max_age=self.shared_max_age
        )
        upload = Upload(entry.key, path, entry.sha256, len(data), content_type, cache)
        self.target.put(upload, data)

    def _delete(self, key: str) -> None:
        if self.stop.is_set():
            raise PublishError("stopped after an earlier failure")
        self.target.delete(key)

    def _commit_if_due(self) -> None:
        if len(self.done) >= COMMIT_ROWS or time.monotonic() - self.last_commit >= COMMIT_SECONDS:
            self._commit()

    def _commit(self) -> None:
        """Record confirmed puts and deletes in one short write transaction."""
        self.last_commit = time.monotonic()
        if not self.done:
            return
        name = self.target.name
        with self.store.write() as conn:
            for key, sha256 in self.done:
                if sha256 is None:
                    record_deleted(conn, name, key)
                else:
                    record_uploaded(conn, name, key, sha256)
        self.done.clear()


def _report(name: str, plan: Plan, started: float, *, dry_run: bool) -> PublishReport:
    return PublishReport(
        target=name,
        uploaded=0,
        deleted=0,
        bytes_uploaded=0,
        invalidated=(),
        invalidations_open=0,
        requests=0,
        seconds=round(time.monotonic() - started, 3),
        dry_run=dry_run,
        planned_uploads=tuple(entry.key for entry in plan.uploads),
        planned_deletions=plan.deletions,
    )


__all__ = ["Cdn", "PublishReport", "publish_changes"]
