"""Rendering pages: in this process, or for a big full build in a pool of worker processes.

Pages are independent, so a full build of a large site spreads them over the machine's
cores: a worker renders a page and writes its files (write-if-changed, as always) and sends
back only the manifest rows. The parent keeps everything that has an order or touches the
database — the manifest, versions, counts, progress — so the output is byte-identical
whichever way it was rendered. Incremental builds touch a handful of pages and
never pay for starting workers.
"""

from __future__ import annotations

import multiprocessing
import os
from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from datetime import datetime
from typing import NamedTuple

from afterword.builder.page import PageRenderer
from afterword.builder.thread import assemble_thread
from afterword.builder.write import FileWriter, Written
from afterword.config import Config
from afterword.errors import BuildError
from afterword.store import Page, Store, open_store
from afterword.store.build import thread_rows

PARALLEL_MIN_PAGES = 2000  # below this, starting workers costs more than it saves
MAX_WORKERS = 4
CHUNK = 50  # pages per task: big enough to amortize pickling, small enough to balance


class Rendered(NamedTuple):
    """One page's files and what the parent needs to know about them."""

    page: Page
    written: list[Written]
    comment_count: int
    parts: int


def render_page(
    config: Config, store: Store, page: Page, renderer: PageRenderer, files: FileWriter
) -> Rendered:
    """Render one page and write its files (only bytes that changed)."""
    rows = thread_rows(store, page.key)
    thread = assemble_thread(
        page.key, rows, config.build.page_size, config.build.feed_size, renderer.avatar
    )
    written = [files.write(out) for out in renderer.page_outputs(page, thread)]
    return Rendered(page, written, thread.count, len(thread.parts))


def worker_count(pages: int, *, full: bool) -> int:
    if not full or pages < PARALLEL_MIN_PAGES:
        return 1
    return max(1, min(os.cpu_count() or 1, MAX_WORKERS))


def render_batches(
    config: Config,
    store: Store,
    renderer: PageRenderer,
    files: FileWriter,
    batches: Iterable[list[Page]],
    *,
    workers: int,
    secret: bytes,
    now: datetime,
) -> Iterator[list[Rendered]]:
    """Rendered batches, in the order given; with workers, one batch is rendered ahead."""
    if workers <= 1:
        for batch in batches:
            yield [render_page(config, store, page, renderer, files) for page in batch]
        return
    context = multiprocessing.get_context("spawn")  # never fork a process holding SQLite
    with ProcessPoolExecutor(
        workers, mp_context=context, initializer=_start_worker, initargs=(config, secret, now)
    ) as pool:
        pending: deque[list[Future[list[Rendered]]]] = deque()
        for batch in batches:
            chunks = [batch[i : i + CHUNK] for i in range(0, len(batch), CHUNK)]
            pending.append([pool.submit(_render_chunk, chunk) for chunk in chunks])
            if len(pending) > 1:
                yield _collect(pending.popleft())
        while pending:
            yield _collect(pending.popleft())


def _collect(futures: list[Future[list[Rendered]]]) -> list[Rendered]:
    try:
        return [rendered for future in futures for rendered in future.result()]
    except BrokenProcessPool as exc:
        raise BuildError(f"a render worker died: {exc}") from None


_WORKER: dict[str, object] = {}


def _start_worker(config: Config, secret: bytes, now: datetime) -> None:
    """Each worker opens its own connection and compiles the templates once."""
    _WORKER["config"] = config
    _WORKER["store"] = open_store(
        config.database_path, busy_timeout_ms=config.database.busy_timeout_ms, migrate=False
    )
    _WORKER["renderer"] = PageRenderer(config, secret, now)
    _WORKER["files"] = FileWriter(config.output_dir)


def _render_chunk(pages: list[Page]) -> list[Rendered]:
    config = _WORKER["config"]
    store = _WORKER["store"]
    renderer = _WORKER["renderer"]
    files = _WORKER["files"]
    assert isinstance(config, Config)
    assert isinstance(store, Store)
    assert isinstance(renderer, PageRenderer)
    assert isinstance(files, FileWriter)
    return [render_page(config, store, page, renderer, files) for page in pages]
