"""A client's recent accepted submissions, read where they are stored: the shared rate limit.

Several ``serve --workers`` processes, or several intake machines feeding one SQS queue, each
see only their own requests; the database sees them all. So the per-minute and per-hour limits
are decided inside the transaction that stores a batch (the writer's, or ``pull``'s), from the
comments table, with one statement per batch (the ``comments_client`` index).
"""

from __future__ import annotations

import json
import sqlite3
from collections import defaultdict
from collections.abc import Iterable


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
