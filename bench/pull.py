"""``afterword pull`` throughput: queued submissions on moto's SQS drained into SQLite.

    python bench/pull.py [--messages 10000] [--repeat 3] [--batch 100]

Each repetition fills a fresh queue with ``--messages`` submissions made exactly as the SQS
intake makes them (``QueuedSubmission.new``), then drains it in a fresh process:

* ``pull``: ``pull_queue`` into a fresh SQLite database (validate again, render, the database
  rules, one transaction per batch, delete after the commit);
* ``sqs only``: the same receives and deletes (``pull``'s own ``_receive``/``_delete``, so
  the calls are the same), no validation and no SQLite — moto's own cost, the floor.

Both run one after the other within each repetition, so they see the same machine load.
Printed: submissions/s, the drain process's CPU time (user + sys, so afterword's own cost
shows apart from waiting for moto) and peak RSS, median of the repetitions. moto runs
as its own process on a loopback port; on a shared 2-core machine it, not afterword, is the
bottleneck, and its ReceiveMessage gets slower as the queue grows — see docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
os.environ["AWS_EC2_METADATA_DISABLED"] = "true"

import boto3  # noqa: E402

from afterword.config import LimitsConfig, load_config  # noqa: E402
from afterword.intake.envelope import QueuedSubmission  # noqa: E402
from afterword.intake.validate import validate_submission  # noqa: E402
from afterword.scaffold import write_config  # noqa: E402
from afterword.store import utc_now  # noqa: E402

SITE = "https://blog.example.com"
UNLIMITED = {"AFTERWORD_LIMITS_PER_MINUTE": "0", "AFTERWORD_LIMITS_PER_HOUR": "0"}


def start_moto() -> tuple[subprocess.Popen[bytes], str]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = int(probe.getsockname()[1])
    command = [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    for _ in range(200):
        try:
            urllib.request.urlopen(f"{url}/moto-api/", timeout=1).close()
            return process, url
        except OSError:
            time.sleep(0.1)
    process.kill()
    raise SystemExit("moto did not start")


def fill(endpoint: str, count: int) -> str:
    """A fresh queue holding ``count`` submissions (ten per SendMessageBatch, 8 in parallel)."""
    client = boto3.client("sqs", endpoint_url=endpoint, region_name="us-east-1")
    url = str(client.create_queue(QueueName=f"bench-{uuid.uuid4().hex[:8]}")["QueueUrl"])
    limits = LimitsConfig()
    received = utc_now()

    def body(n: int) -> str:
        fields = {
            "page": f"/blog/post-{n % 200}/",
            "author": f"Reader {n}",
            "email": f"r{n}@example.org",
            "body": f"Comment number {n}, *thanks*.",
        }
        submission = validate_submission(fields, limits)
        client_net = f"198.51.{n // 250 % 250}.{n % 250}"
        return QueuedSubmission.new(submission, client_net, SITE + submission.page_key,
                                    received).to_message()  # fmt: skip

    def send(start: int) -> None:
        entries = [{"Id": str(i), "MessageBody": body(start + i)}
                   for i in range(min(10, count - start))]  # fmt: skip
        client.send_message_batch(QueueUrl=url, Entries=entries)

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(send, range(0, count, 10)))
    return url


def drain(mode: str, endpoint: str, url: str, batch: int, folder: Path) -> dict[str, Any]:
    """One drain in a fresh process: its wall time, what it handled, its peak RSS."""
    env = {**os.environ, "AWS_ENDPOINT_URL_SQS": endpoint, "PYTHONPATH": str(ROOT),
           "AFTERWORD_INTAKE_QUEUE": url, **UNLIMITED}  # fmt: skip
    command = [sys.executable, __file__, "--worker", mode, "--queue", url,
               "--batch", str(batch), "--folder", str(folder)]  # fmt: skip
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=True)
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def worker(mode: str, url: str, batch: int, folder: Path) -> None:
    from afterword.intake.pull import _delete, _receive, pull_queue
    from afterword.intake.sqs import sqs_client
    from afterword.store import open_store

    sqs = sqs_client(url)
    if mode == "pull":
        write_config(folder, site_url=SITE, force=True)
        config = load_config(folder / "afterword.toml")  # the queue: AFTERWORD_INTAKE_QUEUE
        store = open_store(config.database_path)
        started = time.perf_counter()
        report = pull_queue(config, store, sqs, once=True, batch=batch, wait_seconds=0)
        seconds = time.perf_counter() - started
        count = report.stored
        stored = store.query("SELECT count(*) AS n FROM comments")[0]["n"]
        store.close()
        assert stored == count, (stored, count)
    else:
        started = time.perf_counter()
        count = 0
        while True:
            messages, _ = _receive(sqs, url, batch, 0)
            if not messages:
                break
            count += _delete(sqs, url, [m.receipt for m in messages])
        seconds = time.perf_counter() - started
    usage = resource.getrusage(resource.RUSAGE_SELF)
    print(json.dumps({"seconds": seconds, "count": count, "peak_mib": usage.ru_maxrss / 1024,
                      "cpu": usage.ru_utime + usage.ru_stime}))  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--messages", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--worker", choices=["pull", "sqs"], help=argparse.SUPPRESS)
    parser.add_argument("--queue", help=argparse.SUPPRESS)
    parser.add_argument("--folder", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args.worker, args.queue, args.batch, args.folder)
        return
    moto, endpoint = start_moto()
    results: dict[str, list[dict[str, Any]]] = {"pull": [], "sqs": []}
    try:
        for repetition in range(args.repeat):
            for mode in ("pull", "sqs"):
                url = fill(endpoint, args.messages)
                with tempfile.TemporaryDirectory() as folder:
                    found = drain(mode, endpoint, url, args.batch, Path(folder))
                assert found["count"] == args.messages, found
                results[mode].append(found)
                rate = found["count"] / found["seconds"]
                print(f"  run {repetition + 1} {mode:4}: {found['seconds']:7.1f} s "
                      f"{rate:7.1f}/s cpu {found.get('cpu', 0):5.1f} s "
                      f"peak {found['peak_mib']:.0f} MiB", flush=True)  # fmt: skip
    finally:
        moto.terminate()
        moto.wait()
    print(f"{args.messages:,} queued submissions, batch {args.batch}, median of {args.repeat}:")
    for mode, label in (("pull", "afterword pull (SQLite)"), ("sqs", "receive + delete only")):
        runs = results[mode]
        rate = statistics.median(r["count"] / r["seconds"] for r in runs)
        seconds = statistics.median(r["seconds"] for r in runs)
        peak = statistics.median(r["peak_mib"] for r in runs)
        cpu = statistics.median(r.get("cpu", 0.0) for r in runs)
        print(f"  {label:25} {rate:8.1f} submissions/s  {seconds:7.1f} s  "
              f"drain CPU {cpu:5.1f} s  peak RSS {peak:.0f} MiB")  # fmt: skip


if __name__ == "__main__":
    main()
