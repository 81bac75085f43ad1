"""The queries ``afterword pull`` adds to the intake's: idempotency, shared limits, reasons.

Each takes a whole batch in one statement (rows as a JSON array, as ``submissions`` does), and
runs inside the pull's write transaction, so what it reads cannot change before the commit.
"""

from __future__ import annotations

import json
import sqlite3
from collections import defaultdict
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


def accepted_times(
    conn: sqlite3.Connection, ip_hashes: Iterable[str], since: str
) -> dict[str, list[str]]:
    """Creation times (sorted) of accepted — pending or approved — comments per client
    network hash since ``since``: what the rate limits count, whichever intake took them."""
    wanted = sorted(set(ip_hashes))
    times: dict[str, list[str]] = defaultdict(list)
    if not wanted:
        return times
    rows = conn.execute(
        """SELECT ip_hash, created FROM comments
           WHERE ip_hash IN (SELECT value FROM json_each(?1)) AND created >= ?2
             AND status IN ('pending', 'approved')
           ORDER BY created""",
        (json.dumps(wanted), since),
    ).fetchall()
    for ip_hash, created in rows:
        times[str(ip_hash)].append(str(created))
    return times


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
