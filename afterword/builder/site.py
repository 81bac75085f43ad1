"""``build_site``: render what changed into the output folder and keep the manifest exact.

The order matters. Each batch of pages is rendered and written first, then its manifest rows
and the versions it *read* are recorded in one transaction; a comment approved meanwhile has
bumped the version past what was read, so its page stays dirty for the next build. Site-wide
files (counts, the site feed) come after the pages they summarize, and the fingerprint is
stored last: a build that dies half-way is simply finished by the next one.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from itertools import chain
from pathlib import Path
from typing import Any

from afterword.builder.counts import CountUpdater
from afterword.builder.dirty import Plan, plan_build
from afterword.builder.feeds import site_feed
from afterword.builder.page import PageRenderer, part_keys
from afterword.builder.pool import Rendered, render_batches, worker_count
from afterword.builder.write import Output, OutputWriter, build_lock, ensure_output_dir
from afterword.config import Config
from afterword.store import Page, Store, get_page, site_secret
from afterword.store.build import (
    count_pages_to_build,
    finish_build,
    forget_fingerprint,
    get_object,
    iter_unproduced,
    page_batches,
    recent_comments,
    start_produced,
)
from afterword.widget import widget_assets

Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class BuildReport:
    """What a build did; ``changed_keys`` are output keys written or removed."""

    pages_rendered: int
    files_written: int
    files_deleted: int
    bytes_written: int
    seconds: float
    changed_keys: tuple[str, ...]
    full: bool = False
    reason: str = ""

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["changed_keys"] = list(self.changed_keys)
        data["seconds"] = round(self.seconds, 3)
        return data


def build_site(
    config: Config,
    store: Store,
    *,
    full: bool = False,
    on_progress: Progress | None = None,
    now: datetime | None = None,
) -> BuildReport:
    """Render dirty pages (or all, when full or the fingerprint changed) into the output."""
    with build_lock(store.path):
        return _build(config, store, full=full, on_progress=on_progress, now=now)


def _build(
    config: Config,
    store: Store,
    *,
    full: bool,
    on_progress: Progress | None,
    now: datetime | None,
) -> BuildReport:
    started = time.perf_counter()
    output = Path(config.output_dir)
    ensure_output_dir(output)
    moment = now or datetime.now(UTC)
    secret = site_secret(store)
    renderer = PageRenderer(config, secret, moment)
    plan = plan_build(config, store, full=full, close_before=renderer.close_before)
    total = count_pages_to_build(store, full=plan.full) + len(plan.closing)
    if plan.full or total:
        # Pages are marked built batch by batch, before counts and feeds are written: if this
        # build dies in between, the missing fingerprint makes the next build a full one.
        forget_fingerprint(store)
    if plan.full:
        start_produced(store)
    writer = OutputWriter(output, store, full=plan.full)
    counts = CountUpdater()
    rendered = _render_pages(
        config, store, plan, renderer, writer, counts, on_progress, total, secret=secret, now=moment
    )
    if plan.full or rendered:
        writer.put(site_feed(renderer.feeds, recent_comments(store, config.build.feed_size)))
    if plan.full:
        writer.put(renderer.empty_output())
        for asset in widget_assets():
            writer.put(Output(asset.key, asset.data, asset.content_type, asset.cache_class))
    counts.write(writer, store, full=plan.full)
    writer.flush()
    if plan.full:
        for key in iter_unproduced(store):
            writer.remove(key)
        writer.flush()
    finish_build(store, fingerprint=plan.fingerprint, closed_through=renderer.close_before)
    return BuildReport(
        pages_rendered=rendered,
        files_written=writer.files_written,
        files_deleted=writer.files_deleted,
        bytes_written=writer.bytes_written,
        seconds=time.perf_counter() - started,
        changed_keys=tuple(sorted(set(writer.changed))),
        full=plan.full,
        reason=plan.reason,
    )


def _render_pages(
    config: Config,
    store: Store,
    plan: Plan,
    renderer: PageRenderer,
    writer: OutputWriter,
    counts: CountUpdater,
    on_progress: Progress | None,
    total: int,
    *,
    secret: bytes,
    now: datetime,
) -> int:
    batches = chain(page_batches(store, full=plan.full), _closing_pages(store, plan))
    workers = worker_count(total, full=plan.full)
    rendered = 0
    for batch in render_batches(
        config, store, renderer, writer.files, batches, workers=workers, secret=secret, now=now
    ):
        for result in batch:
            _record_page(store, result, writer, counts)
            rendered += 1
            if on_progress is not None:
                on_progress(rendered, max(total, rendered))
        writer.flush([(r.page.key, r.page.version) for r in batch])
    return rendered


def _closing_pages(store: Store, plan: Plan) -> Iterator[list[Page]]:
    """Threads that closed since the last build; read after the dirty ones were built."""
    pages = (get_page(store, key) for key in plan.closing)
    found = [p for p in pages if p is not None and p.version > 0]
    if found:
        yield found


def _record_page(
    store: Store, result: Rendered, writer: OutputWriter, counts: CountUpdater
) -> None:
    for written in result.written:
        writer.record(written)
    counts.note(result.page.key, result.comment_count)
    if not writer.full:
        _remove_vanished_parts(store, writer, result.page.key, result.parts)


def _remove_vanished_parts(store: Store, writer: OutputWriter, page_key: str, parts: int) -> None:
    """Parts past the new last one existed before: probe the manifest for them, by key."""
    number = parts + 1
    while True:
        keys = part_keys(page_key, [number])
        present = [k for k in keys if get_object(store, k) is not None]
        if not present:
            return
        for key in present:
            writer.remove(key)
        number += 1
