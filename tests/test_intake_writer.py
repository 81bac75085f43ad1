"""Group commit: one batch, one transaction, yet each submission succeeds or fails alone."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import Callable
from typing import Any

import pytest
from fixtures_intake import UNLIMITED, configured

from afterword.config import Config
from afterword.errors import CommentNotStored, CommentRejected, StorageBusy
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
    with pytest.raises(CommentNotStored, match="not running") as caught:
        asyncio.run(writer.submit(_submission("late"), "<p>late</p>", "ip", ""))
    assert caught.value.cause is None


def test_writer_a_locked_database_fails_the_batch_as_not_stored(config: Config) -> None:
    """SQLite's "database is locked" reaches the requests mapped: not stored, because busy."""
    from fixtures_intake import configured

    writer = Writer(configured(config, database={"busy_timeout_ms": 100}))
    writer.start()
    blocker = sqlite3.connect(config.database_path, isolation_level=None)
    try:
        blocker.execute("BEGIN IMMEDIATE")
        before = time.monotonic()
        with pytest.raises(CommentNotStored, match="could not be stored") as caught:
            asyncio.run(writer.submit(_submission("locked"), "<p>locked</p>", "ip", ""))
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
        writer.stop()
    assert isinstance(caught.value.cause, StorageBusy)
    assert writer.failed_at >= before


def test_writer_stop_commits_what_is_queued(config: Config, store: Store) -> None:
    async def submit_many(writer: Writer) -> list[Stored]:
        pending = [
            asyncio.ensure_future(writer.submit(_submission(f"n{i}"), "<p>n</p>", "ip", ""))
            for i in range(20)
        ]
        await asyncio.sleep(0)
        await asyncio.to_thread(writer.stop)
        return list(await asyncio.gather(*pending))

    writer = Writer(configured(config, limits=UNLIMITED))  # twenty from one client
    writer.start()
    stored = asyncio.run(submit_many(writer))
    assert len({s.id for s in stored}) == 20
    assert store.scalar("SELECT count(*) FROM comments") == 20


async def _one_batch(
    writer: Writer, config: Config, jobs: list[tuple[Submission, str]]
) -> list[Stored | BaseException]:
    """Queue ``jobs`` while a lock holds the writer, so they are committed as one batch."""
    blocker = sqlite3.connect(config.database_path, isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")
    first = asyncio.ensure_future(writer.submit(_submission("opener"), "<p>o</p>", "ip0", ""))
    await asyncio.sleep(0)
    await asyncio.to_thread(_wait_until, lambda: writer.backlog == 0)
    rest = [writer.submit(sub, html, "ip", "https://blog.example.com/p/") for sub, html in jobs]
    gathered = asyncio.gather(first, *rest, return_exceptions=True)
    await asyncio.to_thread(_wait_until, lambda: writer.backlog == len(rest))
    blocker.execute("ROLLBACK")
    blocker.close()
    return list(await gathered)[1:]


def test_writer_batch_counts_approvals_made_earlier_in_the_batch(
    config: Config, store: Store
) -> None:
    from fixtures_intake import configured

    chosen = configured(config, moderation={"auto_approve_after": 1, "trusted": ["@vip.org"]})
    writer = Writer(chosen)
    writer.start()
    jobs = [
        (_submission("from the vip", email="Boss@VIP.org"), "<p>a</p>"),
        (_submission("stranger first", email="new@example.org"), "<p>b</p>"),
        (_submission("boss again", email="boss@vip.org"), "<p>c</p>"),
        (_submission("links", email="boss@vip.org"), '<a href="https://x">1</a>' * 4),
    ]
    try:
        outcomes = asyncio.run(_one_batch(writer, chosen, jobs))
    finally:
        writer.stop()
    assert [o.status for o in outcomes if isinstance(o, Stored)] == [
        "approved",
        "pending",
        "approved",
        "pending",
    ]
    assert store.scalar("SELECT version FROM pages WHERE key = '/p/'") == 2
    assert store.scalar("SELECT url FROM pages WHERE key = '/p/'") == "https://blog.example.com/p/"


def test_writer_batch_ids_follow_the_queue_order(config: Config, store: Store) -> None:
    writer = Writer(configured(config, limits=UNLIMITED))  # twelve from one client
    writer.start()
    jobs = [(_submission(f"n{i}"), f"<p>{i}</p>") for i in range(12)]
    try:
        outcomes = asyncio.run(_one_batch(writer, config, jobs))
    finally:
        writer.stop()
    ids = [o.id for o in outcomes if isinstance(o, Stored)]
    assert len(ids) == 12
    rows = store.query("SELECT id, body FROM comments WHERE body != 'opener' ORDER BY id")
    assert [(r[0], r[1]) for r in rows] == [(i, f"n{n}") for n, i in enumerate(ids)]


def test_writer_batch_refuses_a_person_repeating_a_honeypot_post(
    config: Config, store: Store
) -> None:
    writer = Writer(config)
    writer.start()
    jobs = [
        (_submission("same words", honeypot=True), "<p>same words</p>"),
        (_submission("same words"), "<p>same words</p>"),
    ]
    try:
        bot, person = asyncio.run(_one_batch(writer, config, jobs))
    finally:
        writer.stop()
    assert isinstance(bot, Stored)
    assert bot.status == "spam"
    assert isinstance(person, CommentRejected)
    assert person.code == "duplicate"


def test_writer_batch_refuses_only_the_closed_pages_rows(config: Config, store: Store) -> None:
    from afterword.store import add_comment, set_page_closed
    from afterword.store.models import NewComment

    add_comment(store, NewComment("/shut/", "A", "b", "b", renderer="test"))
    set_page_closed(store, "/shut/", True)
    writer = Writer(config)
    writer.start()
    shut = Submission(page_key="/shut/", author="Ada", body="closed?")
    jobs = [(shut, "<p>x</p>"), (_submission("open page"), "<p>y</p>")]
    try:
        refused, kept = asyncio.run(_one_batch(writer, config, jobs))
    finally:
        writer.stop()
    assert isinstance(refused, CommentRejected)
    assert refused.code == "closed"
    assert isinstance(kept, Stored)
