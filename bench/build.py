"""Builder benchmark: full, incremental and no-change builds on synthetic sites.

    python bench/build.py                      # the figures in docs/benchmarks.md
    python bench/build.py --quick              # small sizes, a few seconds
    python bench/build.py --full-pages 2000 --incremental-sizes 1000 --nochange-pages 1000
    python bench/build.py --quick --compare /tmp/old-tree   # side by side with another tree

Every figure is measured ``--repeat`` times (default 3) and printed with its median. A full
build starts from an empty output folder each time. With ``--compare`` (a source tree, e.g.
``git worktree add /tmp/old-tree <commit>``) each measurement runs under both trees, one
after the other in every repetition, each tree on a site it generated itself.

Each site is generated with direct bulk SQL (fast ``executemany``; allowed in bench code
only): N pages in dated folders (``/blog/<year>/<slug>/``, some non-ASCII), ~20 approved
comments each, 30 % of them replies, Markdown bodies from a pool rendered once. Every
measured build runs in a child process that reports its own seconds, CPU seconds, files
written and peak RSS (``VmHWM``, plus the largest render worker's ``ru_maxrss`` when a big
full build uses the worker pool), so the generator's memory never pollutes the figure.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve()
ROOT = HERE.parent.parent

ASCII_WORDS = "static site comment build cache edge widget thread reply markdown privacy"
OTHER_WORDS = "café naïve über straße 東京 評論 déjà vu résumé mañana 你好 привет"
WORDS = [*ASCII_WORDS.split(" "), *OTHER_WORDS.split(" ")]


def _bodies(rng: random.Random, count: int) -> list[tuple[str, str]]:
    from afterword.markup import render_markdown

    pool = []
    for n in range(count):
        words = " ".join(rng.choice(WORDS) for _ in range(rng.randint(8, 60)))
        body = f"{words}\n\n*{rng.choice(WORDS)}* and **{rng.choice(WORDS)}**"
        if n % 3 == 0:
            body += (
                f"\n\n> quoted {rng.choice(WORDS)}\n\n- one\n- two [link](https://example.org/{n})"
            )
        if n % 5 == 0:
            body += "\n\n```\ncode block\n```"
        pool.append((body, render_markdown(body)))
    return pool


def generate_site(root: Path, pages: int, per_page: int = 20, seed: int = 1) -> Path:
    """A site folder with afterword.toml and a database of ``pages`` pages, none built yet."""
    from afterword.markup import RENDERER_VERSION
    from afterword.scaffold import write_config
    from afterword.store import open_store

    rng = random.Random(seed)
    write_config(root, site_url="https://bench.example.com")
    pool = _bodies(rng, 300)
    store = open_store(root / "afterword.db")
    conn = store.conn
    conn.execute("PRAGMA synchronous = OFF")
    conn.execute("BEGIN")
    next_id = 1
    for n in range(pages):
        slug = f"post-{n}" if n % 10 else f"café-{n}"
        key = f"/blog/{2000 + n % 25}/{slug}/"
        created = f"20{10 + n % 15:02d}-01-01T00:00:00.000000Z"
        conn.execute(
            "INSERT INTO pages (key, url, title, version, built_version, created) "
            "VALUES (?, '', ?, 1, 0, ?)",
            (key, f"Post {n} — {slug}", created),
        )
        rows = []
        first = next_id
        for c in range(per_page):
            parent = rng.randrange(first, next_id) if c and rng.random() < 0.3 else None
            body, html = pool[rng.randrange(len(pool))]
            stamp = f"20{10 + n % 15:02d}-02-{1 + c % 28:02d}T{c % 24:02d}:00:00.{n:06d}Z"
            rows.append(
                (next_id, key, parent, f"Reader {c} ñ", f"r{c}@example.com", body, html,
                 RENDERER_VERSION, stamp, stamp, "ab" * 16)
            )  # fmt: skip
            next_id += 1
        conn.executemany(
            "INSERT INTO comments (id, page_key, parent_id, status, author, email, body, "
            "body_html, renderer, created, updated, ip_hash) "
            "VALUES (?, ?, ?, 'approved', ?, ?, ?, ?, ?, ?, ?, ?)",
            rows,
        )
    conn.execute("COMMIT")
    store.close()
    return root


def child(site: str, mode: str) -> None:
    """Runs in a child process: one build, then a JSON line with the figures."""
    from afterword.builder import build_site
    from afterword.config import load_config
    from afterword.store import NewComment, moderate, open_store

    os.chdir(site)
    config = load_config(Path(site) / "afterword.toml")
    if mode == "full":
        shutil.rmtree(config.output_dir, ignore_errors=True)
    with open_store(config.database_path) as store:
        if mode == "incremental":
            key = store.scalar("SELECT key FROM pages ORDER BY random() LIMIT 1")
            from afterword.store import add_comment

            new = add_comment(
                store,
                NewComment(page_key=key, author="Bench", body="new", body_html="<p>new</p>",
                           renderer="x", email="b@example.com"),
            )  # fmt: skip
            moderate(store, [new.id], "approve", actor="bench")
        started, cpu_started = time.perf_counter(), _cpu_seconds()
        report = build_site(config, store, full=(mode == "full"))
        seconds = time.perf_counter() - started
        cpu = _cpu_seconds() - cpu_started
        comments = store.scalar("SELECT count(*) FROM comments WHERE status = 'approved'")
    peak_mb = _peak_rss_mb()
    workers_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(
        json.dumps(
            {
                "mode": mode,
                "seconds": round(seconds, 3),
                "cpu_seconds": round(cpu, 3),
                "pages_rendered": report.pages_rendered,
                "files_written": report.files_written,
                "comments": comments,
                "peak_rss_mb": round(peak_mb, 1),
                "worker_peak_rss_mb": round(workers_mb, 1),
            }
        )
    )


def _cpu_seconds() -> float:
    """CPU time of this process and its finished children (the render workers)."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def _peak_rss_mb() -> float:
    """VmHWM of this process: unlike ru_maxrss it is not inherited from the parent at exec."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def measure(site: Path, mode: str, tree: Path) -> dict[str, float]:
    """One build in a child process running ``tree``'s afterword."""
    out = subprocess.run(
        [sys.executable, str(HERE), "--child", mode, "--site", str(site)],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "PYTHONPATH": str(tree)},
    )
    result: dict[str, float] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def generate(site: Path, pages: int, tree: Path) -> Path:
    """``generate_site`` in a child running ``tree`` (each tree makes its own schema)."""
    subprocess.run(
        [sys.executable, str(HERE), "--child", "generate", "--site", str(site),
         "--pages", str(pages)],
        check=True, env={**os.environ, "PYTHONPATH": str(tree)},
    )  # fmt: skip
    return site


