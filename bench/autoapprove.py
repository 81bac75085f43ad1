"""Intake throughput with ``auto_approve_after = 3``: an empty database against a big one.

    python bench/autoapprove.py                         # 300,000 comments, 3 × 10 s each
    python bench/autoapprove.py --comments 50000 --duration 5 --repeat 3

Two site folders are made: one with an empty database, one seeded (bulk SQL in a single
transaction, ``synchronous = OFF``; bench code only) with ``--comments`` approved comments
from ``--comments / 10`` addresses on 3,000 pages. The addresses wrk posts as
(``Reader<N>@Example.org``, N < 500) are among the seeded ones (in lower case), each with
two approved comments: every lookup in the big database *finds* rows, yet stays below the
threshold, so both sides store the same rows (pending) and differ only in what the
database already holds.

A third site, the control, is a copy of the big database with ``auto_approve_after = 0``
(no lookup at all): the gap between it and the big one is what the lookup costs, the gap
between it and the empty one is what a bigger database costs every insert (six indexes of
300,000 entries instead of none, more pages per commit) whatever the rule does.

For each repetition the three are loaded one after the other (rotating which goes first) by
Debian's ``wrk`` (2 threads, 32 connections) against the intake in this process
(``BackgroundServer``), rate limits off; the median of each and the ratios are printed. A
202 is sent only after its batch committed, and the rows are counted against the 202s.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import re
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # this tree's afterword

from afterword.config import Config, load_config
from afterword.intake.server import BackgroundServer
from afterword.scaffold import write_config
from afterword.store import open_store

POSTERS = 500

LUA = r"""
local threads = {}
function setup(thread)
  thread:set("id", #threads + 1)
  table.insert(threads, thread)
end
function init(args)
  run = args[1]
  counter = 0
  accepted = 0
  other = 0
end
function request()
  counter = counter + 1
  local body = string.format(
    '{"page":"/bench/post-%d/","author":"Bench %d","email":"Reader%d@Example.org",' ..
    '"body":"Comment %d from thread %d of run %s: *markdown* and `code`, more words."}',
    counter % 100, id, counter % POSTERS, counter, id, run)
  return wrk.format("POST", "/api/comments", {["Content-Type"] = "application/json"}, body)
end
function response(status, headers, body)
  if status == 202 then accepted = accepted + 1 else other = other + 1 end
end
function done(summary, latency, requests)
  local a, o = 0, 0
  for _, t in ipairs(threads) do
    a = a + t:get("accepted")
    o = o + t:get("other")
  end
  io.write(string.format("RESULT accepted=%d other=%d duration_us=%d p99_us=%d\n",
    a, o, summary.duration, latency:percentile(99)))
end
""".replace("POSTERS", str(POSTERS))

RESULT = re.compile(r"RESULT accepted=(\d+) other=(\d+) duration_us=(\d+) p99_us=(\d+)")


@dataclasses.dataclass(frozen=True)
class Run:
    accepted_per_s: float
    p99_ms: float
    ok: bool


def make_site(folder: Path, comments: int, after: int = 3, copy_of: Config | None = None) -> Config:
    folder.mkdir(parents=True)
    write_config(folder, site_url="https://blog.example.com")
    config = load_config(folder / "afterword.toml", environ={})
    config = dataclasses.replace(
        config,
        limits=dataclasses.replace(config.limits, per_minute=0, per_hour=0),
        moderation=dataclasses.replace(config.moderation, auto_approve_after=after),
    )
    if copy_of is not None:
        shutil.copyfile(copy_of.database_path, config.database_path)
        return config
    store = open_store(config.database_path)
    if comments:
        seed(store.conn, comments)
    store.close()
    return config


def seed(conn: sqlite3.Connection, comments: int) -> None:
    """``comments`` approved comments on 3,000 pages, one transaction: two for each address
    wrk posts as, the rest ten per other address."""
    conn.execute("PRAGMA synchronous = OFF")
    conn.execute("BEGIN")
    conn.executemany(
        "INSERT INTO pages (key, url, title, version, built_version, created) "
        "VALUES (?, '', '', 1, 1, '2026-01-01T00:00:00.000000Z')",
        [(f"/seed/{p}/",) for p in range(3000)],
    )
    others = max(1, comments // 10)
    rows = (
        (f"/seed/{n % 3000}/", email, stamp, stamp, f"h{n}")
        for n in range(comments)
        for email in [
            f"reader{n % POSTERS}@example.org" if n < 2 * POSTERS else f"other{n % others}@x.org"
        ]
        for stamp in [f"2026-01-01T00:00:{n % 60:02d}.{n % 1_000_000:06d}Z"]
    )
    conn.executemany(
        "INSERT INTO comments (page_key, status, author, email, body, body_html, renderer, "
        "created, updated, ip_hash, body_hash) "
        "VALUES (?, 'approved', 'Seed', ?, 'seeded', '<p>seeded</p>', 'seed', ?, ?, '', ?)",
        rows,
    )
    conn.execute("COMMIT")
    conn.execute("PRAGMA synchronous = FULL")


def load(config: Config, script: Path, args: argparse.Namespace, tag: str) -> Run:
    """One wrk run; ``tag`` makes its bodies unlike earlier runs' (no 409 duplicates)."""
    before = _rows(config.database_path)
    with BackgroundServer(config) as server:
        command = [
            "wrk", f"-t{args.threads}", f"-c{args.connections}", f"-d{args.duration}s",
            "--timeout", "5s", "-s", str(script), server.url, "--", tag,
        ]  # fmt: skip
        output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    match = RESULT.search(output)
    if match is None:
        raise SystemExit(f"could not read wrk's result:\n{output}")
    accepted, other, duration_us, p99_us = (int(g) for g in match.groups())
    stored = _rows(config.database_path) - before
    ok = other == 0 and 0 <= stored - accepted <= args.connections
    return Run(accepted / (duration_us / 1e6), p99_us / 1000, ok)


def _rows(path: Path) -> int:
    with sqlite3.connect(path) as conn:
        return int(conn.execute("SELECT count(*) FROM comments").fetchone()[0])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--comments", type=int, default=300_000)
    parser.add_argument("--duration", type=int, default=10, help="seconds per run")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each database")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        print("wrk is not installed (Debian: apt-get install wrk)", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="afterword-bench-") as tmp:
        base = Path(tmp)
        script = base / "post.lua"
        script.write_text(LUA, encoding="utf-8")
        sites = {"empty": make_site(base / "empty", 0)}
        sites["big"] = make_site(base / "big", args.comments)
        sites["control"] = make_site(base / "control", 0, after=0, copy_of=sites["big"])
        print(f"# auto-approve bench — {os.cpu_count()} CPU(s), machine shared with other work")
        print(
            f"# auto_approve_after = 3 (control: 0); big database and control: "
            f"{args.comments:,} approved comments; "
            f"wrk -t{args.threads} -c{args.connections} -d{args.duration}s, "
            f"{args.repeat} runs each, alternating",
            flush=True,
        )
        runs: dict[str, list[Run]] = {name: [] for name in sites}
        names = list(sites)
        for n in range(args.repeat):
            order = names[n % 3 :] + names[: n % 3]
            for name in order:
                run = load(sites[name], script, args, f"{n}")
                runs[name].append(run)
                print(
                    f"run {n + 1} {name:<7}: {run.accepted_per_s:8,.0f} accepted/s, "
                    f"p99 {run.p99_ms:6.1f} ms, check {'ok' if run.ok else 'MISMATCH'}",
                    flush=True,
                )
    medians = {k: statistics.median(r.accepted_per_s for r in v) for k, v in runs.items()}
    p99 = {k: statistics.median(r.p99_ms for r in v) for k, v in runs.items()}
    for name in names:
        print(f"median {name:<7}: {medians[name]:8,.0f} accepted/s, p99 {p99[name]:.1f} ms")
    ratio = medians["big"] / medians["empty"]
    print(f"big / empty: {ratio:.3f} ({'within' if ratio >= 0.9 else 'NOT within'} 10 %)")
    print(f"big / control (the lookup's own cost): {medians['big'] / medians['control']:.3f}")
    print(f"control / empty (the database's size): {medians['control'] / medians['empty']:.3f}")
    return 0 if all(r.ok for v in runs.values() for r in v) else 1


if __name__ == "__main__":
    sys.exit(main())
