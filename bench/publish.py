"""Publish figures against moto's S3/CloudFront server, side by side with ``aws s3 sync``.

    python bench/publish.py [--pages 10000] [--workers 16]

Measures, for afterword and for ``aws s3 sync --delete`` on the same output folder:
the first publish (objects/s), the publish after one approval (requests, seconds) and a
publish with no change (requests, seconds). moto runs as its own process on a loopback port;
requests are counted by a small proxy in front of it (the one the tests use), which is only
in the path for the runs whose requests are counted. Figures from a shared machine are
indicative only: moto's speed, not S3's, bounds the first publish.
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
os.environ["AWS_EC2_METADATA_DISABLED"] = "true"

import boto3  # noqa: E402
from fixtures_s3 import CountingProxy, create_distribution  # noqa: E402

from afterword.builder import build_site  # noqa: E402
from afterword.config import load_config  # noqa: E402
from afterword.markup import RENDERER_VERSION  # noqa: E402
from afterword.output.publish import publish_changes  # noqa: E402
from afterword.scaffold import write_config  # noqa: E402
from afterword.store import NewComment, Store, insert_comment, open_store  # noqa: E402


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


def afterword_publish(site: Path, store: Store, endpoint: str) -> tuple[float, Any]:
    env = {**os.environ, "AFTERWORD_TARGETS_CDN_ENDPOINT_URL": endpoint}
    config = load_config(site / "afterword.toml", environ=env)
    os.environ["AWS_ENDPOINT_URL_CLOUDFRONT"] = endpoint
    started = time.perf_counter()
    report = publish_changes(config, store, "cdn")
    return time.perf_counter() - started, report


def aws_sync(folder: Path, bucket: str, endpoint: str) -> float:
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
    subprocess.run(command, check=True)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pages", type=int, default=10_000)
    parser.add_argument("--workers", type=int, default=16)
    args = parser.parse_args()
    moto, direct = start_moto()
    proxy = CountingProxy(("127.0.0.1", int(direct.rsplit(":", 1)[1]))).start()
    try:
        run(args.pages, args.workers, direct, proxy)
    finally:
        proxy.stop()
        moto.terminate()
        moto.wait()


def run(pages: int, workers: int, direct: str, proxy: CountingProxy) -> None:
    s3 = boto3.client("s3", endpoint_url=direct)
    for bucket in ("bench-afterword", "bench-sync"):
        s3.create_bucket(Bucket=bucket)
    distribution = create_distribution(boto3.client("cloudfront", endpoint_url=direct), "bench")
    site = Path(tempfile.mkdtemp(prefix="afterword-bench-"))
    write_config(site, site_url="https://blog.example.com")
    with (site / "afterword.toml").open("a") as handle:
        handle.write(
            f'\n[targets.cdn]\nkind = "s3"\nbucket = "bench-afterword"\nregion = "us-east-1"\n'
            f'endpoint_url = "{direct}"\ncloudfront_distribution_id = "{distribution}"\n'
            f"max_workers = {workers}\n"
        )
    config = load_config(site / "afterword.toml")
    store = open_store(config.database_path)
    seed(store, pages)
    build = build_site(config, store)
    print(f"# machine shared with other engineers: figures are indicative ({os.cpu_count()} cores)")
    print(
        f"built {pages} pages: {build.files_written} objects, {build.bytes_written} bytes, "
        f"{build.seconds:.1f} s"
    )
    rows = []
    seconds, report = afterword_publish(site, store, direct)
    rows.append(("afterword", "first publish", report.uploaded, seconds))
    sync_seconds = aws_sync(config.output_dir, "bench-sync", direct)
    rows.append(("aws s3 sync", "first publish", build.files_written, sync_seconds))
    with store.write() as conn:
        insert_comment(conn, comment("/blog/post-00042/"))
    changed = build_site(config, store)
    for label in ("after one approval", "no change"):
        proxy.reset()
        seconds, report = afterword_publish(site, store, proxy.url)
        rows.append(("afterword", label, proxy.count(), seconds))
        proxy.reset()
        sync_seconds = aws_sync(config.output_dir, "bench-sync", proxy.url)
        rows.append(("aws s3 sync", label, proxy.count(), sync_seconds))
    print(f"one approval changed {len(changed.changed_keys)} objects")
    print(f"{'tool':<12} {'run':<20} {'objects/requests':>16} {'seconds':>8} {'per s':>8}")
    for tool, label, count, secs in rows:
        rate = f"{count / secs:>8.0f}" if label == "first publish" else f"{'':>8}"
        print(f"{tool:<12} {label:<20} {count:>16} {secs:>8.2f} {rate}")


if __name__ == "__main__":
    main()
