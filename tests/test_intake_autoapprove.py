"""``auto_approve_after`` through the real intake: earlier approved comments are counted by
normalized address, for a whole batch in one indexed lookup."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import Callable

from fixtures_intake import UNLIMITED, RunningIntake, configured

from afterword.config import Config
from afterword.intake.validate import Submission
from afterword.intake.writer import Stored, Writer
from afterword.store import NewComment, Store, add_comment


def approved_from(store: Store, *emails: str) -> None:
    for n, email in enumerate(emails):
        add_comment(
            store,
            NewComment(page_key="/old/", author="A", body=f"b{n}", body_html=f"<p>b{n}</p>",
                       renderer="t", email=email, status="approved"),
        )  # fmt: skip


def test_http_post_counts_earlier_approvals_whatever_their_case(
    start_intake: Callable[..., RunningIntake], store: Store
) -> None:
    approved_from(store, "ADA@Example.org", " ada@example.ORG ", "bob@example.org")
    add_comment(
        store,
        NewComment(page_key="/old/", author="A", body="p", body_html="<p>p</p>", renderer="t",
                   email="bob@example.org", status="pending"),
    )  # fmt: skip
    intake = start_intake(limits=UNLIMITED, moderation={"auto_approve_after": 2})
    assert intake.post(body="one", email="ada@example.org").json()["data"]["status"] == "approved"
    assert intake.post(body="two", email="Bob@Example.org").json()["data"]["status"] == "pending"
    assert intake.post(body="three", email="").json()["data"]["status"] == "pending"


def _wait_until(condition: Callable[[], bool], timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.005)


def test_writer_one_batch_mixes_earlier_and_in_batch_approvals(
    config: Config, store: Store
) -> None:
    """Queued behind a lock, six submissions are decided together against one lookup: two
    earlier approvals (any case) reach the threshold, one does not, the honeypot stays spam."""
    approved_from(store, "ann@example.org", "ANN@example.org", "cy@example.org")
    chosen = configured(config, moderation={"auto_approve_after": 2})
    sizes: list[int] = []
    writer = Writer(chosen, on_batch=sizes.append)
    jobs = [
        Submission(page_key="/p/", author="A", body=b, email=e, honeypot=b == "bot")
        for b, e in [
            ("a1", "Ann@Example.org"),  # 2 earlier -> approved
            ("c1", "cy@example.org"),  # 1 earlier -> pending
            ("d1", "dee@example.org"),  # none -> pending
            ("a2", "ann@example.org"),  # approved
            ("bot", "ann@example.org"),  # honeypot -> spam, whatever the address
            ("c2", "CY@example.org"),  # still 1 approved -> pending
        ]
    ]

    async def one_batch() -> list[Stored | BaseException]:
        blocker = sqlite3.connect(chosen.database_path, isolation_level=None)
        blocker.execute("BEGIN IMMEDIATE")
        opener = Submission(page_key="/p/", author="A", body="opener")
        first = asyncio.ensure_future(writer.submit(opener, "<p>o</p>", "ip0", ""))
        await asyncio.sleep(0)
        await asyncio.to_thread(_wait_until, lambda: writer.backlog == 0)
        rest = [writer.submit(s, f"<p>{s.body}</p>", "ip", "") for s in jobs]
        gathered = asyncio.gather(first, *rest, return_exceptions=True)
        await asyncio.to_thread(_wait_until, lambda: writer.backlog == len(rest))
        blocker.execute("ROLLBACK")
        blocker.close()
        return list(await gathered)[1:]

    writer.start()
    try:
        outcomes = asyncio.run(one_batch())
    finally:
        writer.stop()
    assert sizes == [1, 6]
    assert [o.status for o in outcomes if isinstance(o, Stored)] == [
        "approved", "pending", "pending", "approved", "spam", "pending",
    ]  # fmt: skip
