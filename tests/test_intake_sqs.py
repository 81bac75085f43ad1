"""The intake in SQS mode: one HTTP error table run against uvicorn AND the Lambda handler.

Each row runs three times: the uvicorn intake over real HTTP on loopback, the Lambda handler
with a Function URL event, and with an API Gateway HTTP API (v2) event — all in SQS mode
against the moto server — so the two ways of running the intake cannot drift. Each row posts
from its own client address so rows never share a rate limit.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import boto3
import httpx
import pytest
from conftest import run_afterword
from fixtures_intake import RunningIntake, comment_fields
from test_lambda_support import (
    HttpTransport,
    LambdaTransport,
    Transport,
    delete_queue,
    drain,
    new_queue,
)

from afterword.config import Config, load_config
from afterword.intake.lambda_handler import make_handler
from afterword.intake.server import BackgroundServer
from afterword.intake.validate import HONEYPOT_FIELD
from afterword.scaffold import write_config

pytestmark = pytest.mark.s3

SITE = "https://blog.example.com"
EVIL = "https://evil.example"
MAX_BYTES = 4096
PER_MINUTE = 2
ADDRESSES = (f"198.51.100.{n}" for n in itertools.count(1))
STORAGE_MESSAGE = "the comment store is temporarily unavailable; try again shortly"


def settings(queue: str) -> dict[str, str]:
    """The one configuration both intakes run with, as a Lambda gets it: variables."""
    return {
        "AFTERWORD_SITE_URL": SITE,
        "AFTERWORD_SITE_PAGES": "/blog/*",
        "AFTERWORD_LIMITS_PER_MINUTE": str(PER_MINUTE),
        "AFTERWORD_LIMITS_PER_HOUR": "0",
        "AFTERWORD_INTAKE_MAX_REQUEST_BYTES": str(MAX_BYTES),
        "AFTERWORD_INTAKE_QUEUE": queue,
    }


@dataclass
class Setup:
    transport: Transport
    queue: str
    endpoint: str

    def messages(self) -> list[dict[str, Any]]:
        return drain(self.endpoint, self.queue)


@pytest.fixture(scope="module")
def sqs_endpoint(moto_endpoint: str) -> Iterator[str]:
    """boto3 reaches the moto server through its usual chain: AWS_ENDPOINT_URL_SQS."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("AWS_ENDPOINT_URL_SQS", moto_endpoint)
        yield moto_endpoint


def start_uvicorn(folder: Path, queue: str) -> tuple[BackgroundServer, Config]:
    write_config(folder, site_url=SITE)
    env = {**settings(queue), "AFTERWORD_INTAKE_TRUSTED_PROXIES": "127.0.0.1"}
    config = load_config(folder / "afterword.toml", environ=env)
    return BackgroundServer(config).start(), config


@pytest.fixture(scope="module", params=["uvicorn", "function-url", "http-api"])
def setup(
    request: pytest.FixtureRequest, sqs_endpoint: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Setup]:
    queue = new_queue(sqs_endpoint)
    if request.param == "uvicorn":
        folder = tmp_path_factory.mktemp("sqs-intake")
        server, _ = start_uvicorn(folder, queue)
        try:
            yield Setup(HttpTransport(server.url), queue, sqs_endpoint)
        finally:
            server.stop()
            delete_queue(sqs_endpoint, queue)
        return
    handler = make_handler(settings(queue))
    yield Setup(LambdaTransport(request.param, handler), queue, sqs_endpoint)
    handler.app.state.intake.writer.stop()
    delete_queue(sqs_endpoint, queue)


def post(setup: Setup, client: str | None = None, **fields: Any) -> Any:
    return setup.transport.post_json(comment_fields(**fields), client=client or next(ADDRESSES))


def form(setup: Setup, data: dict[str, str], **headers: str) -> Any:
    body = "&".join(f"{k}={v}" for k, v in data.items()).encode()
    chosen = {"content-type": "application/x-www-form-urlencoded", **headers}
    return setup.transport.request(
        "POST", "/api/comments", client=next(ADDRESSES), headers=chosen, body=body
    )