def median(runs: list[dict[str, float]], key: str) -> float:
    return float(statistics.median(r[key] for r in runs))


def series(runs: list[dict[str, float]], key: str = "seconds", digits: int = 2) -> str:
    values = " · ".join(f"{r[key]:.{digits}f}" for r in runs)
    return f"median {median(runs, key):.{digits}f} s ({values})"


def run(args: argparse.Namespace) -> None:
    trees = {"this tree": ROOT}
    if args.compare:
        trees["compared"] = Path(args.compare).resolve()
    print(
        f"# afterword builder bench — {os.cpu_count()} CPU(s); machine may be shared; "
        f"{args.repeat} repetitions, median; trees: "
        + ", ".join(f"{name} = {path}" for name, path in trees.items()),
        flush=True,
    )
    with tempfile.TemporaryDirectory(prefix="afterword-bench-") as tmp:
        base = Path(tmp)
        if args.full_pages:
            full_sites = {
                name: generate(base / f"full-{n}", args.full_pages, tree)
                for n, (name, tree) in enumerate(trees.items())
            }
            full_runs: dict[str, list[dict[str, float]]] = {name: [] for name in trees}
            for _ in range(args.repeat):
                for name, tree in trees.items():
                    full_runs[name].append(measure(full_sites[name], "full", tree))
            for name, runs in full_runs.items():
                comments = runs[0]["comments"]
                rate = comments / median(runs, "seconds")
                print(
                    f"full build [{name}]: {args.full_pages} pages / {comments:.0f} comments: "
                    f"{series(runs)}, CPU median {median(runs, 'cpu_seconds'):.2f} s, "
                    f"{rate:,.0f} comments/s, peak RSS median {median(runs, 'peak_rss_mb')} MB "
                    f"(largest worker {median(runs, 'worker_peak_rss_mb')} MB), "
                    f"{runs[0]['files_written']:.0f} files",
                    flush=True,
                )
        sizes = sorted(set(args.incremental_sizes) | {args.nochange_pages} - {0})
        for pages in sizes:
            sites = {}
            for n, (name, tree) in enumerate(trees.items()):
                sites[name] = generate(base / f"site{pages}-{n}", pages, tree)
                r = measure(sites[name], "full", tree)
                print(
                    f"  [{name}] first full build of {pages} pages: {r['seconds']:.1f} s, "
                    f"{r['cpu_seconds']:.1f} s CPU, peak RSS {r['peak_rss_mb']} MB",
                    flush=True,
                )
            modes = [("incremental", "incremental after one approval")] * (
                pages in args.incremental_sizes
            ) + [("nochange", "no-change build")] * (pages == args.nochange_pages)
            for mode, label in modes:
                paired: dict[str, list[dict[str, float]]] = {name: [] for name in trees}
                for _ in range(args.repeat):  # side by side: the trees alternate
                    for name, tree in trees.items():
                        paired[name].append(measure(sites[name], mode, tree))
                for name, measured in paired.items():
                    print(
                        f"{label} [{name}], {pages} pages: {series(measured, digits=3)}, "
                        f"{max(r['files_written'] for r in measured):.0f} files written",
                        flush=True,
                    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--full-pages", type=int, default=10_000)
    parser.add_argument(
        "--incremental-sizes",
        type=lambda s: [int(x) for x in s.split(",") if x],
        default=[1_000, 10_000, 100_000],
    )
    parser.add_argument("--nochange-pages", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="1,000-page sizes only")
    parser.add_argument("--compare", help="another source tree to measure side by side")
    parser.add_argument("--child", choices=["generate", "full", "incremental", "nochange"])
    parser.add_argument("--site")
    parser.add_argument("--pages", type=int, help="with --child generate")
    args = parser.parse_args()
    if args.child == "generate":
        generate_site(Path(args.site), args.pages)
        return
    if args.child:
        child(args.site, args.child)
        return
    if args.quick:
        args.full_pages, args.incremental_sizes, args.nochange_pages = 1000, [1000], 1000
    run(args)


if __name__ == "__main__":
    main()
