"""``afterword.intake.lambda_handler`` as Lambda runs it, and the zip that deploys it.

The handler is imported the way the Lambda runtime does (``import`` the module, look up
``handler``) in a subprocess, configured by environment variables only, and invoked with
Function URL events. The queue is the moto server's SQS; the moderation side is the real CLI.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import zipfile
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
from conftest import afterword_env, run_afterword
from fixtures_intake import comment_fields
from fixtures_s3 import add_to_config
from test_lambda_support import Answer, delete_queue, drain, lambda_answer, lambda_event, new_queue

from afterword.config import Config

pytestmark = pytest.mark.s3

SITE = "https://blog.example.com"
INVOKE = (
    "import json, sys\n"
    "from afterword.intake.lambda_handler import handler\n"
    "for event in json.load(sys.stdin):\n"
    "    print(json.dumps(handler(event, None)))\n"
)
# The unpacked zip alone: no site-packages (-S), no PYTHONPATH; every module from the zip.
ALONE = (
    "import os, sys\n"
    "sys.path.insert(0, os.getcwd())\n"
    + INVOKE
    + "import afterword, boto3, mangum, nh3, starlette\n"
    "for module in (afterword, boto3, mangum, nh3, starlette):\n"
    "    assert module.__file__.startswith(os.getcwd()), module.__file__\n"
)


@pytest.fixture
def queue(moto_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    monkeypatch.setenv("AWS_ENDPOINT_URL_SQS", moto_endpoint)
    url = new_queue(moto_endpoint, VisibilityTimeout="1")
    yield url
    delete_queue(moto_endpoint, url)


def invoke(
    env: Mapping[str, str],
    events: list[dict[str, Any]],
    *,
    script: str = INVOKE,
    isolated: bool = False,
    cwd: Path | None = None,
) -> subprocess.CompletedProcess[str]:
    """A fresh interpreter that cold-starts the handler and feeds it ``events``."""
    return subprocess.run(
        [sys.executable, *(["-S"] if isolated else []), "-c", script],
        input=json.dumps(events),
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,
        timeout=120,
        check=False,
    )


def answers(done: subprocess.CompletedProcess[str]) -> list[Answer]:
    assert done.returncode == 0, done.stderr
    return [lambda_answer(json.loads(line)) for line in done.stdout.splitlines()]


def lambda_env(queue: str, **extra: str) -> dict[str, str]:
    return afterword_env({"AFTERWORD_INTAKE_QUEUE": queue, "AFTERWORD_SITE_URL": SITE, **extra})


def comment_event(client: str = "198.51.100.5", **fields: Any) -> dict[str, Any]:
    body = json.dumps(comment_fields(**fields)).encode()
    headers = {"content-type": "application/json", "accept": "application/json", "origin": SITE}
    return lambda_event(
        "function-url", "POST", "/api/comments", client=client, headers=headers, body=body
    )


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({}, "AFTERWORD_INTAKE_QUEUE must be the SQS queue URL"),
        ({"AFTERWORD_INTAKE_QUEUE": "sqlite"}, "AFTERWORD_INTAKE_QUEUE must be the SQS queue URL"),
        ({"AFTERWORD_INTAKE_QUEUE": "comments"}, "intake.queue must be 'sqlite' or an SQS queue"),
        (
            {"AFTERWORD_INTAKE_QUEUE": "https://sqs.us-east-1.amazonaws.com/1/q",
             "AFTERWORD_INTAKE_TRUSTED_PROXIES": "10.0.0.0/8"},
            "AFTERWORD_INTAKE_TRUSTED_PROXIES must be empty in a Lambda",
        ),
        (
            {"AFTERWORD_INTAKE_QUEUE": "https://sqs.us-east-1.amazonaws.com/1/q",
             "AFTERWORD_LIMITS_PER_MINUTE": "many"},
            "AFTERWORD_LIMITS_PER_MINUTE must be a whole number",
        ),
    ],
)  # fmt: skip
def test_a_bad_setting_ends_the_cold_start_with_one_line(
    env: dict[str, str], expected: str, tmp_path: Path
) -> None:
    done = invoke(afterword_env(env), [], cwd=tmp_path)
    assert done.returncode == 1
    [line] = done.stderr.strip().splitlines()
    assert line.startswith("afterword: Error: ")
    assert expected in line


def test_the_lambda_reads_no_config_file(tmp_path: Path) -> None:
    """A stray afterword.toml (or AFTERWORD_CONFIG) beside the code changes nothing."""
    (tmp_path / "afterword.toml").write_text(
        '[intake]\nqueue = "https://sqs.us-east-1.amazonaws.com/1/q"\n', encoding="utf-8"
    )
    env = afterword_env({"AFTERWORD_CONFIG": str(tmp_path / "afterword.toml")})
    done = invoke(env, [], cwd=tmp_path)
    assert done.returncode == 1
    assert "AFTERWORD_INTAKE_QUEUE must be the SQS queue URL" in done.stderr


def test_a_comment_through_the_lambda_is_pulled_approved_and_published(
    config: Config, queue: str, site_dir: Path
) -> None:
    add_to_config(site_dir, '\n[targets.site]\nkind = "local"\npath = "mirror"\n')
    text = "Posted through *Lambda*"
    [answer] = answers(invoke(lambda_env(queue), [comment_event(body=text)]))
    assert answer.status == 202, answer.body
    submission = answer.json()["data"]["submission"]

    env = {"AFTERWORD_INTAKE_QUEUE": queue}
    pulled = run_afterword("pull", "--once", "--json", cwd=site_dir, env=env)
    assert pulled.returncode == 0, pulled.stderr
    assert json.loads(pulled.stdout)["stored"] == 1
    listed = json.loads(run_afterword("queue", "--json", cwd=site_dir).stdout)
    [pending] = listed["comments"]
    assert run_afterword("approve", str(pending["id"]), cwd=site_dir).returncode == 0
    rebuilt = run_afterword("rebuild", cwd=site_dir)
    assert rebuilt.returncode == 0, rebuilt.stderr

    published = [
        path
        for path in (site_dir / "mirror").rglob("*.html")
        if "Posted through <em>Lambda</em>" in path.read_text(encoding="utf-8")
    ]
    assert published, "the approved comment is in no published fragment"
    stored = run_afterword("queue", "--status", "approved", "--json", cwd=site_dir)
    assert [c["id"] for c in json.loads(stored.stdout)["comments"]] == [pending["id"]]
    found = sqlite_external_ids(config)
    assert found == [submission]


def sqlite_external_ids(config: Config) -> list[str]:
    with sqlite3.connect(config.database_path) as conn:
        return [row[0] for row in conn.execute("SELECT external_id FROM comments")]


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_package_lambda_builds_a_zip_whose_handler_runs_alone(
    tmp_path: Path, queue: str, moto_endpoint: str
) -> None:
    output = tmp_path / "out" / "afterword-lambda.zip"
    done = run_afterword(
        "package-lambda", "--output", str(output), "--json", cwd=tmp_path, timeout=540
    )
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["handler"] == "afterword.intake.lambda_handler.handler"
    unpacked = tmp_path / "unpacked"
    with zipfile.ZipFile(output) as bundle:
        names = bundle.namelist()
        bundle.extractall(unpacked)
    assert report["files"] == len(names)
    tops = {name.split("/")[0] for name in names}
    assert {"afterword", "mangum", "starlette", "boto3", "botocore", "nh3"} <= tops
    assert "afterword/intake/lambda_handler.py" in names
    assert "afterword/templates/thread.html" in names  # package data travels too
    assert "jinja2" in tops  # the intake's /moderate pages are Jinja templates
    assert not tops & {"uvicorn", "watchdog", "bin", "tests"}
    assert not [n for n in names if "__pycache__" in n or n.endswith(".pyc")]
    native = [n for n in names if n.startswith("nh3/") and n.endswith(".so")]
    assert native, "nh3's compiled module is missing"
    assert all("darwin" not in n and "win" not in n for n in native)
    assert names == sorted(names)

    env = {
        "PATH": os.environ.get("PATH", ""),
        "AFTERWORD_INTAKE_QUEUE": queue,
        "AFTERWORD_SITE_URL": SITE,
        "AWS_ENDPOINT_URL_SQS": moto_endpoint,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_EC2_METADATA_DISABLED": "true",
    }
    done_run = invoke(env, [comment_event()], script=ALONE, isolated=True, cwd=unpacked)
    [answer] = answers(done_run)
    assert answer.status == 202, answer.body
    [message] = drain(moto_endpoint, queue)
    assert message["id"] == answer.json()["data"]["submission"]


def test_package_lambda_without_an_index_fails_in_one_line_and_writes_nothing(
    tmp_path: Path,
) -> None:
    output = tmp_path / "afterword-lambda.zip"
    env = {"PIP_CONFIG_FILE": os.devnull, "PIP_NO_INDEX": "1", "PIP_FIND_LINKS": str(tmp_path)}
    done = run_afterword("package-lambda", "--output", str(output), cwd=tmp_path, env=env)
    assert done.returncode == 1
    [line] = done.stderr.strip().splitlines()
    assert line.startswith("Error: pip could not install the Lambda's dependencies: ERROR: ")
    assert not output.exists()
    assert list(tmp_path.iterdir()) == []