# The table. Each row: (name, check). A check gets the Setup and asserts the whole answer.


def bad_json(s: Setup) -> None:
    answer = s.transport.request(
        "POST", "/api/comments", client=next(ADDRESSES),
        headers={"content-type": "application/json"}, body=b'{"page": "/blog/a/", ',
    )  # fmt: skip
    assert answer.status == 400
    assert answer.error["code"] == "malformed"


def bad_utf8(s: Setup) -> None:
    answer = s.transport.request(
        "POST", "/api/comments", client=next(ADDRESSES),
        headers={"content-type": "application/x-www-form-urlencoded",
                 "accept": "application/json"},
        body=b"page=/blog/a/&author=Ada&body=caf\xe9",
    )  # fmt: skip
    assert answer.status == 400
    assert answer.error["code"] == "malformed"


def too_large(s: Setup) -> None:
    answer = post(s, body="x" * (MAX_BYTES + 1))
    assert answer.status == 413
    assert answer.error["code"] == "too_large"


def wrong_type(s: Setup) -> None:
    answer = s.transport.request(
        "POST", "/api/comments", client=next(ADDRESSES),
        headers={"content-type": "text/plain"}, body=b"hello",
    )  # fmt: skip
    assert answer.status == 415
    assert answer.error["code"] == "unsupported_media_type"


def field_errors(s: Setup) -> None:
    answer = post(s, body=None, email="not an address")
    assert answer.status == 422
    assert answer.error["code"] == "invalid"
    assert set(answer.error["fields"]) == {"body", "email"}
    assert all(answer.error["fields"].values())


def rate_limited(s: Setup) -> None:
    client = next(ADDRESSES)
    assert post(s, client, body=None).status == 422  # refused: not counted against the limit
    for n in range(PER_MINUTE):
        assert post(s, client, body=f"accepted {n}").status == 202
    answer = post(s, client)
    assert answer.status == 429
    assert answer.error["code"] == "rate_limited"
    assert int(answer.headers["retry-after"]) >= 1
    assert post(s).status != 429, "another client is not limited"


def unknown_page(s: Setup) -> None:
    answer = post(s, page="/elsewhere/")
    assert answer.status == 404
    assert answer.error["code"] == "unknown_page"


def forbidden_origin(s: Setup) -> None:
    answer = s.transport.post_json(comment_fields(), client=next(ADDRESSES), origin=EVIL)
    assert answer.status == 403
    assert answer.error["code"] == "forbidden_origin"
    assert "access-control-allow-origin" not in answer.headers


def preflight(s: Setup) -> None:
    grant = {"origin": SITE, "access-control-request-method": "POST"}
    answer = s.transport.request("OPTIONS", "/api/comments", client=next(ADDRESSES), headers=grant)
    assert answer.status == 204
    assert answer.headers["access-control-allow-origin"] == SITE
    assert "POST" in answer.headers["access-control-allow-methods"]
    refused = s.transport.request(
        "OPTIONS", "/api/comments", client=next(ADDRESSES),
        headers={**grant, "origin": EVIL},
    )  # fmt: skip
    assert refused.status == 403
    assert refused.error["code"] == "forbidden_origin"
    assert "access-control-allow-origin" not in refused.headers


def not_found_and_method(s: Setup) -> None:
    assert s.transport.request("GET", "/nope", client=next(ADDRESSES)).error["code"] == "not_found"
    answer = s.transport.request("GET", "/api/comments", client=next(ADDRESSES))
    assert answer.status == 405
    assert answer.error["code"] == "method_not_allowed"


