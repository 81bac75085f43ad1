"""8 threads post over HTTP while moderators approve in parallel: nothing lost, nothing doubled.

Two moderators run at once, the way people do: the library (``afterword.store.moderate``, what
``afterword review`` calls) approving even ids, and the CLI as a subprocess
(``python -m afterword approve``) approving odd ids. Posters also reply to comments that were
approved meanwhile, which exercises the parent check inside the writer's batches. It runs
with one intake process and with two (``--workers 2``: two writers queueing on the lock file).
"""

from __future__ import annotations

import random
import subprocess
import sys
import threading
from collections.abc import Callable

import httpx
import pytest
from fixtures_intake import UNLIMITED, RunningIntake

from afterword.config import Config
from afterword.store import Store, moderate, open_store

POSTERS = 8
POSTS_EACH = 60
PAGES = ["/blog/a/", "/blog/b/", "/blog/c/"]


class Shared:
    """What the threads tell each other, under one lock."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.accepted: dict[int, tuple[str, str]] = {}  # id -> (page, body)
        self.failures: list[str] = []
        self.approved: set[int] = set()
        self.done = threading.Event()

    def approved_on(self, page: str) -> list[int]:
        with self.lock:
            return [i for i in self.approved if self.accepted.get(i, ("", ""))[0] == page]


def _poster(intake: RunningIntake, shared: Shared, number: int) -> None:
    chooser = random.Random(number)
    with httpx.Client(timeout=30) as client:
        for n in range(POSTS_EACH):
            page = chooser.choice(PAGES)
            parents = shared.approved_on(page)
            parent = chooser.choice(parents) if parents and n % 3 == 0 else None
            body = f"poster {number} comment {n} on {page}"
            payload = {"page": page, "author": f"P{number}", "body": body, "parent": parent}
            response = client.post(intake.api, json=payload)
            with shared.lock:
                if response.status_code != 202:
                    shared.failures.append(f"{response.status_code} {response.text}")
                    continue
                comment_id = response.json()["data"]["id"]
                if comment_id in shared.accepted:
                    shared.failures.append(f"id {comment_id} answered twice")
                shared.accepted[comment_id] = (page, body)


def _pending(store: Store, parity: int) -> list[int]:
    rows = store.query("SELECT id FROM comments WHERE status = 'pending' AND id % 2 = ?", (parity,))
    return [int(row[0]) for row in rows]


def _library_moderator(config: Config, shared: Shared) -> None:
    with open_store(config.database_path) as store:
        while not shared.done.is_set() or _pending(store, 0):
            ids = _pending(store, 0)[:25]
            if ids:
                moderate(store, ids, "approve", actor="library")
                with shared.lock:
                    shared.approved.update(ids)
            shared.done.wait(0.01)


def _cli_moderator(config: Config, shared: Shared) -> None:
    with open_store(config.database_path) as store:
        while not shared.done.is_set() or _pending(store, 1):
            ids = _pending(store, 1)
            if not ids:
                shared.done.wait(0.05)
                continue
            command = [sys.executable, "-m", "afterword", "--config", str(config.source)]
            result = subprocess.run(
                [*command, "approve", *map(str, ids)], capture_output=True, text=True
            )
            with shared.lock:
                if result.returncode != 0:
                    shared.failures.append(f"cli: {result.stderr.strip()}")
                    return
                shared.approved.update(ids)


@pytest.mark.slow
@pytest.mark.parametrize("workers", [1, 2])
def test_concurrent_posts_and_approvals_lose_nothing(
    start_intake: Callable[..., RunningIntake], store: Store, workers: int
) -> None:
    intake = start_intake(limits=UNLIMITED, workers=workers)
    shared = Shared()
    moderators = [
        threading.Thread(target=_library_moderator, args=(intake.config, shared)),
        threading.Thread(target=_cli_moderator, args=(intake.config, shared)),
    ]
    posters = [threading.Thread(target=_poster, args=(intake, shared, n)) for n in range(POSTERS)]
    for thread in [*moderators, *posters]:
        thread.start()
    for thread in posters:
        thread.join(90)
    shared.done.set()
    for thread in moderators:
        thread.join(90)

    assert shared.failures == []
    assert len(shared.accepted) == POSTERS * POSTS_EACH
    rows = {int(r["id"]): r for r in store.query("SELECT * FROM comments")}
    assert set(rows) == set(shared.accepted)
    assert all((rows[i]["page_key"], rows[i]["body"]) == shared.accepted[i] for i in rows)
    assert {i for i, r in rows.items() if r["status"] == "approved"} == shared.approved
    assert len(shared.approved) == POSTERS * POSTS_EACH
    replies = [r for r in rows.values() if r["parent_id"] is not None]
    assert replies
    assert all(rows[r["parent_id"]]["page_key"] == r["page_key"] for r in replies)
    log = store.scalar("SELECT count(*) FROM moderation_log WHERE action = 'approve'")
    assert log == len(shared.approved)
    assert store.scalar("SELECT sum(version) FROM pages") == len(shared.approved)
