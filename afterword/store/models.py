"""Plain rows that stages pass between each other; no behaviour, no SQL."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass, fields
from datetime import UTC, datetime
from typing import Any, Self

OWNER_SOURCE = "owner"  # comments.source of the site owner's replies (published with a badge)


def utc_now() -> str:
    """Timestamps are ISO 8601 UTC text with microseconds: sortable as strings, readable."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_time(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)


def format_time(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class _Row:
    @classmethod
    def from_row(cls, row: sqlite3.Row | dict[str, Any]) -> Self:
        names = {f.name for f in fields(cls)}  # type: ignore[arg-type]
        return cls(**{k: v for k, v in dict(row).items() if k in names})


@dataclass(frozen=True)
class Page(_Row):
    key: str
    url: str
    title: str
    closed: int
    version: int
    built_version: int
    created: str


@dataclass(frozen=True)
class Comment(_Row):
    id: int
    page_key: str
    parent_id: int | None
    status: str
    author: str
    email: str
    website: str
    body: str
    body_html: str
    renderer: str
    created: str
    updated: str
    ip_hash: str
    body_hash: str
    source: str
    external_id: str | None
    extra: str
    edited: str | None = None  # when the author's approved revision last replaced the text


@dataclass(frozen=True)
class NewComment:
    """A comment about to be stored, from the intake or an importer."""

    page_key: str
    author: str
    body: str
    body_html: str
    renderer: str
    parent_id: int | None = None
    email: str = ""
    website: str = ""
    status: str = "pending"
    ip_hash: str = ""
    body_hash: str = ""
    source: str = "intake"
    external_id: str | None = None
    created: str | None = None
    page_url: str = ""
    page_title: str = ""
    extra: str = "{}"