def accepted(s: Setup) -> None:
    s.messages()  # start from an empty queue
    client = next(ADDRESSES)
    answer = s.transport.post_json(comment_fields(body="Hello *there*"), client=client, origin=SITE)
    assert answer.status == 202
    data = answer.json()["data"]
    assert data["id"] is None  # no database id exists yet
    assert re.fullmatch(r"[0-9a-f]{32}", data["submission"])
    assert data["status"] == "pending"
    assert data["html"] == "<p>Hello <em>there</em></p>\n"
    assert data["page"] == "/blog/hello/"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z", data["created"])
    assert answer.headers["access-control-allow-origin"] == SITE
    [message] = s.messages()
    assert message["id"] == data["submission"]
    assert message["received"] == data["created"]
    assert message["client"] == client
    assert message["fields"]["body"] == "Hello *there*"
    assert message["page_url"] == SITE + "/blog/hello/"


def honeypot_looks_accepted(s: Setup) -> None:
    s.messages()
    answer = post(s, **{HONEYPOT_FIELD: "555-0100"})
    assert answer.status == 202
    assert answer.json()["data"]["status"] == "pending"
    [message] = s.messages()
    assert message["fields"][HONEYPOT_FIELD] == "filled"  # pull stores it as spam


def form_post_303(s: Setup) -> None:
    s.messages()
    answer = form(s, {"page": "/blog/hello/", "author": "Ada", "body": "By+form"})
    assert answer.status == 303
    assert answer.headers["location"] == SITE + "/blog/hello/#afterword-pending"
    [message] = s.messages()
    assert message["fields"]["body"] == "By form"


def form_error_303(s: Setup) -> None:
    answer = form(s, {"page": "/blog/hello/", "author": "Ada"})
    assert answer.status == 303
    location = urlsplit(answer.headers["location"])
    assert location.fragment == "afterword-error"
    assert parse_qs(location.query) == {
        "afterword_error": ["invalid"],
        "afterword_fields": ["body"],
    }
    assert s.messages() == []


def healthz(s: Setup) -> None:
    answer = s.transport.request("GET", "/healthz", client=next(ADDRESSES))
    assert answer.status == 200
    body = answer.json()
    assert body["status"] == "ok"
    assert isinstance(body["queue_depth"], int)


TABLE: list[tuple[str, Callable[[Setup], None]]] = [
    ("400 bad JSON", bad_json),
    ("400 bad UTF-8", bad_utf8),
    ("413 too large", too_large),
    ("415 wrong type", wrong_type),
    ("422 field errors", field_errors),
    ("429 rate limited", rate_limited),
    ("404 unknown page", unknown_page),
    ("403 forbidden origin", forbidden_origin),
    ("204/403 CORS preflight", preflight),
    ("404/405 routes", not_found_and_method),
    ("202 accepted, sent to SQS", accepted),
    ("202 honeypot", honeypot_looks_accepted),
    ("303 form accepted", form_post_303),
    ("303 form error", form_error_303),
    ("200 healthz", healthz),
]


@pytest.mark.parametrize(("name", "check"), TABLE, ids=[name for name, _ in TABLE])
def test_error_table(setup: Setup, name: str, check: Callable[[Setup], None]) -> None:
    check(setup)


def test_lambda_takes_the_client_from_source_ip_never_from_x_forwarded_for(
    sqs_endpoint: str,
) -> None:
    handler = make_handler(settings(new_queue(sqs_endpoint)))
    try:
        transport = LambdaTransport("function-url", handler)
        answers = [
            transport.post_json(
                comment_fields(body=f"post {n}"),
                client="192.0.2.7",
                **{"x-forwarded-for": f"10.0.0.{n}"},
            )
            for n in range(PER_MINUTE + 1)
        ]
    finally:
        handler.app.state.intake.writer.stop()
    assert [a.status for a in answers] == [202] * PER_MINUTE + [429]


