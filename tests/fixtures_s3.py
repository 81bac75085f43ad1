"""S3 and CloudFront as a real HTTP endpoint on loopback: moto's server behind a small proxy.

``moto_endpoint`` (session) runs ``ThreadedMotoServer`` on an ephemeral 127.0.0.1 port.
``s3`` (per test) puts a ``CountingProxy`` in front of it — every request boto3 makes goes
through the proxy, which counts it and can answer with injected faults (503 SlowDown,
AccessDenied, …) or add a delay — and creates a fresh bucket and CloudFront distribution.
Tests assert on the proxy's counts and read results straight from moto (``s3.direct``).
"""

from __future__ import annotations

import http.client
import logging
import os
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto.server import ThreadedMotoServer

CLOUDFRONT_PREFIX = "/2020-05-31/"
HOP_HEADERS = {"connection", "keep-alive", "transfer-encoding", "proxy-connection"}


@dataclass
class Fault:
    """Answer ``times`` matching requests with ``status``/``code`` instead of forwarding."""

    method: str
    status: int
    code: str
    times: int
    path_prefix: str = ""


@dataclass
class Seen:
    method: str
    path: str


@dataclass
class ProxyState:
    upstream: tuple[str, int]
    seen: list[Seen] = field(default_factory=list)
    faults: list[Fault] = field(default_factory=list)
    delay: float = 0.0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def take_fault(self, method: str, path: str) -> Fault | None:
        with self.lock:
            self.seen.append(Seen(method, path))
            for fault in self.faults:
                wanted = fault.method in (method, "*") and path.startswith(fault.path_prefix)
                if fault.times > 0 and wanted:
                    fault.times -= 1
                    return fault
        return None


class ProxyHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: Any

    def _handle(self) -> None:
        state: ProxyState = self.server.state
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        fault = state.take_fault(self.command, self.path)
        if fault is not None:
            self._fault(fault)
            return
        if state.delay and self.command in ("PUT", "DELETE"):
            time.sleep(state.delay)
        connection = http.client.HTTPConnection(*state.upstream, timeout=30)
        headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_HEADERS}
        connection.request(self.command, self.path, body=body or None, headers=headers)
        answer = connection.getresponse()
        data = answer.read()
        self.send_response(answer.status)
        for name, value in answer.getheaders():
            if name.lower() not in HOP_HEADERS | {"content-length"}:
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)
        connection.close()

    def _fault(self, fault: Fault) -> None:
        if self.path.startswith(CLOUDFRONT_PREFIX):
            xml = (
                "<ErrorResponse><Error><Type>Sender</Type><Code>{code}</Code>"
                "<Message>injected</Message></Error><RequestId>1</RequestId></ErrorResponse>"
            )
        else:
            xml = (
                "<Error><Code>{code}</Code><Message>injected</Message>"
                "<RequestId>1</RequestId></Error>"
            )
        data = ('<?xml version="1.0" encoding="UTF-8"?>' + xml.format(code=fault.code)).encode()
        self.send_response(fault.status)
        self.send_header("Content-Type", "application/xml")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = _handle

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: tests read counts, not logs."""


class CountingProxy:
    """A threaded HTTP proxy on 127.0.0.1 that counts requests and injects faults."""

    def __init__(self, upstream: tuple[str, int]) -> None:
        self.state = ProxyState(upstream)
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), ProxyHandler)
        self.server.daemon_threads = True
        self.server.state = self.state  # type: ignore[attr-defined]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> CountingProxy:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join()

    def reset(self) -> None:
        with self.state.lock:
            self.state.seen.clear()

    def count(self, method: str = "*", path_prefix: str = "") -> int:
        with self.state.lock:
            return sum(
                1
                for seen in self.state.seen
                if method in ("*", seen.method) and seen.path.startswith(path_prefix)
            )

    def inject(
        self, method: str, status: int, code: str, times: int, path_prefix: str = ""
    ) -> None:
        with self.state.lock:
            self.state.faults.append(Fault(method, status, code, times, path_prefix))


@dataclass
class S3Env:
    """One test's bucket and distribution, reached through ``proxy`` (counted)."""

    proxy: CountingProxy
    direct_url: str
    bucket: str
    distribution: str

    @property
    def endpoint(self) -> str:
        return self.proxy.url

    @property
    def direct(self) -> Any:
        """An S3 client talking to moto without the proxy: reading results costs no count."""
        return boto3.client("s3", endpoint_url=self.direct_url, region_name="us-east-1")

    @property
    def cloudfront(self) -> Any:
        return boto3.client("cloudfront", endpoint_url=self.direct_url, region_name="us-east-1")

    def objects(self) -> dict[str, bytes]:
        """Every object in the bucket with its bytes."""
        client = self.direct
        listing = client.list_objects_v2(Bucket=self.bucket).get("Contents", [])
        return {
            o["Key"]: client.get_object(Bucket=self.bucket, Key=o["Key"])["Body"].read()
            for o in listing
        }

    def invalidated_paths(self) -> list[list[str]]:
        """Paths of each invalidation created on the distribution, oldest first."""
        client = self.cloudfront
        items = client.list_invalidations(DistributionId=self.distribution)["InvalidationList"]
        found = []
        for summary in items.get("Items", []):
            detail = client.get_invalidation(DistributionId=self.distribution, Id=summary["Id"])
            found.append(sorted(detail["Invalidation"]["InvalidationBatch"]["Paths"]["Items"]))
        return found

    def env(self) -> dict[str, str]:
        """Environment for a subprocess: dummy credentials, CloudFront through the proxy."""
        return {
            **os.environ,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_EC2_METADATA_DISABLED": "true",
            "AWS_ENDPOINT_URL_CLOUDFRONT": self.endpoint,
        }

    def target_toml(self, name: str = "cdn", **extra: Any) -> str:
        settings: dict[str, Any] = {
            "kind": "s3",
            "bucket": self.bucket,
            "region": "us-east-1",
            "endpoint_url": self.endpoint,
            "cloudfront_distribution_id": self.distribution,
            **extra,
        }
        return toml_table(f"targets.{name}", settings)


