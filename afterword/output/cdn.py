"""Telling a CDN to forget changed paths: CloudFront, or any CDN with a purge URL.

A target has at most one CDN: a CloudFront distribution (``cloudfront_distribution_id``) or
a purge-URL template (``purge_url``, POSTed once per changed path with ``{path}`` replaced,
e.g. ``https://api.example-cdn.net/purge?url=https://comments.example.com{path}``). The
purge request carries ``Authorization: $AFTERWORD_PURGE_AUTHORIZATION`` when that variable
is set: secrets never live in afterword.toml.
"""

from __future__ import annotations

import os
import threading
import urllib.error
import urllib.request
import uuid
from typing import Any
from urllib.parse import quote

from botocore.exceptions import ClientError

from afterword.config import TargetConfig
from afterword.errors import PublishError
from afterword.output.base import Cdn
from afterword.output.errors import Where, mapped
from afterword.output.s3 import make_client

PURGE_AUTH_ENV = "AFTERWORD_PURGE_AUTHORIZATION"
PURGE_TIMEOUT = 15
URL_SAFE = "/-._~!$&'()*+,;=:@"  # not "%": a literal % in a key is %25 in its URL


def url_path(prefix: str, key: str) -> str:
    """The request path of an object: keys are already URL-safe, anything else is quoted."""
    return "/" + quote(prefix.lstrip("/") + key, safe=URL_SAFE)


class CloudFront:
    """Invalidations of one distribution; the client is made on first use."""

    def __init__(self, name: str, config: TargetConfig) -> None:
        self.config = config
        self.prefix = config.prefix
        self.distribution = config.cloudfront_distribution_id
        self.where = Where(name, distribution=self.distribution)
        self._client: Any = None
        self._lock = threading.Lock()

    @property
    def client(self) -> Any:
        with self._lock:
            if self._client is None:
                with mapped(self.where):
                    self._client = make_client("cloudfront", self.config)
            return self._client

    def url_paths(self, keys: list[str]) -> list[str]:
        return [url_path(self.prefix, key) for key in keys]

    def wildcard(self) -> str:
        return url_path(self.prefix, "*")

    def submit(self, paths: list[str]) -> tuple[str, bool]:
        batch = {
            "Paths": {"Quantity": len(paths), "Items": paths},
            "CallerReference": f"afterword-{uuid.uuid4().hex}",
        }
        with mapped(self.where):
            answer = self.client.create_invalidation(
                DistributionId=self.distribution, InvalidationBatch=batch
            )
        invalidation = answer["Invalidation"]
        return str(invalidation["Id"]), _done(invalidation["Status"])

    def is_complete(self, reference: str) -> bool:
        with mapped(self.where):
            answer = self.client.get_invalidation(DistributionId=self.distribution, Id=reference)
        return _done(answer["Invalidation"]["Status"])

    def probe(self) -> str:
        """GetInvalidation of an id that cannot exist: needs only the permission we use."""
        with mapped(self.where):
            try:
                self.client.get_invalidation(DistributionId=self.distribution, Id="AFTERWORDPROBE")
            except ClientError as exc:
                if exc.response.get("Error", {}).get("Code") != "NoSuchInvalidation":
                    raise
        return f"CloudFront distribution {self.distribution} answers"


class PurgeUrl:
    """One POST per path to a templated URL; done when every POST succeeded."""

    def __init__(self, name: str, config: TargetConfig) -> None:
        self.name = name
        self.template = config.purge_url
        self.prefix = config.prefix

    def url_paths(self, keys: list[str]) -> list[str]:
        return [url_path(self.prefix, key) for key in keys]

    def wildcard(self) -> str:
        return url_path(self.prefix, "*")

    def submit(self, paths: list[str]) -> tuple[str, bool]:
        for path in paths:
            self._post(self.template.replace("{path}", path))
        return f"purged {len(paths)}", True

    def is_complete(self, reference: str) -> bool:
        return True

    def probe(self) -> str:
        return f"purge URL template {self.template.split('?', 1)[0]} (not called by doctor)"

    def _post(self, url: str) -> None:
        request = urllib.request.Request(url, data=b"", method="POST")
        token = os.environ.get(PURGE_AUTH_ENV)
        if token:
            request.add_header("Authorization", token)
        shown = url.split("?", 1)[0]
        try:
            with urllib.request.urlopen(request, timeout=PURGE_TIMEOUT) as response:
                response.read()
        except urllib.error.HTTPError as exc:
            raise PublishError(
                f"targets.{self.name}: purge request to {shown} answered {exc.code}: check "
                f"targets.{self.name}.purge_url and ${PURGE_AUTH_ENV}"
            ) from None
        except (urllib.error.URLError, OSError) as exc:
            raise PublishError(
                f"targets.{self.name}: cannot reach purge URL {shown}: {_reason(exc)}"
            ) from None


def open_cdn(name: str, config: TargetConfig) -> Cdn | None:
    """The CDN in front of a target, if any: CloudFront wins over a purge URL."""
    if config.cloudfront_distribution_id:
        return CloudFront(name, config)
    if config.purge_url:
        return PurgeUrl(name, config)
    return None


def _done(status: str) -> bool:
    return status.lower() == "completed"


def _reason(exc: BaseException) -> str:
    reason = getattr(exc, "reason", None) or getattr(exc, "strerror", None) or exc
    return str(reason)
