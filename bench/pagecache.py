"""What the page cache saves the intake's writer on a big database: bytes read, time per batch.

    python bench/pagecache.py                      # 300,000 comments, 400 batches, 2 rounds
    python bench/pagecache.py --comments 50000 --batches 200 --repeat 3

One database is seeded as ``bench/autoapprove.py`` seeds its big one; each round copies it
afresh for each cache size and writes ``--batches`` transactions of 32 intake-like inserts
(random hashes, the posting addresses of the auto-approval bench, and its count per insert)
through ``open_store`` (``synchronous = FULL``), alternating the sizes. Bytes read through
system calls come from ``/proc/self/io`` (``rchar``: reads SQLite makes of the database and
its WAL, whether the OS serves them from its cache or the disk). Prints each round and the
medians. Wall time on a shared machine is noise-prone; bytes read are not.
"""

from __future__ import annotations

import argparse
import secrets
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

from autoapprove import POSTERS, ROOT, seed

sys.path.insert(0, str(ROOT))

from afterword.store import open_store

INSERT = (
    "INSERT INTO comments (page_key, status, author, email, body, body_html, renderer, "
    "created, updated, ip_hash, body_hash) "
    "VALUES ('/seed/1/', 'pending', 'a', ?, 'b', '<p>b</p>', 'r', ?, ?, ?, ?)"
)
COUNT = (
    "SELECT count(*) FROM comments WHERE email_key = ? AND email_key != '' AND status = 'approved'"
)


def bytes_read() -> int:
    for line in Path("/proc/self/io").read_text().splitlines():
        if line.startswith("rchar:"):
            return int(line.split()[1])
    raise SystemExit("no /proc/self/io here")


def write_batches(source: Path, copy: Path, cache_mib: int, batches: int) -> tuple[float, int]:
    """(median seconds per batch, bytes read in all) for one fresh copy of ``source``."""
    for suffix in ("", "-wal", "-shm"):
        Path(f"{copy}{suffix}").unlink(missing_ok=True)
    shutil.copyfile(source, copy)
    seconds: list[float] = []
    with open_store(copy, cache_mib=cache_mib) as store:
        start = bytes_read()
        for _ in range(batches):
            began = time.perf_counter()
            with store.write() as conn:
                for _ in range(32):
                    n = secrets.randbelow(10**9)
                    email = f"reader{n % POSTERS}@example.org"
                    stamp = f"2026-12-01T00:00:{n % 60:02d}.{n % 10**6:06d}Z"
                    conn.execute(INSERT, (email, stamp, stamp, secrets.token_hex(16),
                                          secrets.token_hex(16)))  # fmt: skip
                    conn.execute(COUNT, (email,)).fetchone()
            seconds.append(time.perf_counter() - began)
        read = bytes_read() - start
    return statistics.median(seconds), read


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--comments", type=int, default=300_000)
    parser.add_argument("--batches", type=int, default=400)
    parser.add_argument("--repeat", type=int, default=2, help="rounds of every cache size")
    parser.add_argument("--sizes", default="2,64", help="cache sizes in MiB, comma-separated")
    args = parser.parse_args()
    sizes = [int(size) for size in args.sizes.split(",")]
    results: dict[int, list[tuple[float, int]]] = {size: [] for size in sizes}
    with tempfile.TemporaryDirectory(prefix="afterword-bench-") as tmp:
        source = Path(tmp) / "big.db"
        with open_store(source) as store:
            seed(store.conn, args.comments)
        for n in range(args.repeat):
            for size in sizes if n % 2 == 0 else sizes[::-1]:
                median, read = write_batches(source, Path(tmp) / "copy.db", size, args.batches)
                results[size].append((median, read))
                print(f"round {n + 1}, {size:>3} MiB: {median * 1000:6.2f} ms per batch, "
                      f"{read / 2**20:7.1f} MiB read", flush=True)  # fmt: skip
    for size, runs in results.items():
        median = statistics.median(r[0] for r in runs) * 1000
        read = statistics.median(r[1] for r in runs) / 2**20
        print(f"median, {size:>3} MiB: {median:6.2f} ms per batch, {read:7.1f} MiB read")
    return 0


if __name__ == "__main__":
    sys.exit(main())
