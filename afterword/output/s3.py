"""Target kind ``s3``: Amazon S3 and S3-compatible stores (R2, B2, MinIO) through boto3.

Credentials, region and endpoint come from boto3's own chain (``AWS_PROFILE``,
``AWS_ACCESS_KEY_ID``, ``AWS_REGION``, ``AWS_ENDPOINT_URL_S3`` …) unless the target sets
``region`` / ``endpoint_url``. The client is made on first use, so a publish with nothing to
do never touches the network.

Every PUT carries ``Content-MD5``: the one integrity check every S3-compatible store
understands. botocore's newer default checksums (CRC32 trailers) are turned off with
``request_checksum_calculation="when_required"`` because several compatible stores reject
them.
"""

from __future__ import annotations

import base64
import hashlib
import threading
import uuid
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

import boto3
from botocore.config import Config as BotoConfig

from afterword.config import TargetConfig
from afterword.output.base import Upload
from afterword.output.errors import Where, mapped

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

PROBE_NAME = ".afterword-doctor-probe-"
CONNECT_TIMEOUT = 10
READ_TIMEOUT = 60


def client_config(max_workers: int) -> BotoConfig:
    """Standard retries (with boto3's own AWS_MAX_ATTEMPTS honoured) and one pool per worker."""
    return BotoConfig(
        retries={"mode": "standard"},
        max_pool_connections=max(10, max_workers),
        connect_timeout=CONNECT_TIMEOUT,
        read_timeout=READ_TIMEOUT,
        request_checksum_calculation="when_required",
        response_checksum_validation="when_required",
    )


def public_endpoint(url: str) -> str:
    """The endpoint as shown in messages: any user:password@ part removed."""
    if not url:
        return ""
    parts = urlsplit(url)
    host = parts.hostname or ""
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


class S3Target:
    """Puts and deletes objects under ``bucket/prefix``."""

    def __init__(self, name: str, config: TargetConfig) -> None:
        self.name = name
        self.config = config
        self.max_workers = max(1, config.max_workers)
        self.prefix = config.prefix.lstrip("/")
        self.where = Where(
            name, bucket=config.bucket, endpoint=public_endpoint(config.endpoint_url)
        )
        self._client: S3Client | None = None
        self._lock = threading.Lock()

    @property
    def client(self) -> S3Client:
        """One client shared by the upload threads (boto3 clients are thread-safe)."""
        with self._lock:
            if self._client is None:
                with mapped(self.where):
                    self._client = make_client("s3", self.config, self.max_workers)
            return self._client

    def put(self, upload: Upload, data: bytes) -> None:
        md5 = base64.b64encode(hashlib.md5(data, usedforsecurity=False).digest()).decode()
        with mapped(self.where):
            self.client.put_object(
                Bucket=self.config.bucket,
                Key=self.prefix + upload.key,
                Body=data,
                ContentType=upload.content_type,
                CacheControl=upload.cache_control,
                ContentMD5=md5,
                Metadata={"sha256": upload.sha256},
            )

    def delete(self, key: str) -> None:
        with mapped(self.where):
            self.client.delete_object(Bucket=self.config.bucket, Key=self.prefix + key)

    def probe(self) -> str:
        key = f"{self.prefix}{PROBE_NAME}{uuid.uuid4().hex}"
        data = b"afterword doctor probe\n"
        md5 = base64.b64encode(hashlib.md5(data, usedforsecurity=False).digest()).decode()
        with mapped(self.where):
            self.client.put_object(
                Bucket=self.config.bucket,
                Key=key,
                Body=data,
                ContentMD5=md5,
                ContentType="text/plain; charset=utf-8",
            )
            self.client.delete_object(Bucket=self.config.bucket, Key=key)
        return f"put and deleted s3://{self.config.bucket}/{key}"

    def sweep(self, keys: Iterable[str], *, everywhere: bool, alone: bool) -> int:
        """Nothing to sweep: a PUT lands whole or not at all, so a killed publish leaves no
        partial object behind."""
        return 0

    def close(self) -> None:
        with self._lock:
            if self._client is not None:
                self._client.close()
                self._client = None


def make_client(service: str, config: TargetConfig, max_workers: int = 10) -> Any:
    """A boto3 client honouring the target's region/endpoint, else boto3's environment."""
    session = boto3.session.Session()
    kwargs: dict[str, Any] = {"config": client_config(max_workers)}
    if config.region:
        kwargs["region_name"] = config.region
    if config.endpoint_url and service == "s3":
        kwargs["endpoint_url"] = config.endpoint_url
    return session.client(service, **kwargs)  # type: ignore[call-overload]


def open_target(name: str, config: TargetConfig) -> S3Target:
    return S3Target(name, config)
