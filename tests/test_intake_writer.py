"""Group commit: one batch, one transaction, yet each submission succeeds or fails alone."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import Callable
from typing import Any

import pytest

from afterword.config import Config
from afterword.errors import CommentRejected, StorageError
from afterword.intake.validate import Submission
from afterword.intake.writer import Stored, Writer
from afterword.store import Store


def _submission(body: str, **fields: Any) -> Submission:
    return Submission(page_key="/p/", author="Ada", body=body, **fields)


def _wait_until(condition: Callable[[], bool], timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.005)


async def _batch_behind_a_lock(writer: Writer, config: Config) -> list[Stored | BaseException]:
    """The first job makes the writer wait for a lock we hold; the rest queue up as one batch."""
    blocker = sqlite3.connect(config.database_path, isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")
    first = asyncio.ensure_future(writer.submit(_submission("first"), "<p>first</p>", "ip", ""))
    await asyncio.sleep(0)
    await asyncio.to_thread(_wait_until, lambda: writer.backlog == 0)
    rest = [
        writer.submit(_submission("good one"), "<p>good one</p>", "ip", ""),
        writer.submit(_submission("orphan", parent_id=424242), "<p>orphan</p>", "ip", ""),
        writer.submit(_submission("twice"), "<p>twice</p>", "ip", ""),
        writer.submit(_submission("twice"), "<p>twice</p>", "ip", ""),
        writer.submit(_submission("bot", honeypot=True), "<p>bot</p>", "ip", ""),
    ]
    gathered = asyncio.gather(first, *rest, return_exceptions=True)
    await asyncio.to_thread(_wait_until, lambda: writer.backlog == len(rest))
    blocker.execute("ROLLBACK")
    blocker.close()
    return list(await gathered)


def test_writer_batch_isolates_each_submission(config: Config, store: Store) -> None:
    sizes: list[int] = []
    writer = Writer(config, on_batch=sizes.append)
    writer.start()
    try:
        outcomes = asyncio.run(_batch_behind_a_lock(writer, config))
    finally:
        writer.stop()
    assert sizes == [1, 5]
    first, good, orphan, twice, again, bot = outcomes
    assert isinstance(first, Stored)
    assert isinstance(good, Stored)
    assert isinstance(orphan, CommentRejected)
    assert orphan.fields == {"parent": "is not a published comment on this page"}
    assert isinstance(twice, Stored)
    assert isinstance(again, CommentRejected)
    assert again.code == "duplicate"
    assert isinstance(bot, Stored)
    assert bot.status == "spam"
    rows = store.query("SELECT body, status FROM comments ORDER BY id")
    assert [tuple(r) for r in rows] == [
        ("first", "pending"),
        ("good one", "pending"),
        ("twice", "pending"),
        ("bot", "spam"),
    ]


def test_writer_refuses_work_once_stopped(config: Config) -> None:
    writer = Writer(config)
    writer.start()
    writer.stop()
    writer.stop()
    assert not writer.alive
    with pytest.raises(StorageError, match="not running"):
        asyncio.run(writer.submit(_submission("late"), "<p>late</p>", "ip", ""))


def test_writer_stop_commits_what_is_queued(config: Config, store: Store) -> None:
    async def submit_many(writer: Writer) -> list[Stored]:
        pending = [
            asyncio.ensure_future(writer.submit(_submission(f"n{i}"), "<p>n</p>", "ip", ""))
            for i in range(20)
        ]
        await asyncio.sleep(0)
        await asyncio.to_thread(writer.stop)
        return list(await asyncio.gather(*pending))

    writer = Writer(config)
    writer.start()
    stored = asyncio.run(submit_many(writer))
    assert len({s.id for s in stored}) == 20
    assert store.scalar("SELECT count(*) FROM comments") == 20
