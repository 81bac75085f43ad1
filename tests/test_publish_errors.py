"""Every way a publish can fail becomes one PublishError that says what to fix — and never
shows a credential."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
from botocore import exceptions as boto
from fixtures_s3 import S3Env, add_to_config, write_output

from afterword.config import Config, load_config
from afterword.errors import ConfigError, PublishError
from afterword.output.errors import Where, transport_error
from afterword.output.publish import publish_changes
from afterword.store import Store
from afterword.store.publish import read_published

pytestmark = pytest.mark.s3

KEY_ID = "AKIAAFTERWORDSECRET1"
SECRET = "very-secret-value-do-not-print"
FILES = {"threads/a/comments.json": b"{}", "feed.xml": b"<feed/>"}


@pytest.fixture(autouse=True)
def recognisable_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", KEY_ID)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET)


def publish_error(config: Config, store: Store, target: str = "cdn") -> str:
    with pytest.raises(PublishError) as caught:
        publish_changes(config, store, target)
    message = str(caught.value)
    assert KEY_ID not in message
    assert SECRET not in message
    return message


def s3_config(site_dir: Path, s3: S3Env, **extra: object) -> Config:
    add_to_config(site_dir, s3.target_toml("cdn", **extra))
    return load_config(site_dir / "afterword.toml")


def test_publish_missing_bucket_names_setting(site_dir: Path, store: Store, s3: S3Env) -> None:
    config = s3_config(site_dir, s3, bucket="no-such-bucket-here")
    write_output(store, config.output_dir, FILES)
    message = publish_error(config, store)
    assert "bucket 'no-such-bucket-here' does not exist" in message
    assert "targets.cdn.bucket" in message


@pytest.mark.parametrize(
    ("status", "code", "expected"),
    [
        (403, "AccessDenied", "access denied to bucket"),
        (403, "InvalidAccessKeyId", "credentials were refused"),
        (403, "SignatureDoesNotMatch", "credentials were refused"),
        (400, "ExpiredToken", "credentials were refused"),
        (301, "PermanentRedirect", "in another region: set targets.cdn.region"),
        (400, "BadDigest", "checksum mismatch"),
        (400, "SomethingNew", "refused the request: SomethingNew"),
    ],
)
def test_publish_refusal_is_explained(
    site_dir: Path, store: Store, s3: S3Env, status: int, code: str, expected: str
) -> None:
    config = s3_config(site_dir, s3)
    write_output(store, config.output_dir, FILES)
    s3.proxy.inject("PUT", status, code, times=100)
    assert expected in publish_error(config, store)
    assert read_published(store, "cdn") == {}


@pytest.mark.parametrize(
    ("status", "code", "expected"),
    [(503, "SlowDown", "kept throttling (SlowDown)"), (500, "InternalError", "store failed")],
)
def test_publish_retries_exhausted_then_next_run_converges(
    site_dir: Path, store: Store, s3: S3Env, status: int, code: str, expected: str
) -> None:
    config = s3_config(site_dir, s3, max_workers=1)
    write_output(store, config.output_dir, {"feed.xml": b"<feed/>"})
    s3.proxy.inject("PUT", status, code, times=3)  # AWS_MAX_ATTEMPTS=3 in the fixture
    assert expected in publish_error(config, store)
    assert publish_changes(config, store, "cdn").uploaded == 1
    assert s3.objects() == {"feed.xml": b"<feed/>"}


def test_publish_unreachable_endpoint(
    site_dir: Path, store: Store, s3: S3Env, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed = f"http://user:pw@127.0.0.1:{probe.getsockname()[1]}"
    config = s3_config(site_dir, s3, endpoint_url=closed)
    write_output(store, config.output_dir, FILES)
    message = publish_error(config, store)
    assert "cannot reach bucket" in message
    assert "targets.cdn.endpoint_url" in message
    assert "pw@" not in message


def test_publish_no_credentials(
    site_dir: Path, store: Store, s3: S3Env, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    config = s3_config(site_dir, s3)
    write_output(store, config.output_dir, FILES)
    assert "no usable AWS credentials" in publish_error(config, store)


def test_publish_missing_distribution(site_dir: Path, store: Store, s3: S3Env) -> None:
    config = s3_config(site_dir, s3, cloudfront_distribution_id="ENOSUCHDIST")
    write_output(store, config.output_dir, FILES)
    message = publish_error(config, store)
    assert "distribution 'ENOSUCHDIST' does not exist" in message
    assert len(read_published(store, "cdn")) == len(FILES)  # uploads are kept


def test_publish_invalidation_refused_is_retried_next_run(
    site_dir: Path, store: Store, s3: S3Env
) -> None:
    config = s3_config(site_dir, s3)
    write_output(store, config.output_dir, FILES)
    s3.proxy.inject("POST", 400, "TooManyInvalidationsInProgress", times=1)
    assert "stay queued" in publish_error(config, store)
    s3.proxy.inject("POST", 403, "AccessDenied", times=1)
    assert "access denied to CloudFront distribution" in publish_error(config, store)
    s3.proxy.reset()
    report = publish_changes(config, store, "cdn")
    assert report.uploaded == 0
    assert s3.proxy.count("PUT") == 0
    assert s3.invalidated_paths() == [sorted("/" + k for k in FILES)]


def test_publish_output_missing_or_changed(site_dir: Path, store: Store, s3: S3Env) -> None:
    config = s3_config(site_dir, s3)
    write_output(store, config.output_dir, FILES)
    (config.output_dir / "feed.xml").write_bytes(b"edited by hand")
    assert "changed since the build" in publish_error(config, store)
    (config.output_dir / "feed.xml").unlink()
    assert "cannot read built output" in publish_error(config, store)


def test_publish_unknown_or_no_target(site_dir: Path, store: Store, config: Config) -> None:
    with pytest.raises(ConfigError, match="no publish targets"):
        publish_changes(config, store, "cdn")
    add_to_config(site_dir, '\n[targets.site]\nkind = "local"\npath = "mirror"\n')
    with pytest.raises(ConfigError, match=r"no target named 'cdn' \(configured: site\)"):
        publish_changes(load_config(site_dir / "afterword.toml"), store, "cdn")


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (boto.NoRegionError(), "no region: set targets.t.region"),
        (boto.PartialCredentialsError(provider="env", cred_var="x"), "no usable AWS credentials"),
        (boto.CredentialRetrievalError(provider="p", error_msg=SECRET), "credential source"),
        (boto.ReadTimeoutError(endpoint_url="http://e"), "stopped answering"),
        (boto.SSLError(endpoint_url="https://e", error="x"), "TLS failed"),
        (boto.ProxyConnectionError(proxy_url=f"http://{SECRET}@p", error="x"), "HTTP proxy"),
        (boto.ConnectTimeoutError(endpoint_url="http://e"), "cannot reach"),
        (ValueError("Invalid endpoint: nope"), "bad setting"),
        (boto.DataNotFoundError(data_path="x"), "failed: DataNotFoundError"),
    ],
)
def test_transport_error_messages(error: Exception, expected: str) -> None:
    message = str(transport_error(error, Where("t", bucket="b", endpoint="http://e")))
    assert expected in message
    assert SECRET not in message
