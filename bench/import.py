"""Import benchmark: N synthetic Disqus posts (valid Disqus XML, threads, nesting) in a child.

    python bench/import.py [--posts 100000] [--threads 2000] [--repeat 3]

Generates the export once into a temporary folder, then ``--repeat`` times runs ``afterword
import disqus`` in a child process (each into a fresh site folder and database, with this
tree's ``afterword`` on ``PYTHONPATH``) and prints every run and the median of wall-clock
seconds, posts per second and the child's own peak RSS (its ``VmHWM``, read as it exits), so
the figure includes parsing, sanitizing, hashing and the single SQLite transaction, and
nothing of the generator.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# ``afterword <args>`` in this process, then its peak RSS on stderr (after click's exit).
CHILD = """
import atexit, runpy, sys
def peak():
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            print("VMHWM_KB", line.split()[1], file=sys.stderr)
atexit.register(peak)
sys.argv = ["afterword", *sys.argv[1:]]
runpy.run_module("afterword", run_name="__main__")
"""

HEADER = (
    '<?xml version="1.0" encoding="utf-8"?>\n'
    '<disqus xmlns="http://disqus.com" xmlns:dsq="http://disqus.com/disqus-internals">\n'
)
WORDS = [
    "lorem",
    "ipsum",
    "dolor",
    "sit",
    "amet",
    "consectetur",
    "adipiscing",
    "elit",
    "注释",
    "café",
    "naïve",
    "réponse",
]


def write_export(path: Path, posts: int, threads: int, seed: int = 1) -> None:
    """Threads first, then posts; about 30 % are replies, nested up to eight deep."""
    rng = random.Random(seed)
    with path.open("w", encoding="utf-8") as out:
        out.write(HEADER)
        for t in range(threads):
            out.write(
                f'<thread dsq:id="{10**9 + t}"><id>post-{t}</id>'
                f"<link>https://blog.example.com/{2010 + t % 15}/post-{t}/</link>"
                f"<title>Post {t} {rng.choice(WORDS)}</title></thread>\n"
            )
        by_thread: dict[int, list[tuple[int, int]]] = {}
        for n in range(posts):
            thread = rng.randrange(threads)
            earlier = by_thread.setdefault(thread, [])
            parent = ""
            depth = 0
            if earlier and rng.random() < 0.3:
                parent_id, parent_depth = rng.choice(earlier)
                if parent_depth < 8:
                    parent, depth = f'<parent dsq:id="{parent_id}"/>', parent_depth + 1
            post_id = 5 * 10**15 + n  # above 2**53, as in real exports
            earlier.append((post_id, depth))
            text = " ".join(rng.choice(WORDS) for _ in range(rng.randint(5, 80)))
            out.write(
                f'<post dsq:id="{post_id}"><id/><message><![CDATA[<p>{text}</p>'
                f'<p><a href="https://example.org/{n}">link</a></p>]]></message>'
                f"<createdAt>20{10 + n % 15:02d}-0{1 + n % 9}-1{n % 10}T12:{n % 60:02d}:00Z"
                f"</createdAt><isDeleted>{'true' if n % 97 == 0 else 'false'}</isDeleted>"
                f"<isSpam>{'true' if n % 89 == 0 else 'false'}</isSpam>"
                f"<author><email>user{n % 5000}@example.org</email><name>User {n % 5000}</name>"
                f"<isAnonymous>false</isAnonymous></author>"
                f"<ipAddress>198.51.{n % 250}.{n % 200}</ipAddress>"
                f'<thread dsq:id="{10**9 + thread}"/>{parent}</post>\n'
            )
        out.write("</disqus>\n")


def import_once(folder: Path, export: Path) -> tuple[float, float, float]:
    """One import into a fresh site: (seconds, peak RSS MB, database MB)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    subprocess.run(
        [sys.executable, "-m", "afterword", "init", str(folder), "--site-url",
         "https://blog.example.com"],
        check=True, capture_output=True, env=env,
    )  # fmt: skip
    command = [sys.executable, "-c", CHILD, "--config", str(folder / "afterword.toml"),
               "import", "disqus", str(export), "--quiet"]  # fmt: skip
    started = time.perf_counter()
    done = subprocess.run(command, check=True, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    peak_kb = int(done.stderr.rsplit("VMHWM_KB", 1)[1].split()[0])
    return seconds, peak_kb / 1024, (folder / "afterword.db").stat().st_size / 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--posts", type=int, default=100_000)
    parser.add_argument("--threads", type=int, default=2_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="afterword-bench-") as folder:
        export = Path(folder) / "disqus.xml"
        write_export(export, args.posts, args.threads)
        size_mb = export.stat().st_size / 1e6
        print(f"posts: {args.posts:,} in {args.threads:,} threads; export {size_mb:.1f} MB; "
              f"{args.repeat} runs, machine shared", flush=True)  # fmt: skip
        runs = []
        for n in range(args.repeat):
            seconds, peak, db_mb = import_once(Path(folder) / f"site{n}", export)
            runs.append((seconds, peak))
            print(f"run {n + 1}: {seconds:.2f} s ({args.posts / seconds:,.0f} posts/s), "
                  f"peak RSS {peak:.0f} MB, database {db_mb:.1f} MB", flush=True)  # fmt: skip
    seconds = statistics.median(r[0] for r in runs)
    peak = statistics.median(r[1] for r in runs)
    print(f"median: {seconds:.2f} s ({args.posts / seconds:,.0f} posts/s, one transaction), "
          f"peak RSS {peak:.0f} MB")  # fmt: skip


if __name__ == "__main__":
    main()
