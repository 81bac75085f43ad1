"""Intake throughput with ``auto_approve_after = 3``: an empty database against a big one.

    python bench/autoapprove.py                         # 300,000 comments, 3 × 10 s each
    python bench/autoapprove.py --comments 50000 --duration 5 --repeat 3
    python bench/autoapprove.py --repeat 5 --against /tmp/main   # A/B, run by run

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
Debian's ``wrk`` (2 threads, 32 connections, ``bench/wrkrun.py``) against the intake
(``BackgroundServer``) in a child process, rate limits off; the median of each and the
ratios are printed. A 202 is sent only after its batch committed, and the rows are counted
against the 202s.

Each load also reports the intake process's CPU per stored comment (steadier than
throughput on a shared machine) and its peak resident memory (``VmHWM``, page cache
included).

``--against DIR`` loads the same three databases with another checkout of afterword too
(the child runs with ``PYTHONPATH=DIR``), alternating checkouts load by load, so both see the
same noise of a shared machine and the same database sizes; medians are printed per checkout,
then the median of the back-to-back pairs' ratios.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import re
import resource
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from wrkrun import Load, have_wrk, lua_script, rows_consistent, run_wrk

ROOT = Path(__file__).resolve().parent.parent
if not os.environ.get("PYTHONPATH"):  # this tree's afterword, unless a child is told another
    sys.path.insert(0, str(ROOT))

from afterword.config import Config, load_config  # noqa: E402
from afterword.intake.server import BackgroundServer  # noqa: E402
from afterword.scaffold import write_config  # noqa: E402
from afterword.store import open_store  # noqa: E402

POSTERS = 500

REQUEST = r"""
function request()
  counter = counter + 1
  local body = string.format(
    '{"page":"/bench/post-%d/","author":"Bench %d","email":"Reader%d@Example.org",' ..
    '"body":"Comment %d from thread %d of run %s: *markdown* and `code`, more words."}',
    counter % 100, id, counter % POSTERS, counter, id, run)
  return wrk.format("POST", "/api/comments", {["Content-Type"] = "application/json"}, body)
end
""".replace("POSTERS", str(POSTERS))


@dataclasses.dataclass(frozen=True)
class Run:
    accepted_per_s: float
    p99_ms: float
    ok: bool
    rss_mb: float  # the intake process's peak resident memory (its page cache included)
    cpu_us: float  # the intake process's CPU per accepted comment (wrk not included)


def make_site(folder: Path, comments: int, after: int = 3, copy_of: Config | None = None) -> Config:
    folder.mkdir(parents=True)
    write_config(folder, site_url="https://blog.example.com")
    (folder / "auto_approve_after").write_text(str(after), encoding="utf-8")
    config = site_config(folder)
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


def site_config(folder: Path) -> Config:
    """The site's config with rate limits off and its ``auto_approve_after``; whichever
    checkout reads it (in memory: the file stays as ``write_config`` made it)."""
    config = load_config(folder / "afterword.toml", environ={})
    after = int((folder / "auto_approve_after").read_text(encoding="utf-8"))
    return dataclasses.replace(
        config,
        limits=dataclasses.replace(config.limits, per_minute=0, per_hour=0),
        moderation=dataclasses.replace(config.moderation, auto_approve_after=after),
    )


def load(folder: Path, tree: Path, args: argparse.Namespace, tag: str) -> Run:
    """One wrk run in a child process running ``tree``'s afterword; ``tag`` makes its bodies
    unlike earlier runs' (no 409 duplicates)."""
    command = [
        sys.executable, __file__, "--one", str(folder), "--tag", tag,
        f"--duration={args.duration}", f"--connections={args.connections}",
        f"--threads={args.threads}",
    ]  # fmt: skip
    child = subprocess.run(
        command,
        env={**os.environ, "PYTHONPATH": str(tree)},
        capture_output=True,
        text=True,
        timeout=args.duration * 10 + 120,
        check=False,
    )
    found = re.search(r"^JSON (.*)$", child.stdout, re.MULTILINE)
    if found is None:
        raise SystemExit(f"the run in {tree} failed:\n{child.stdout}{child.stderr}")
    return Run(**json.loads(found.group(1)))


def one(args: argparse.Namespace) -> int:
    """The child: serve the site with this checkout, load it once, print the figures."""
    folder = Path(args.one)
    config = site_config(folder)
    before = _rows(config.database_path)
    script = folder / "post.lua"
    script.write_text(lua_script(REQUEST), encoding="utf-8")
    with BackgroundServer(config) as server:
        cpu_before = _cpu_seconds()
        result = run_wrk(server.url, script, Load.from_args(args), run=args.tag)
        cpu = _cpu_seconds() - cpu_before
    ok = rows_consistent(result, _rows(config.database_path) - before, args.connections)
    rss_mb = _peak_rss_mib()
    figures = {
        "accepted_per_s": result.per_second,
        "p99_ms": result.p99_us / 1000,
        "ok": ok,
        "rss_mb": rss_mb,
        "cpu_us": cpu / max(1, result.accepted) * 1e6,
    }
    print("JSON " + json.dumps(figures))
    return 0


