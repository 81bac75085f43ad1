"""Publish figures against moto's S3/CloudFront server, side by side with ``aws s3 sync``.

    python bench/publish.py [--pages 2000] [--workers 16] [--repeat 3]

Measures, for afterword and for ``aws s3 sync --delete`` on the same output folder:
the first publish (objects/s), the publish after one approval (requests, seconds) and a
publish with no change (requests, seconds), each ``--repeat`` times, printing every run and
the median. Both tools get the same concurrency: afterword's ``max_workers`` and the AWS
CLI's ``s3.max_concurrent_requests`` (a config file of its own) are both ``--workers``. A
first publish is repeated into a fresh bucket (and, for afterword, a fresh target) each
time. afterword's planning step (the SQL diff, ``read_changes`` + ``make_plan``) is also
timed on its own before each of its publishes. moto runs as its own process on a loopback
port; requests are counted by a small proxy in front of it (the one the tests use), which is
only in the path for the runs whose requests are counted. Figures from a shared machine are
indicative only: moto's speed, not S3's, bounds the first publish.
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT))  # this tree's afterword

os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
os.environ["AWS_EC2_METADATA_DISABLED"] = "true"

import boto3  # noqa: E402
from fixtures_s3 import CountingProxy, create_distribution  # noqa: E402

from afterword.builder import build_site  # noqa: E402
from afterword.config import load_config  # noqa: E402
from afterword.markup import RENDERER_VERSION  # noqa: E402
from afterword.output.plan import make_plan  # noqa: E402
from afterword.output.publish import publish_changes  # noqa: E402
from afterword.scaffold import write_config  # noqa: E402
from afterword.store import NewComment, Store, insert_comment, open_store  # noqa: E402
from afterword.store.publish import read_changes  # noqa: E402


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def start_moto() -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    command = [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    for _ in range(100):
        try:
            urllib.request.urlopen(f"{url}/moto-api/", timeout=1).close()
            return process, url
        except OSError:
            time.sleep(0.1)
    raise SystemExit("moto server did not start")


def seed(store: Store, pages: int) -> None:
    with store.write() as conn:
        for i in range(pages):
            insert_comment(conn, comment(f"/blog/post-{i:05}/"))


def comment(page: str) -> NewComment:
    return NewComment(
        page_key=page,
        author="Ada",
        body="Hello",
        body_html="<p>Hello</p>",
        renderer=RENDERER_VERSION,
        status="approved",
    )


def afterword_publish(
    site: Path, store: Store, endpoint: str, target: str
) -> tuple[float, float, Any]:
    """(planning seconds, publish seconds, report) for one publish to ``target``."""
    env = {**os.environ, f"AFTERWORD_TARGETS_{target.upper()}_ENDPOINT_URL": endpoint}
    config = load_config(site / "afterword.toml", environ=env)
    os.environ["AWS_ENDPOINT_URL_CLOUDFRONT"] = endpoint
    started = time.perf_counter()
    changes = read_changes(store, target)
    make_plan(changes.uploads, changes.deletions)
    planning = time.perf_counter() - started
    started = time.perf_counter()
    report = publish_changes(config, store, target)
    return planning, time.perf_counter() - started, report


def aws_sync(folder: Path, bucket: str, endpoint: str, aws_config: Path) -> float:
    command = [
        "aws",
        "--endpoint-url",
        endpoint,
        "s3",
        "sync",
        "--delete",
        "--only-show-errors",
        str(folder),
        f"s3://{bucket}/",
    ]
    started = time.perf_counter()
    subprocess.run(command, check=True, env={**os.environ, "AWS_CONFIG_FILE": str(aws_config)})
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pages", type=int, default=2_000)
    parser.add_argument("--workers", type=int, default=16)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    moto, direct = start_moto()
    proxy = CountingProxy(("127.0.0.1", int(direct.rsplit(":", 1)[1]))).start()
    try:
        run(args.pages, args.workers, args.repeat, direct, proxy)
    finally:
        proxy.stop()
        moto.terminate()
        moto.wait()


Row = tuple[str, str, int, float]


def run(pages: int, workers: int, repeat: int, direct: str, proxy: CountingProxy) -> None:
    s3 = boto3.client("s3", endpoint_url=direct)
    cloudfront = boto3.client("cloudfront", endpoint_url=direct)
    site = Path(tempfile.mkdtemp(prefix="afterword-bench-"))
    aws_config = site / "aws-config"
    aws_config.write_text(f"[default]\ns3 =\n  max_concurrent_requests = {workers}\n")
    write_config(site, site_url="https://blog.example.com")
    with (site / "afterword.toml").open("a") as handle:
        for n in range(repeat):
            s3.create_bucket(Bucket=f"bench-afterword-{n}")
            s3.create_bucket(Bucket=f"bench-sync-{n}")
            distribution = create_distribution(cloudfront, f"bench-{n}")
            handle.write(
                f'\n[targets.cdn{n}]\nkind = "s3"\nbucket = "bench-afterword-{n}"\n'
                f'region = "us-east-1"\nendpoint_url = "{direct}"\n'
                f'cloudfront_distribution_id = "{distribution}"\nmax_workers = {workers}\n'
            )
    config = load_config(site / "afterword.toml")
    store = open_store(config.database_path)
    seed(store, pages)
    build = build_site(config, store)
    print(
        f"# machine shared with other engineers: figures are indicative ({os.cpu_count()} cores);"
        f" {repeat} repetitions, median; concurrency {workers} for both tools"
    )
    print(
        f"built {pages} pages: {build.files_written} objects, {build.bytes_written} bytes, "
        f"{build.seconds:.1f} s"
    )
    rows: list[Row] = []
    plans: dict[str, list[float]] = {}
    for n in range(repeat):
        planning, seconds, report = afterword_publish(site, store, direct, f"cdn{n}")
        plans.setdefault("first publish", []).append(planning)
        rows.append(("afterword", "first publish", report.uploaded, seconds))
        seconds = aws_sync(config.output_dir, f"bench-sync-{n}", direct, aws_config)
        rows.append(("aws s3 sync", "first publish", build.files_written, seconds))
    changed = 0
    for n in range(repeat):
        with store.write() as conn:
            insert_comment(conn, comment(f"/blog/post-{(42 + n) % pages:05}/"))
        changed = len(build_site(config, store).changed_keys)
        for label in ("after one approval", "no change"):
            proxy.reset()
            planning, seconds, report = afterword_publish(site, store, proxy.url, "cdn0")
            plans.setdefault(label, []).append(planning)
            rows.append(("afterword", label, proxy.count(), seconds))
            proxy.reset()
            seconds = aws_sync(config.output_dir, "bench-sync-0", proxy.url, aws_config)
            rows.append(("aws s3 sync", label, proxy.count(), seconds))
    print(f"one approval changed {changed} objects")
    report_rows(rows)
    for label, values in plans.items():
        print(
            f"afterword planning, {label}: median {statistics.median(values) * 1000:.1f} ms "
            f"({' · '.join(f'{v * 1000:.1f}' for v in values)})"
        )


def report_rows(rows: list[Row]) -> None:
    print(f"{'tool':<12} {'run':<20} {'objects/requests':>16} {'seconds (runs)':<28} median")
    groups: dict[tuple[str, str], list[Row]] = {}
    for row in rows:
        groups.setdefault((row[0], row[1]), []).append(row)
    for (tool, label), group in groups.items():
        counts = sorted({row[2] for row in group})
        seconds = [row[3] for row in group]
        middle = statistics.median(seconds)
        runs = " · ".join(f"{s:.2f}" for s in seconds)
        rate = f" ({counts[0] / middle:,.0f} obj/s)" if label == "first publish" else ""
        count = "/".join(str(c) for c in counts)
        print(f"{tool:<12} {label:<20} {count:>16} {runs:<28} {middle:.2f}{rate}")


if __name__ == "__main__":
    main()
