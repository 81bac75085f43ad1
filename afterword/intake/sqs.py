"""The SQS side of the intake: a boto3 client, sending one submission, and its errors.

The endpoint comes from boto3's usual chain (``AWS_ENDPOINT_URL_SQS`` / ``AWS_ENDPOINT_URL``,
which is how tests reach the moto server), the region from the chain or else from the queue
URL itself, credentials from the chain only — never from ``afterword.toml``. Retries are
botocore's ``standard`` mode. Every botocore failure becomes a ``QueueError`` here, once,
with a message written from the error code (never an echo of the request).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import boto3
from botocore import exceptions as boto
from botocore.config import Config as BotoConfig

from afterword.errors import QueueError
from afterword.intake.envelope import QueuedSubmission

_REGION_IN_URL = re.compile(r"https://sqs[.-]([a-z0-9-]+)\.amazonaws\.com/")
_DENIED = {"AccessDenied", "AccessDeniedException", "InvalidClientTokenId", "SignatureDoesNotMatch"}
_MISSING = {"AWS.SimpleQueueService.NonExistentQueue", "QueueDoesNotExist"}


def sqs_client(queue_url: str, *, max_pool_connections: int = 10) -> Any:
    """A boto3 SQS client for ``queue_url`` with standard retries.

    ``max_pool_connections``: as many as threads that share the client (boto3's default is
    10; more threads would open and drop connections).
    """
    session = boto3.session.Session()
    found = _REGION_IN_URL.match(queue_url)
    region = session.region_name or (found.group(1) if found else None)
    config = BotoConfig(
        retries={"mode": "standard"},
        connect_timeout=5,
        read_timeout=30,
        max_pool_connections=max_pool_connections,
    )
    with queue_errors(queue_url):
        return session.client("sqs", region_name=region, config=config)


def send(client: Any, queue_url: str, queued: QueuedSubmission) -> None:
    """Send one submission; returns only once SQS has acknowledged it (then the 202)."""
    with queue_errors(queue_url):
        client.send_message(QueueUrl=queue_url, MessageBody=queued.to_message())


def queue_depth(client: Any, queue_url: str) -> int:
    """GetQueueAttributes: the messages waiting (visible) in the queue."""
    with queue_errors(queue_url):
        answer = client.get_queue_attributes(
            QueueUrl=queue_url, AttributeNames=["ApproximateNumberOfMessages"]
        )
    return int(answer.get("Attributes", {}).get("ApproximateNumberOfMessages", 0))


@contextmanager
def queue_errors(queue_url: str) -> Iterator[None]:
    """botocore's exceptions, mapped once into ``QueueError``."""
    try:
        yield
    except boto.ClientError as exc:
        code = str(exc.response.get("Error", {}).get("Code", ""))
        if code in _MISSING:
            raise QueueError(f"SQS queue {queue_url} does not exist (check intake.queue)") from None
        if code in _DENIED:
            raise QueueError(
                f"SQS refused access to {queue_url} ({code}): the credentials need "
                "sqs:SendMessage (intake) or sqs:ReceiveMessage and sqs:DeleteMessage (pull); "
                "/healthz also needs sqs:GetQueueAttributes"
            ) from None
        raise QueueError(f"SQS error {code or 'unknown'} on {queue_url}") from None
    except boto.NoCredentialsError:
        raise QueueError("no AWS credentials found for SQS (boto3's usual chain)") from None
    except boto.NoRegionError:
        raise QueueError("no AWS region for SQS: set AWS_DEFAULT_REGION") from None
    except (boto.EndpointConnectionError, boto.ConnectionError, boto.ReadTimeoutError):
        raise QueueError(f"cannot reach SQS for {queue_url}") from None
    except boto.BotoCoreError as exc:
        raise QueueError(f"SQS request failed: {type(exc).__name__}") from None
