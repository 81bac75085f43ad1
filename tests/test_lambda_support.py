"""Helpers for the SQS-mode intake tests: Lambda events as AWS sends them, and one way to
talk to either intake (uvicorn over HTTP, or the Lambda handler with an event).

Events follow AWS's documented payload format 2.0: for a Lambda Function URL
(https://docs.aws.amazon.com/lambda/latest/dg/urls-invocation.html#urls-payloads) and for an
API Gateway HTTP API (https://docs.aws.amazon.com/apigateway/latest/developerguide/
http-api-develop-integrations-lambda.html). Both base64-encode a body that is not text
(``isBase64Encoded``), lower-case header names, join repeated headers with commas and set
``x-forwarded-for`` themselves — the client's address is ``requestContext.http.sourceIp``.
"""

from __future__ import annotations

import base64
import json
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import boto3
import httpx

URL_ID = "abcdefghijklmnopqrstuvwxyz012345"
URL_HOST = f"{URL_ID}.lambda-url.us-east-1.on.aws"
API_ID = "a1b2c3d4e5"
API_HOST = f"{API_ID}.execute-api.us-east-1.amazonaws.com"
TEXT_TYPES = ("application/json", "text/")


@dataclass
class Answer:
    """An HTTP answer, whichever intake gave it; header names lower-case."""

    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)

    @property
    def error(self) -> dict[str, Any]:
        found: dict[str, Any] = self.json()["error"]
        return found


def _is_text(headers: Mapping[str, str]) -> bool:
    content_type = headers.get("content-type", "")
    return any(content_type.startswith(kind) for kind in TEXT_TYPES)


def _request_context(kind: str, method: str, path: str, client: str) -> dict[str, Any]:
    now = time.time()
    http = {
        "method": method,
        "path": path,
        "protocol": "HTTP/1.1",
        "sourceIp": client,
        "userAgent": "afterword-tests/1.0",
    }
    common = {
        "http": http,
        "requestId": str(uuid.uuid4()),
        "routeKey": "$default",
        "stage": "$default",
        "time": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(now)),
        "timeEpoch": int(now * 1000),
    }
    if kind == "function-url":
        return {
            "accountId": "anonymous",
            "apiId": URL_ID,
            "domainName": URL_HOST,
            "domainPrefix": URL_ID,
            **common,
        }
    return {
        "accountId": "123456789012",
        "apiId": API_ID,
        "domainName": API_HOST,
        "domainPrefix": API_ID,
        **common,
    }


def lambda_event(
    kind: str,
    method: str,
    target: str,
    *,
    client: str,
    headers: Mapping[str, str] | None = None,
    body: bytes = b"",
) -> dict[str, Any]:
    """A payload-2.0 event (``kind``: "function-url" or "http-api") for one request."""
    parts = urlsplit(target)
    host = URL_HOST if kind == "function-url" else API_HOST
    sent = {name.lower(): value for name, value in (headers or {}).items()}
    spoofed = sent.pop("x-forwarded-for", "")
    event_headers = {
        "host": host,
        "user-agent": "afterword-tests/1.0",
        "x-amzn-trace-id": f"Root=1-{uuid.uuid4().hex[:8]}-{uuid.uuid4().hex[:24]}",
        # AWS appends the real address to whatever the client sent.
        "x-forwarded-for": f"{spoofed}, {client}" if spoofed else client,
        "x-forwarded-port": "443",
        "x-forwarded-proto": "https",
        **sent,
    }
    if body:
        event_headers["content-length"] = str(len(body))
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": parts.path,
        "rawQueryString": parts.query,
        "headers": event_headers,
        "requestContext": _request_context(kind, method, parts.path, client),
        "isBase64Encoded": False,
    }
    if parts.query:
        event["queryStringParameters"] = dict(
            pair.split("=", 1) for pair in parts.query.split("&") if "=" in pair
        )
    if body:
        if _is_text(sent):
            event["body"] = body.decode()
        else:
            event["body"] = base64.b64encode(body).decode()
            event["isBase64Encoded"] = True
    return event


def lambda_answer(result: Mapping[str, Any]) -> Answer:
    """The handler's return value (a payload-2.0 response) as an ``Answer``."""
    raw = result.get("body", "")
    body = base64.b64decode(raw) if result.get("isBase64Encoded") else str(raw).encode()
    headers = {name.lower(): str(value) for name, value in (result.get("headers") or {}).items()}
    return Answer(int(result["statusCode"]), headers, body)


class Transport:
    """How a test reaches one intake: ``request`` sends as ``client`` and returns the answer."""

    name = ""

    def request(
        self,
        method: str,
        target: str,
        *,
        client: str,
        headers: Mapping[str, str] | None = None,
        body: bytes = b"",
    ) -> Answer:
        raise NotImplementedError

    def post_json(self, fields: Mapping[str, Any], *, client: str, **headers: str) -> Answer:
        data = json.dumps(dict(fields)).encode()
        chosen = {"content-type": "application/json", "accept": "application/json", **headers}
        return self.request("POST", "/api/comments", client=client, headers=chosen, body=data)


class HttpTransport(Transport):
    """The uvicorn intake over real HTTP; the client named through a trusted-proxy header."""

    name = "uvicorn"

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url

    def request(
        self,
        method: str,
        target: str,
        *,
        client: str,
        headers: Mapping[str, str] | None = None,
        body: bytes = b"",
    ) -> Answer:
        chosen = {**(headers or {}), "x-forwarded-for": client}
        response = httpx.request(
            method, self.base_url + target, headers=chosen, content=body or None, timeout=30
        )
        return Answer(response.status_code, dict(response.headers), response.content)


class LambdaTransport(Transport):
    """The Lambda handler, invoked with a Function URL or HTTP API event."""

    def __init__(self, kind: str, handler: Callable[[dict[str, Any], Any], dict[str, Any]]):
        self.name = kind
        self.kind = kind
        self.handler = handler

    def request(
        self,
        method: str,
        target: str,
        *,
        client: str,
        headers: Mapping[str, str] | None = None,
        body: bytes = b"",
    ) -> Answer:
        event = lambda_event(self.kind, method, target, client=client, headers=headers, body=body)
        return lambda_answer(self.handler(event, None))


def new_queue(endpoint: str, **attributes: str) -> str:
    """A fresh queue on the moto server."""
    client = boto3.client("sqs", endpoint_url=endpoint, region_name="us-east-1")
    name = f"afterword-{uuid.uuid4().hex[:12]}"
    return str(client.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"])


def delete_queue(endpoint: str, url: str) -> None:
    boto3.client("sqs", endpoint_url=endpoint, region_name="us-east-1").delete_queue(QueueUrl=url)


def drain(endpoint: str, url: str) -> list[dict[str, Any]]:
    """Receive and delete every message now visible; their bodies, parsed."""
    client = boto3.client("sqs", endpoint_url=endpoint, region_name="us-east-1")
    found: list[dict[str, Any]] = []
    while True:
        got = client.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
        if not got:
            return found
        for message in got:
            found.append(json.loads(message["Body"]))
            client.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
