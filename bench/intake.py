"""Load the intake with wrk and report durable submissions per second and latency.

    python bench/intake.py                      # 3 runs of 10 s, 32 connections; medians
    python bench/intake.py --workers 2          # two intake processes (serve --workers 2)
    python bench/intake.py --runs 5 --against /tmp/other-checkout   # A/B, run by run
    python bench/intake.py --runs 1 --duration 3 --connections 8    # a quick look
    python bench/intake.py --notify both        # notifications off and on, side by side

Every measured run is a child process (this script with ``--one``) that starts the intake
(``BackgroundServer``: in that process, or ``--workers`` processes) on a fresh site folder
whose per-client rate limits are switched off — every request comes from 127.0.0.1, so the
normal 5/minute would refuse nearly all of them — then runs Debian's ``wrk`` with a Lua
script that POSTs JSON with a different body each time (so duplicate detection never fires).
A 202 is only sent after its batch committed with ``synchronous=FULL``, so accepted/s is
*durable* submissions per second. Afterwards the rows in the database are counted against the
202s: they must match, give or take the requests wrk abandoned in flight when time ran out
(at most one per connection; those were committed but their answer was never read).

``--against DIR`` runs the same bench on another checkout of afterword (``PYTHONPATH=DIR``),
alternating with this one run by run, so both see the same noise on a shared machine; the
medians of each are printed side by side.

``--notify on`` configures moderator notifications (``mode = "each"``, a real SMTP server —
aiosmtpd — on loopback in a process of its own, the background sender draining as in ``serve``):
every accepted comment then also writes its outbox row in the same transaction. ``--notify
both`` alternates runs without and with notifications, run by run, like ``--against``.
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

from wrkrun import Load, WrkResult, have_wrk, lua_script, rows_consistent, run_wrk

import afterword
from afterword.config import Config, load_config
from afterword.intake.server import BackgroundServer
from afterword.scaffold import write_config
from afterword.store import open_store

REQUEST = r"""
function request()
  counter = counter + 1
  local body = string.format(
    '{"page":"/bench/post-%d/","author":"Bench %d","email":"bench@example.org",' ..
    '"body":"Comment %d from thread %d: *markdown* and `code`, some more words."}',
    counter % 100, id, counter, id)
  return wrk.format("POST", "/api/comments", {["Content-Type"] = "application/json"}, body)
