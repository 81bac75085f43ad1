"""The queries ``afterword pull`` adds to the intake's: idempotency and refusal reasons.

Each takes a whole batch in one statement (rows as a JSON array, as ``submissions`` does), and
runs inside the pull's write transaction, so what it reads cannot change before the commit.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Sequence

from afterword.store.models import utc_now

PULL_SOURCE = "intake"  # a pulled comment is an intake comment; its message id the external id


def stored_message_ids(conn: sqlite3.Connection, ids: Iterable[str]) -> set[str]:
    """The message ids among ``ids`` already stored (a redelivered message is skipped)."""
    wanted = sorted(set(ids))
    if not wanted:
        return set()
    rows = conn.execute(
        """SELECT external_id FROM comments
           WHERE source = ?1 AND external_id IN (SELECT value FROM json_each(?2))""",
        (PULL_SOURCE, json.dumps(wanted)),
    ).fetchall()
    return {str(row[0]) for row in rows}


def log_refusals(conn: sqlite3.Connection, refusals: Sequence[tuple[int, str, str]]) -> None:
    """One moderation-log row per (comment id, status, reason) stored refused by a pull."""
    if not refusals:
        return
    conn.execute(
        """INSERT INTO moderation_log (comment_id, action, from_status, to_status, actor, reason,
               at)
           SELECT json_extract(value, '$[0]'), 'pull', 'pending', json_extract(value, '$[1]'),
                  'afterword pull', json_extract(value, '$[2]'), ?2
           FROM json_each(?1)""",
        (json.dumps([list(r) for r in refusals]), utc_now()),
    )
