"""botocore's and the filesystem's exceptions, mapped once into ``PublishError``.

Every message names the target and says what to change. Credentials never appear: messages
are written here from the error *code*, never by echoing a request, a proxy URL or a config
chain, so nothing secret can leak into a terminal, a log or a CI transcript.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from botocore import exceptions as boto

from afterword.errors import PublishError

POLICY_HINT = "see the minimal IAM policy in docs/publishing.md"


@dataclass(frozen=True)
class Where:
    """What a failing request was talking to, so the message can name the setting to fix."""

    target: str
    bucket: str = ""
    endpoint: str = ""
    distribution: str = ""

    @property
    def service(self) -> str:
        return (
            f"CloudFront distribution {self.distribution}"
            if self.distribution
            else (f"bucket {self.bucket!r}")
        )


CODES: dict[str, frozenset[str]] = {
    "bucket": frozenset({"NoSuchBucket"}),
    "distribution": frozenset({"NoSuchDistribution"}),
    "credentials": frozenset(
        {
            "InvalidAccessKeyId",
            "SignatureDoesNotMatch",
            "ExpiredToken",
            "InvalidToken",
            "InvalidClientTokenId",
            "TokenRefreshRequired",
        }
    ),
    "denied": frozenset({"AccessDenied", "AllAccessDisabled", "403"}),
    "region": frozenset(
        {
            "PermanentRedirect",
            "AuthorizationHeaderMalformed",
            "301",
            "IllegalLocationConstraintException",
        }
    ),
    "busy": frozenset({"TooManyInvalidationsInProgress"}),
    "throttled": frozenset(
        {"SlowDown", "ServiceUnavailable", "Throttling", "RequestLimitExceeded", "503"}
    ),
    "server": frozenset({"InternalError", "500", "502", "504", "RequestTimeout"}),
    "checksum": frozenset({"BadDigest", "InvalidDigest", "XAmzContentSHA256Mismatch"}),
}
MESSAGES = {
    "bucket": "bucket {bucket!r} does not exist{at}: create it or fix {name}.bucket",
    "distribution": "CloudFront distribution {distribution!r} does not exist: "
    "fix {name}.cloudfront_distribution_id",
    "credentials": "the credentials were refused ({code}): check AWS_ACCESS_KEY_ID / "
    "AWS_SECRET_ACCESS_KEY / AWS_PROFILE (wrong, expired or for another account)",
    "denied": "access denied to {service}: grant the credentials' user or role the "
    f"permissions afterword needs ({POLICY_HINT})",
    "region": "bucket {bucket!r} is in another region: set {name}.region",
    "busy": "CloudFront has too many invalidations in progress; the paths stay queued and "
    "are sent by the next publish",
    "throttled": "the store kept throttling ({code}) after retries: publish again later "
    "(finished uploads are kept) or lower {name}.max_workers",
    "server": "the store failed ({code}) after retries: publish again later",
    "checksum": "an upload arrived corrupted (checksum mismatch, {code}): publish again; "
    "if it persists, a proxy is altering requests",
    "other": "{service} refused the request: {code}",
}


def client_error(exc: boto.ClientError, where: Where) -> PublishError:
    """A refusal the service answered with: pick the message by its error code."""
    code = str(exc.response.get("Error", {}).get("Code", ""))
    status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0))
    name = f"targets.{where.target}"
    message = MESSAGES[_classify(code, status, where)].format(
        name=name,
        code=code or status,
        bucket=where.bucket,
        distribution=where.distribution,
        service=where.service,
        at=_at(where),
    )
    return PublishError(f"{name}: {message}")


def _classify(code: str, status: int, where: Where) -> str:
    for kind, codes in CODES.items():
        if code in codes:
            return kind
    if code == "404" and not where.distribution:
        return "bucket"
    if status == 403:
        return "denied"
    if status == 503:
        return "throttled"
    return "server" if status >= 500 else "other"


def transport_error(exc: Exception, where: Where) -> PublishError:
    """A failure before any answer: credentials, region, network."""
    name = f"targets.{where.target}"
    if isinstance(exc, boto.NoCredentialsError | boto.PartialCredentialsError):
        return PublishError(
            f"{name}: no usable AWS credentials found: set AWS_ACCESS_KEY_ID and "
            "AWS_SECRET_ACCESS_KEY (or AWS_PROFILE) in the environment, never in afterword.toml"
        )
    if isinstance(exc, boto.CredentialRetrievalError | boto.TokenRetrievalError):
        return PublishError(
            f"{name}: the configured credential source failed: check AWS_PROFILE and its "
            "credential_process / SSO login"
        )
    if isinstance(exc, boto.NoRegionError):
        return PublishError(f"{name}: no region: set {name}.region or AWS_REGION")
    if isinstance(exc, boto.ReadTimeoutError):
        return PublishError(f"{name}: {where.service}{_at(where)} stopped answering: retry later")
    if isinstance(exc, boto.SSLError):
        return PublishError(
            f"{name}: TLS failed talking to {where.service}{_at(where)}: check "
            f"{endpoint_setting(where)} (http vs https) and the system's CA certificates"
        )
    if isinstance(exc, boto.ProxyConnectionError):
        return PublishError(f"{name}: cannot reach the HTTP proxy: check HTTPS_PROXY")
    if isinstance(exc, boto.EndpointConnectionError | boto.ConnectionError):
        return PublishError(
            f"{name}: cannot reach {where.service}{_at(where)}: check "
            f"{endpoint_setting(where)} and the network"
        )
    if isinstance(exc, boto.ParamValidationError | ValueError):
        return PublishError(f"{name}: bad setting for {where.service}: {exc}")
    return PublishError(f"{name}: {where.service} failed: {type(exc).__name__}")


def endpoint_setting(where: Where) -> str:
    """The setting that moves this request's endpoint, to name in a message.

    A target's ``endpoint_url`` applies to S3 only; CloudFront's endpoint comes from boto3's
    environment, so naming ``endpoint_url`` there would send a person to the wrong knob.
    """
    if where.distribution:
        return "AWS_ENDPOINT_URL_CLOUDFRONT (or AWS_ENDPOINT_URL)"
    return f"targets.{where.target}.endpoint_url (or AWS_ENDPOINT_URL_S3 / AWS_ENDPOINT_URL)"


def os_error(exc: OSError, path: str, where: Where) -> PublishError:
    """Local targets and reading the output folder."""
    reason = exc.strerror or type(exc).__name__
    return PublishError(
        f"targets.{where.target}: cannot write {path}: {reason}: check the folder exists "
        f"and is writable (targets.{where.target}.path)"
    )


@contextmanager
def mapped(where: Where) -> Iterator[None]:
    """Run a boto3 call; whatever it raises leaves as a ``PublishError``."""
    try:
        yield
    except boto.ClientError as exc:
        raise client_error(exc, where) from None
    except (boto.BotoCoreError, ValueError) as exc:
        raise transport_error(exc, where) from None


def _at(where: Where) -> str:
    return f" at {where.endpoint}" if where.endpoint else ""
