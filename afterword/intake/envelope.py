"""A submission as a queue message: what an SQS intake sends and ``afterword pull`` stores.

The queue is treated as untrusted input. The intake validates before sending (so the client
gets the same 422 as ever), and ``pull`` validates and renders the Markdown again from the
message's fields: whoever can write to the queue cannot plant HTML or bypass a rule.

The intake has no database, hence no site secret, so the message carries the client's
*network* (``privacy.client_network``: the IPv4 address, or the IPv6 /64) and ``pull``
hashes it with the database's secret, exactly as the SQLite intake does. That network sits
in the queue until pulled (the template keeps messages at most 4 days, encrypted at rest);
it is never stored.

Each message has a random ``id``: stored as the comment's external id, it makes a second
delivery of the same message (SQS delivers at least once) a no-op. The format is versioned
(``v``); a message this code cannot read is ``MalformedMessage``, never a half-stored comment.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from afterword.intake.validate import HONEYPOT_FIELD, NOTIFY_FIELD, Submission

FORMAT_VERSION = 1
_TEXT = ("id", "received", "client", "page_url")


class MalformedMessage(ValueError):
    """A queue message that is not a submission this version of afterword can store."""


@dataclass(frozen=True)
class QueuedSubmission:
    """One submission in transit: its fields as the client sent them, after validation."""

    id: str
    received: str
    fields: dict[str, Any]
    client: str
    page_url: str

    @classmethod
    def new(
        cls, submission: Submission, client: str, page_url: str, received: str
    ) -> QueuedSubmission:
        """The message for a validated submission (its fields in their cleaned form)."""
        fields: dict[str, Any] = {
            "page": submission.page_key,
            "author": submission.author,
            "body": submission.body,
            "email": submission.email,
            "website": submission.website,
        }
        if submission.parent_id is not None:
            fields["parent"] = submission.parent_id
        if submission.honeypot:
            fields[HONEYPOT_FIELD] = "filled"
        if submission.notify_replies:
            fields[NOTIFY_FIELD] = True
        return cls(uuid.uuid4().hex, received, fields, client, page_url)

    def to_message(self) -> str:
        data = {
            "v": FORMAT_VERSION,
            "id": self.id,
            "received": self.received,
            "fields": self.fields,
            "client": self.client,
            "page_url": self.page_url,
        }
        return json.dumps(data, ensure_ascii=False, separators=(",", ":"), sort_keys=True)

    @classmethod
    def from_message(cls, body: str) -> QueuedSubmission:
        try:
            data = json.loads(body)
        except ValueError as exc:
            raise MalformedMessage(f"not JSON: {exc}") from None
        if not isinstance(data, Mapping):
            raise MalformedMessage("not a JSON object")
        if data.get("v") != FORMAT_VERSION:
            raise MalformedMessage(f"unknown format version {data.get('v')!r}")
        for name in _TEXT:
            if not isinstance(data.get(name), str) or not data[name]:
                raise MalformedMessage(f"field {name!r} is missing or not text")
        fields = data.get("fields")
        if not isinstance(fields, Mapping):
            raise MalformedMessage("field 'fields' is not an object")
        return cls(data["id"], data["received"], dict(fields), data["client"], data["page_url"])