end
"""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=int, default=10, help="seconds per run (default 10)")
    parser.add_argument("--connections", type=int, default=32, help="connections (default 32)")
    parser.add_argument("--threads", type=int, default=2, help="wrk threads (default 2)")
    parser.add_argument(
        "--workers", type=int, default=1, help="intake worker processes (default 1)"
    )
    parser.add_argument("--runs", type=int, default=3, help="runs per checkout (default 3)")
    parser.add_argument(
        "--against",
        action="append",
        default=[],
        metavar="DIR",
        help="another afterword checkout to measure alternately with this one",
    )
    parser.add_argument(
        "--dir", default=None, help="make the site folder (and database) under this directory"
    )
    parser.add_argument("--keep", action="store_true", help="keep the site folder")
    parser.add_argument(
        "--notify",
        choices=("off", "on", "both"),
        default="off",
        help="moderator notifications: off (default), on, or both side by side",
    )
    parser.add_argument("--one", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if not have_wrk():
        return 2
    if not args.one:
        return compare(args)
    folder = Path(tempfile.mkdtemp(prefix="afterword-bench-", dir=args.dir))
    try:
        return run(folder, args)
    finally:
        if not args.keep:
            shutil.rmtree(folder, ignore_errors=True)


def compare(args: argparse.Namespace) -> int:
    """``--runs`` child runs per checkout, alternating checkouts run by run; medians."""
    here = Path(afterword.__file__).resolve().parent.parent
    modes = ["off", "on"] if args.notify == "both" else [args.notify]
    # a "tree" is a checkout plus its notify mode; --notify both measures this checkout twice
    trees = [Path(f"{here}#notify={mode}") for mode in modes]
    trees += [Path(f"{Path(tree).resolve()}#notify={modes[0]}") for tree in args.against]
    passed = [
        f"--duration={args.duration}",
        f"--connections={args.connections}",
        f"--threads={args.threads}",
        f"--workers={args.workers}",
        *([f"--dir={args.dir}"] if args.dir else []),
    ]
    results: dict[Path, list[dict[str, float]]] = {tree: [] for tree in trees}
    failed = False
    for number in range(1, args.runs + 1):
        for tree in trees:
            checkout, _, mode = str(tree).partition("#notify=")
            env = {**os.environ, "PYTHONPATH": checkout}
            child = subprocess.run(
                [sys.executable, __file__, "--one", *passed, f"--notify={mode}"],
                capture_output=True,
                text=True,
                env=env,
                timeout=args.duration * 10 + 120,
                check=False,
            )
            found = re.search(r"^JSON (.*)$", child.stdout, re.MULTILINE)
            if number == 1 and tree == trees[0]:
                print(child.stdout.split("JSON ")[0].rstrip())
            if child.returncode != 0 or found is None:
                failed = True
                print(f"run {number} {tree}: FAILED\n{child.stdout}{child.stderr}")
                continue
            result: dict[str, float] = json.loads(found.group(1))
            results[tree].append(result)
            print(f"run {number} {tree}: {_figures(result)}")
    print(f"medians of {args.runs} runs:")
    for tree, runs in results.items():
        if runs:
            medians = {key: statistics.median(run[key] for run in runs) for key in runs[0]}
            print(f"  {tree}: {_figures(medians)}")
    first = results[trees[0]]
    for tree in trees[1:]:
        pairs = list(zip(first, results[tree], strict=False))
        if pairs:  # run by run, so slow spells of the shared machine hit both sides
            speed = statistics.median(b["per_second"] / a["per_second"] for a, b in pairs)
            p99 = statistics.median(b["p99_ms"] / a["p99_ms"] for a, b in pairs)
            cpu = statistics.median(b["cpu_us"] / a["cpu_us"] for a, b in pairs)
            print(
                f"  {tree} / {trees[0]}, median of {len(pairs)} paired runs: "
                f"accepted/s {speed - 1:+.1%}  p99 {p99 - 1:+.1%}  CPU/request {cpu - 1:+.1%}"
            )
    return 1 if failed else 0


def _figures(result: dict[str, float]) -> str:
    return (
        f"{result['per_second']:,.0f}/s  p50 {result['p50_ms']:.2f} ms  "
        f"p99 {result['p99_ms']:.2f} ms  server CPU {result['cpu_us']:.0f} µs/request"
    )


def run(folder: Path, args: argparse.Namespace) -> int:
    write_config(folder, site_url="https://blog.example.com")
    config = load_config(folder / "afterword.toml", environ={})
    limits = dataclasses.replace(config.limits, per_minute=0, per_hour=0)
    config = dataclasses.replace(config, limits=limits)
    smtp = None
    if args.notify == "on":
        smtp, config = _with_notifications(config)
    open_store(config.database_path).close()
    args.database = config.database_path
    args.load_before = " ".join(f"{x:.2f}" for x in os.getloadavg())
    script = folder / "post.lua"
    script.write_text(lua_script(REQUEST), encoding="utf-8")
    with BackgroundServer(config, workers=args.workers) as server:
        before = _cpu_seconds(server.worker_pids)
        wrk_before = resource.getrusage(resource.RUSAGE_CHILDREN)
        loaded = run_wrk(server.url, script, Load.from_args(args))
        wrk_after = resource.getrusage(resource.RUSAGE_CHILDREN)
        after = _cpu_seconds(server.worker_pids)
    if smtp is not None:
        smtp.terminate()
        smtp.wait(10)
    cpu_seconds = after - before
    args.wrk_cpu = (wrk_after.ru_utime - wrk_before.ru_utime) + (
        wrk_after.ru_stime - wrk_before.ru_stime
    )
    rows = _count_rows(config.database_path)
    return _report(args, loaded, rows, cpu_seconds)


def _with_notifications(config: Config) -> tuple[subprocess.Popen[bytes], Config]:
    """A real SMTP server (aiosmtpd, its ``Sink`` handler) in a process of its own — so its
    CPU is not counted as the intake's — and a config that mails the moderators through it."""
    import socket
    import time

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = int(sock.getsockname()[1])
    command = [sys.executable, "-m", "aiosmtpd", "-n", "-c", "aiosmtpd.handlers.Sink"]
    server = subprocess.Popen(
        [*command, "-l", f"127.0.0.1:{port}"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            time.sleep(0.05)
    notify = dataclasses.replace(
        config.notify,
        mode="each",
        moderators=["moderator@example.org"],
        smtp_url=f"smtp://127.0.0.1:{port}",
    )
    return server, dataclasses.replace(config, notify=notify)


def _cpu_seconds(worker_pids: list[int]) -> float:
    """CPU time of this process plus the intake's worker processes (wrk not included)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    total = usage.ru_utime + usage.ru_stime
    ticks = os.sysconf("SC_CLK_TCK")
    for pid in worker_pids:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
        total += (int(fields[11]) + int(fields[12])) / ticks  # utime, stime
    return total


def _count_mails(path: Path) -> int:
    with sqlite3.connect(path) as conn:
        query = "SELECT count(DISTINCT message) FROM notify_outbox WHERE state = 'sent'"
        return int(conn.execute(query).fetchone()[0])


def _count_rows(path: Path, table: str = "comments") -> int:
    with sqlite3.connect(path) as conn:
        return int(conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0])


def _report(args: argparse.Namespace, result: WrkResult, rows: int, cpu_seconds: float) -> int:
    accepted, other = result.accepted, result.other
    seconds = result.duration_us / 1e6
    print(f"intake bench: {args.duration} s, {args.connections} connections, wrk -t{args.threads}")
    print(f"  machine: {os.cpu_count()} CPUs, shared with other work while measuring")
    print(f"  load average before the run: {args.load_before}")
    print(
        f"  intake: {args.workers} worker process(es)"
        + ("" if args.workers > 1 else " (in-process)")
    )
    print("  rate limits: off for the bench (limits.per_minute = limits.per_hour = 0)")
    if args.notify == "on":
        queued = _count_rows(args.database, "notify_outbox")
        mails = _count_mails(args.database)
        print(f"  notifications: on; {queued} outbox rows, {mails} mail(s) sent (flood guard)")
    print("  durability: synchronous=FULL, 202 sent only after the batch committed")
    print(f"  database:   {args.database}")
    print(f"  accepted (202): {accepted}   other answers: {other}")
    print(f"  accepted/s:     {accepted / seconds:,.0f}")
    print(f"  latency p50:    {result.p50_us / 1000:.2f} ms   p99: {result.p99_us / 1000:.2f} ms")
    requests = max(1, accepted + other)
    print(
        f"  server CPU:     {cpu_seconds:.1f} s = "
        f"{cpu_seconds / requests * 1e6:.0f} µs "
        "per request (the intake's processes; wrk not included)"
    )
    print(f"  wrk CPU:        {args.wrk_cpu:.1f} s (the load generator shares the cores)")
    in_flight = rows - accepted
    consistent = rows_consistent(result, rows, args.connections)
    print(f"  rows in db:     {rows} ({in_flight} committed while wrk was stopping)")
    print(f"  check:          {'ok' if consistent else 'MISMATCH'}")
    figures = {
        "per_second": accepted / seconds,
        "p50_ms": result.p50_us / 1000,
        "p99_ms": result.p99_us / 1000,
        "cpu_us": cpu_seconds / requests * 1e6,
    }
    print("JSON " + json.dumps(figures))
    return 0 if consistent else 1


if __name__ == "__main__":
    sys.exit(main())