@pytest.mark.parametrize("kind", ["uvicorn", "function-url"])
def test_a_missing_queue_is_503_unavailable_without_the_queue_url(
    kind: str, sqs_endpoint: str, tmp_path: Path
) -> None:
    queue = new_queue(sqs_endpoint)
    server: BackgroundServer | None = None
    if kind == "uvicorn":
        server, _ = start_uvicorn(tmp_path, queue)
        transport: Transport = HttpTransport(server.url)
    else:
        handler = make_handler(settings(queue))
        transport = LambdaTransport(kind, handler)
    try:
        boto3.client("sqs", region_name="us-east-1").delete_queue(QueueUrl=queue)
        answer = transport.post_json(comment_fields(), client="203.0.113.9")
        health = transport.request("GET", "/healthz", client="203.0.113.9")
    finally:
        if server is not None:
            server.stop()
        else:
            handler.app.state.intake.writer.stop()
    for refused in (answer, health):
        assert refused.status == 503
        expected = {"code": "unavailable", "message": STORAGE_MESSAGE, "fields": {}}
        assert refused.error == {**expected, "reason": "queue"}
        assert refused.headers["retry-after"] == "5"
        assert queue not in refused.body.decode()


def test_serve_with_a_missing_queue_fails_at_start_in_one_line(
    sqs_endpoint: str, tmp_path: Path
) -> None:
    write_config(tmp_path, site_url=SITE)
    missing = sqs_endpoint + "/123456789012/no-such-queue"
    result = run_afterword(
        "serve", "--port", "0", cwd=tmp_path,
        env={"AFTERWORD_INTAKE_QUEUE": missing, "AWS_ENDPOINT_URL_SQS": sqs_endpoint},
    )  # fmt: skip
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        f"Error: SQS queue {missing} does not exist (check intake.queue)"
    ]
    assert not (tmp_path / "afterword.db").exists()


def test_metrics_in_sqs_mode_show_the_queue_depth_and_no_database_is_made(
    sqs_endpoint: str, tmp_path: Path
) -> None:
    queue = new_queue(sqs_endpoint)
    server, _ = start_uvicorn(tmp_path, queue)
    try:
        assert HttpTransport(server.url).post_json(comment_fields(), client="192.0.2.50").status
        text = httpx.get(server.url + "/metrics", timeout=30).text
    finally:
        server.stop()
    depth = re.search(r"^afterword_queue_depth (\S+)$", text, re.MULTILINE)
    assert depth is not None, text
    assert float(depth.group(1)) == 1.0
    assert not (tmp_path / "afterword.db").exists()


def test_the_sqlite_intake_answers_as_before(intake_server: RunningIntake) -> None:
    """The SQS receipt's fields stay out of the SQLite intake's 202: its id is the row's."""
    answer = intake_server.post()
    assert answer.status_code == 202
    data = answer.json()["data"]
    assert isinstance(data["id"], int)
    assert "submission" not in data


def test_serve_workers_in_sqs_mode_all_send_to_the_queue(sqs_endpoint: str, tmp_path: Path) -> None:
    """``serve --workers 2`` with a queue: every worker sends, none opens a database."""
    queue = new_queue(sqs_endpoint)
    write_config(tmp_path, site_url=SITE)
    env = {**settings(queue), "AFTERWORD_INTAKE_TRUSTED_PROXIES": "127.0.0.1"}
    config = load_config(tmp_path / "afterword.toml", environ=env)
    with BackgroundServer(config, workers=2) as server:
        transport = HttpTransport(server.url)
        sent = [
            transport.post_json(comment_fields(body=f"worker post {n}"), client=f"192.0.2.{n}")
            for n in range(1, 5)
        ]
    assert [a.status for a in sent] == [202] * 4
    received = {m["id"]: m["fields"]["body"] for m in drain(sqs_endpoint, queue)}
    assert received == {a.json()["data"]["submission"]: f"worker post {n}"
                        for n, a in enumerate(sent, 1)}  # fmt: skip
    assert list(tmp_path.iterdir()) == [tmp_path / "afterword.toml"]  # no database, no lock
    delete_queue(sqs_endpoint, queue)