def toml_table(title: str, settings: dict[str, Any]) -> str:
    lines = [f"\n[{title}]"]
    for key, value in settings.items():
        shown = repr(value) if isinstance(value, int) else f'"{value}"'
        lines.append(f"{key} = {shown}")
    return "\n".join(lines) + "\n"


def add_to_config(site_dir: Path, text: str) -> None:
    with (site_dir / "afterword.toml").open("a", encoding="utf-8") as handle:
        handle.write(text)


def create_distribution(client: Any, bucket: str) -> str:
    origin_id = f"{bucket}-origin"
    config = {
        "CallerReference": uuid.uuid4().hex,
        "Comment": "afterword tests",
        "Enabled": True,
        "Origins": {
            "Quantity": 1,
            "Items": [
                {
                    "Id": origin_id,
                    "DomainName": f"{bucket}.s3.amazonaws.com",
                    "S3OriginConfig": {"OriginAccessIdentity": ""},
                }
            ],
        },
        "DefaultCacheBehavior": {
            "TargetOriginId": origin_id,
            "ViewerProtocolPolicy": "allow-all",
            "MinTTL": 0,
            "ForwardedValues": {"QueryString": False, "Cookies": {"Forward": "none"}},
            "TrustedSigners": {"Enabled": False, "Quantity": 0},
        },
    }
    answer = client.create_distribution(DistributionConfig=config)
    return str(answer["Distribution"]["Id"])


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    """moto's S3 + CloudFront server on an ephemeral loopback port, for the whole session."""
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def s3(moto_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[S3Env]:
    """A fresh bucket and distribution behind a fresh counting proxy."""
    host, port = moto_endpoint.removeprefix("http://").split(":")
    proxy = CountingProxy((host, int(port))).start()
    bucket = f"afterword-{uuid.uuid4().hex[:12]}"
    boto3.client("s3", endpoint_url=moto_endpoint, region_name="us-east-1").create_bucket(
        Bucket=bucket
    )
    cloudfront = boto3.client("cloudfront", endpoint_url=moto_endpoint, region_name="us-east-1")
    env = S3Env(proxy, moto_endpoint, bucket, create_distribution(cloudfront, bucket))
    monkeypatch.setenv("AWS_ENDPOINT_URL_CLOUDFRONT", proxy.url)
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "3")
    yield env
    proxy.stop()


def write_output(
    store: Any, output_dir: Path, files: dict[str, bytes], *, removed: tuple[str, ...] = ()
) -> None:
    """A hand-made build: files in the output folder plus their manifest rows (builder's API).

    Keys under ``threads/`` are fragments, ``*.<hash>.js`` immutable, other ``.js`` short.
    """
    import hashlib

    from afterword.store.build import ObjectRow, record_batch

    rows = []
    for key, data in files.items():
        path = output_dir.joinpath(*key.split("/"))
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        rows.append(
            ObjectRow(
                key, hashlib.sha256(data).hexdigest(), len(data), _type(key), _class(key), None
            )
        )
    for key in removed:
        output_dir.joinpath(*key.split("/")).unlink(missing_ok=True)
    record_batch(store, put=rows, removed=list(removed), built=[])


def _type(key: str) -> str:
    if key.endswith(".json"):
        return "application/json"
    if key.endswith(".js"):
        return "text/javascript; charset=utf-8"
    if key.endswith(".xml"):
        return "application/atom+xml"
    return "text/html; charset=utf-8"


def _class(key: str) -> str:
    name = key.rsplit("/", 1)[-1]
    if name.count(".") >= 2 and not key.startswith("threads/"):
        return "immutable"
    if name.endswith((".js", ".css")):
        return "short"
    return "fragment"
