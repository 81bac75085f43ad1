"""``afterword policy`` prints exactly the documents docs/publishing.md shows, for a target.

The documents themselves are proven against moto and Chromium in test_publish_read_side.py;
here: the command picks the right target, prints JSON that boto3 accepts unchanged, and every
wrong invocation is one line with exit 2.
"""

from __future__ import annotations

import json
from pathlib import Path

import boto3
import pytest
from conftest import run_afterword

from afterword.config import load_config
from afterword.output.policies import reader_documents

S3_TARGET = """
[targets.cdn]
kind = "s3"
bucket = "{bucket}"
prefix = "comments/"
cloudfront_distribution_id = "E2ABCDEF123456"
"""


def with_targets(site_dir: Path, *tables: str) -> Path:
    config = site_dir / "afterword.toml"
    config.write_text(config.read_text() + "".join(tables))
    return config


def test_policy_json_is_the_documented_documents_for_the_target(site_dir: Path) -> None:
    config = with_targets(site_dir, S3_TARGET.format(bucket="my-comments"))
    result = run_afterword(
        "policy", "--reader", "website", "--origin", "https://www.example.com", "--json",
        cwd=site_dir,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    target = load_config(config).targets["cdn"]
    expected = reader_documents(
        "cdn", target, reader="website", origins=["https://www.example.com"]
    )
    assert json.loads(result.stdout) == expected
    assert set(expected) == {"bucket-policy", "public-access-block", "cors"}
    assert "arn:aws:s3:::my-comments/comments/*" in result.stdout


def test_policy_text_says_how_to_apply_each_document(site_dir: Path) -> None:
    with_targets(site_dir, S3_TARGET.format(bucket="my-comments"))
    result = run_afterword("policy", "--account-id", "123456789012", cwd=site_dir)
    assert result.returncode == 0, result.stderr
    assert "aws s3api put-bucket-policy --bucket my-comments" in result.stdout
    body = result.stdout.split("\n", 1)[1]
    policy = json.loads(body)
    condition = policy["Statement"][0]["Condition"]["StringEquals"]["AWS:SourceArn"]
    assert condition == "arn:aws:cloudfront::123456789012:distribution/E2ABCDEF123456"


def test_printed_policy_and_cors_are_accepted_by_s3(site_dir: Path, moto_endpoint: str) -> None:
    bucket = "policy-cli-test"
    s3 = boto3.client("s3", endpoint_url=moto_endpoint, region_name="us-east-1")
    s3.create_bucket(Bucket=bucket)
    with_targets(site_dir, S3_TARGET.format(bucket=bucket))
    result = run_afterword(
        "policy", "--reader", "website", "--origin", "https://blog.example.com", "--json",
        cwd=site_dir,
    )  # fmt: skip
    documents = json.loads(result.stdout)
    s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps(documents["bucket-policy"]))
    s3.put_bucket_cors(Bucket=bucket, CORSConfiguration=documents["cors"])
    stored = json.loads(s3.get_bucket_policy(Bucket=bucket)["Policy"])
    assert stored["Statement"][0]["Resource"] == f"arn:aws:s3:::{bucket}/comments/*"
    rules = s3.get_bucket_cors(Bucket=bucket)["CORSRules"]
    assert rules[0]["AllowedOrigins"] == ["https://blog.example.com"]


@pytest.mark.parametrize(
    ("tables", "args", "expected"),
    [
        ((), [], "no kind = 's3' target"),
        (
            (S3_TARGET.format(bucket="a"), S3_TARGET.replace("cdn", "other").format(bucket="b")),
            [],
            "several s3 targets (cdn, other): choose one with --target",
        ),
        ((S3_TARGET.format(bucket="a"),), ["--target", "nope"], "no target named 'nope'"),
        ((S3_TARGET.format(bucket="a"),), [], "AWS account id ''"),
        (
            (S3_TARGET.format(bucket="a"),),
            ["--reader", "website", "--origin", "https://x.org/"],
            "has more than scheme and host",
        ),
        (
            ('\n[targets.site]\nkind = "local"\npath = "out"\n',),
            ["--target", "site"],
            "bucket policies are for kind = 's3' targets",
        ),
    ],
)
def test_wrong_policy_invocations_are_one_line_errors(
    site_dir: Path, tables: tuple[str, ...], args: list[str], expected: str
) -> None:
    with_targets(site_dir, *tables)
    result = run_afterword("policy", *args, cwd=site_dir)
    assert result.returncode == 2, result.stdout + result.stderr
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert expected in lines[0]
