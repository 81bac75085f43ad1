"""What lets readers fetch what ``afterword publish`` uploaded: bucket policies and a CORS rule.

afterword itself never reads the bucket back (its IAM policy has no ``s3:GetObject``), so the
read side is the bucket owner's to set up, and a freshly made bucket answers every reader
``403``. These functions make the three documents docs/publishing.md shows, for one target:

- ``cloudfront_policy``: the bucket stays private and only the CloudFront distribution, signing
  with Origin Access Control, may read the objects under the prefix (``AWS:SourceArn``);
- ``website_policy``: anyone may read the objects under the prefix, nothing else in the bucket
  (for a bucket read directly, without a CDN); it needs the bucket's Block Public Access
  settings relaxed as ``public_access_block`` says, or S3 refuses the policy;
- ``cors_configuration``: the rule the widget needs when the comments are served from another
  origin than the pages: GET/HEAD for the site's origins. The widget's reads are simple
  requests (no custom header, ``credentials: "omit"``) and it reads no response header, so no
  ``AllowedHeaders`` and no ``ExposeHeaders`` are needed; browsers revalidate with the ETag
  on their own, which CORS does not restrict.

The documents are plain dicts (``as_json`` renders them the way the docs print them), so a
command can print them or hand them to boto3 unchanged. tests/test_publish_read_side.py
applies the JSON blocks of docs/publishing.md to a bucket on the moto server and reads it from
Chromium, and checks that these functions make exactly those blocks.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import Any
from urllib.parse import urlsplit

from afterword.config import TargetConfig
from afterword.errors import ConfigError

READ_ACTION = "s3:GetObject"
CORS_METHODS = ["GET", "HEAD"]
ACCOUNT_ID = re.compile(r"\d{12}")
DISTRIBUTION_ID = re.compile(r"[A-Z0-9]{1,64}")
# IAM treats * and ? in a Resource as wildcards and $ as the start of a policy variable;
# these are its escapes for the literal characters.
ARN_ESCAPES = {"*": "${*}", "?": "${?}", "$": "${$}"}

Document = dict[str, Any]


def objects_arn(bucket: str, prefix: str) -> str:
    """Every object under ``prefix``: keys are the prefix (without a leading ``/``) + key.

    The prefix is normalized exactly as the s3 target does, so the pattern covers what
    publish uploads and nothing beside it.
    """
    if not bucket:
        raise ConfigError("a bucket policy needs the target's bucket")
    literal = "".join(ARN_ESCAPES.get(char, char) for char in prefix.lstrip("/"))
    return f"arn:aws:s3:::{bucket}/{literal}*"


def distribution_arn(account_id: str, distribution_id: str) -> str:
    """The ARN CloudFront gives a distribution (what ``AWS:SourceArn`` must equal)."""
    if not ACCOUNT_ID.fullmatch(account_id):
        raise ConfigError(f"AWS account id {account_id!r}: expected 12 digits")
    if not DISTRIBUTION_ID.fullmatch(distribution_id):
        raise ConfigError(
            f"CloudFront distribution id {distribution_id!r}: expected capital letters and digits"
        )
    return f"arn:aws:cloudfront::{account_id}:distribution/{distribution_id}"


def cloudfront_policy(bucket: str, prefix: str, source_arn: str) -> Document:
    """Only CloudFront, on behalf of the one distribution ``source_arn``, reads the prefix."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "AfterwordReadersThroughCloudFront",
                "Effect": "Allow",
                "Principal": {"Service": "cloudfront.amazonaws.com"},
                "Action": READ_ACTION,
                "Resource": objects_arn(bucket, prefix),
                "Condition": {"StringEquals": {"AWS:SourceArn": source_arn}},
            }
        ],
    }


def website_policy(bucket: str, prefix: str) -> Document:
    """Anyone reads the objects under the prefix; listing and the rest of the bucket stay closed.

    Without ``s3:ListBucket`` a missing key answers ``403`` rather than ``404``; the widget
    treats both as "no thread yet".
    """
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "AfterwordPublicReaders",
                "Effect": "Allow",
                "Principal": "*",
                "Action": READ_ACTION,
                "Resource": objects_arn(bucket, prefix),
            }
        ],
    }


def public_access_block() -> Document:
    """Block Public Access as a public-read bucket policy needs it: ACLs stay blocked."""
    return {
        "BlockPublicAcls": True,
        "IgnorePublicAcls": True,
        "BlockPublicPolicy": False,
        "RestrictPublicBuckets": False,
    }


def cors_configuration(origins: Sequence[str]) -> Document:
    """One rule: the site's origins may GET and HEAD the comments (``*`` for any origin)."""
    if not origins:
        raise ConfigError("a CORS rule needs at least one origin, e.g. https://www.example.com")
    for origin in origins:
        check_origin(origin)
    return {"CORSRules": [{"AllowedOrigins": list(origins), "AllowedMethods": CORS_METHODS}]}


def check_origin(origin: str) -> None:
    """An origin as browsers send it: ``scheme://host[:port]``, lowercase, nothing after it.

    S3 compares ``AllowedOrigins`` with the ``Origin`` header as text, so a page URL or a
    trailing slash here would silently never match.
    """
    if origin == "*":
        return
    fix = "give it as scheme://host[:port], e.g. https://www.example.com"
    try:
        parts = urlsplit(origin)
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number
    except ValueError:
        raise ConfigError(f"origin {origin!r} is not a URL: {fix}") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(f"origin {origin!r} is not an http(s) origin: {fix}")
    if origin != f"{parts.scheme}://{parts.netloc}" or "@" in parts.netloc:
        raise ConfigError(f"origin {origin!r} has more than scheme and host: {fix}")
    if origin != origin.lower():
        raise ConfigError(f"origin {origin!r} must be lowercase, as browsers send it")


def reader_documents(
    name: str,
    target: TargetConfig,
    *,
    reader: str,
    origins: Sequence[str] = (),
    account_id: str = "",
) -> dict[str, Document]:
    """Everything one s3 target needs for ``reader`` (``cloudfront`` or ``website``).

    Keys: ``bucket-policy``, ``public-access-block`` (website only) and ``cors`` (only when
    ``origins`` are given: comments on the pages' own origin need no CORS). This is the whole
    of what a ``--print-policy`` style command would print.
    """
    if target.kind != "s3":
        raise ConfigError(f"targets.{name}: bucket policies are for kind = 's3' targets")
    documents: dict[str, Document] = {}
    if reader == "cloudfront":
        if not target.cloudfront_distribution_id:
            raise ConfigError(
                f"targets.{name}.cloudfront_distribution_id is needed for a CloudFront policy"
            )
        source = distribution_arn(account_id, target.cloudfront_distribution_id)
        documents["bucket-policy"] = cloudfront_policy(target.bucket, target.prefix, source)
    elif reader == "website":
        documents["bucket-policy"] = website_policy(target.bucket, target.prefix)
        documents["public-access-block"] = public_access_block()
    else:
        raise ConfigError(f"reader {reader!r}: expected cloudfront or website")
    if origins:
        documents["cors"] = cors_configuration(origins)
    return documents


def as_json(document: Document) -> str:
    """The document as docs/publishing.md prints it (and ``aws s3api`` reads it)."""
    return json.dumps(document, indent=2) + "\n"
