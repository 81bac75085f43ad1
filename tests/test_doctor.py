"""``afterword doctor`` finds what is wrong and says how to fix it (exit 1), or says all is well."""

from __future__ import annotations

import json
import os
import socket
from pathlib import Path

import pytest
from click.testing import CliRunner
from fixtures_s3 import S3Env, add_to_config, write_output

from afterword.cli import main
from afterword.output.doctor import run_doctor
from afterword.store import Store


def doctor(site_dir: Path, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(
        main, ["doctor", "--config", str(site_dir / "afterword.toml"), *args]
    )
    assert result.exception is None or isinstance(result.exception, SystemExit)
    return result.exit_code, result.output


@pytest.mark.s3
def test_doctor_all_good(site_dir: Path, store: Store, s3: S3Env) -> None:
    add_to_config(site_dir, s3.target_toml())
    code, output = doctor(site_dir)
    assert code == 0, output
    assert "FAIL" not in output
    assert f"put and deleted s3://{s3.bucket}/" in output
    assert "CloudFront distribution" in output
    assert s3.proxy.count("PUT") == 1
    assert s3.proxy.count("DELETE") == 1
    assert s3.objects() == {}  # the probe is gone


@pytest.mark.s3
def test_doctor_missing_bucket(site_dir: Path, store: Store, s3: S3Env) -> None:
    add_to_config(site_dir, s3.target_toml(bucket="not-created-yet"))
    code, output = doctor(site_dir)
    assert code == 1
    assert "FAIL  targets.cdn: bucket 'not-created-yet' does not exist" in output
    assert "targets.cdn: targets.cdn" not in output  # each target's name once
    assert "create it or fix targets.cdn.bucket" in output


@pytest.mark.s3
def test_doctor_bad_endpoint_and_distribution(
    site_dir: Path, store: Store, s3: S3Env, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{probe.getsockname()[1]}"
    add_to_config(
        site_dir, s3.target_toml(endpoint_url=closed, cloudfront_distribution_id="EMISSING")
    )
    code, output = doctor(site_dir, "--json")
    checks = {c["name"]: c for c in json.loads(output)}
    assert code == 1
    assert checks["targets.cdn"]["detail"].startswith("cannot reach bucket")
    assert "targets.cdn.endpoint_url" in checks["targets.cdn"]["detail"]
    assert checks["targets.cdn CDN"]["detail"] == (
        "CloudFront distribution 'EMISSING' does not exist: "
        "fix targets.cdn.cloudfront_distribution_id"
    )
    assert "testing" not in output


@pytest.mark.s3
def test_doctor_cloudfront_unreachable_names_the_setting_that_moves_it(
    site_dir: Path, store: Store, s3: S3Env, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A target's endpoint_url moves S3 only; CloudFront's endpoint is boto3's environment."""
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{probe.getsockname()[1]}"
    monkeypatch.setenv("AWS_ENDPOINT_URL_CLOUDFRONT", closed)  # the setting the hint names
    add_to_config(site_dir, s3.target_toml())
    code, output = doctor(site_dir)
    assert code == 1
    assert f"ok    targets.cdn: put and deleted s3://{s3.bucket}/" in output
    line = next(x for x in output.splitlines() if x.startswith("FAIL  targets.cdn CDN: "))
    assert line.startswith(
        f"FAIL  targets.cdn CDN: cannot reach CloudFront distribution {s3.distribution}"
    )
    assert "check AWS_ENDPOINT_URL_CLOUDFRONT (or AWS_ENDPOINT_URL)" in line
    assert "endpoint_url" not in line.replace("AWS_ENDPOINT_URL", "")


@pytest.mark.s3
def test_doctor_access_denied_names_the_policy(site_dir: Path, store: Store, s3: S3Env) -> None:
    add_to_config(site_dir, s3.target_toml())
    s3.proxy.inject("PUT", 403, "AccessDenied", times=5)
    code, output = doctor(site_dir)
    assert code == 1
    assert "access denied" in output
    assert "IAM policy in docs/publishing.md" in output


def test_doctor_bad_config(site_dir: Path) -> None:
    add_to_config(site_dir, "\n[targets.x]\nkind = 's3'\n")
    code, output = doctor(site_dir)
    assert code == 1
    assert "FAIL  config:" in output
    assert "bucket is required" in output


def test_doctor_missing_database_and_no_targets(site_dir: Path) -> None:
    (site_dir / "afterword.db").unlink()
    code, output = doctor(site_dir)
    assert code == 1
    assert "does not exist: run `afterword init` here" in output
    assert "no [targets.NAME]" in output
    assert not (site_dir / "afterword.db").exists()  # doctor looks, it never creates


def test_doctor_database_permissions_and_missing_output(site_dir: Path, store: Store) -> None:
    config_path = site_dir / "afterword.toml"
    add_to_config(site_dir, '\n[targets.site]\nkind = "local"\npath = "mirror"\n')
    write_output(store, site_dir / "output", {"feed.atom": b"<feed/>"})
    (site_dir / "output" / "feed.atom").unlink()
    os.chmod(site_dir / "afterword.db", 0o644)
    checks = {c.name: c for c in run_doctor(str(config_path))}
    assert "chmod 600" in checks["database permissions"].detail
    assert "run `afterword build --full`" in checks["output files"].detail
    assert checks["targets.site"].ok


def test_doctor_unwritable_output_and_target(
    site_dir: Path, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    (site_dir / "blocked").write_text("a file, not a folder")
    add_to_config(site_dir, '\n[targets.site]\nkind = "local"\npath = "blocked/sub"\n')
    monkeypatch.setenv("AFTERWORD_BUILD_OUTPUT_DIR", str(site_dir / "blocked" / "out"))
    checks = {c.name: c for c in run_doctor(str(site_dir / "afterword.toml"))}
    assert not checks["output"].ok
    assert "build.output_dir" in checks["output"].detail
    assert not checks["targets.site"].ok
    assert "targets.site.path" in checks["targets.site"].detail