def _cpu_seconds() -> float:
    """CPU time of this process, every thread of the intake in it (wrk is a child: apart)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _peak_rss_mib() -> float:
    """This process's peak resident memory (VmHWM: unlike ``ru_maxrss``, not carried over
    from the parent that seeded the databases before ``exec``)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


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
    parser.add_argument(
        "--against", action="append", default=[], metavar="DIR",
        help="another afterword checkout to load the same databases with, alternately",
    )  # fmt: skip
    parser.add_argument("--one", metavar="SITE", help=argparse.SUPPRESS)
    parser.add_argument("--tag", default="", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if not have_wrk():
        return 2
    if args.one:
        return one(args)
    trees = [ROOT, *(Path(tree).resolve() for tree in args.against)]
    with tempfile.TemporaryDirectory(prefix="afterword-bench-") as tmp:
        base = Path(tmp)
        sites = {"empty": make_site(base / "empty", 0)}
        sites["big"] = make_site(base / "big", args.comments)
        sites["control"] = make_site(base / "control", 0, after=0, copy_of=sites["big"])
        print(f"# auto-approve bench — {os.cpu_count()} CPU(s), machine shared with other work")
        print(f"# load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
        print(
            f"# auto_approve_after = 3 (control: 0); big database and control: "
            f"{args.comments:,} approved comments; "
            f"wrk -t{args.threads} -c{args.connections} -d{args.duration}s, "
            f"{args.repeat} runs each, alternating; trees: {', '.join(map(str, trees))}",
            flush=True,
        )
        runs: dict[tuple[Path, str], list[Run]] = {(t, n): [] for t in trees for n in sites}
        names = list(sites)
        for n in range(args.repeat):
            order = names[n % 3 :] + names[: n % 3]
            for name in order:
                for tree in trees if n % 2 == 0 else trees[::-1]:
                    run = load(sites[name].database_path.parent, tree, args, f"{n}-{tree}")
                    runs[(tree, name)].append(run)
                    print(
                        f"run {n + 1} {name:<7} {tree}: {run.accepted_per_s:8,.0f} accepted/s, "
                        f"p99 {run.p99_ms:6.1f} ms, CPU {run.cpu_us:4.0f} µs/comment, "
                        f"peak RSS {run.rss_mb:.0f} MB, "
                        f"check {'ok' if run.ok else 'MISMATCH'}",
                        flush=True,
                    )
        print(f"# load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    for tree in trees:
        summarize(tree, {name: runs[(tree, name)] for name in names})
    for tree in trees[1:]:
        paired(trees[0], tree, names, runs)
    return 0 if all(r.ok for v in runs.values() for r in v) else 1


def summarize(tree: Path, runs: dict[str, list[Run]]) -> None:
    """Medians of one checkout's runs and the ratios the benchmark is about."""
    medians = {k: statistics.median(r.accepted_per_s for r in v) for k, v in runs.items()}
    p99 = {k: statistics.median(r.p99_ms for r in v) for k, v in runs.items()}
    cpu = {k: statistics.median(r.cpu_us for r in v) for k, v in runs.items()}
    rss = {k: max(r.rss_mb for r in v) for k, v in runs.items()}
    print(f"{tree}:")
    for name in runs:
        print(
            f"  median {name:<7}: {medians[name]:8,.0f} accepted/s, p99 {p99[name]:.1f} ms, "
            f"CPU {cpu[name]:.0f} µs/comment, peak RSS {rss[name]:.0f} MB"
        )
    print(f"  CPU per comment, big / empty: {cpu['big'] / cpu['empty']:.3f}")
    ratio = medians["big"] / medians["empty"]
    print(f"  big / empty: {ratio:.3f} ({'within' if ratio >= 0.9 else 'NOT within'} 10 %)")
    print(f"  big / control (the lookup's own cost): {medians['big'] / medians['control']:.3f}")
    print(f"  control / empty (the database's size): {medians['control'] / medians['empty']:.3f}")


def paired(
    first: Path, other: Path, names: list[str], runs: dict[tuple[Path, str], list[Run]]
) -> None:
    """``other`` against ``first``, load by load (each pair ran back to back, so a slow
    spell of the shared machine hits both): the median of the per-pair ratios."""
    for name in names:
        pairs = list(zip(runs[(first, name)], runs[(other, name)], strict=True))
        speed = statistics.median(b.accepted_per_s / a.accepted_per_s for a, b in pairs)
        cpu = statistics.median(b.cpu_us / a.cpu_us for a, b in pairs)
        print(
            f"{other} / {first}, {name}, median of {len(pairs)} pairs: "
            f"accepted/s {speed:.3f}, CPU per comment {cpu:.3f}"
        )


if __name__ == "__main__":
    sys.exit(main())
