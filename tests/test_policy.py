"""The moderation rules applied at intake: who skips the queue, and what always waits."""

from __future__ import annotations

import pytest
from fixtures_intake import configured

from afterword.config import Config
from afterword.policy import initial_status, is_trusted

PLAIN = "<p>hello</p>"
THREE_LINKS = '<p><a href="https://a.example">a</a> https://b.example www.c.example</p>'
FOUR_LINKS = THREE_LINKS + '<p><a href="https://d.example">d</a></p>'


@pytest.mark.parametrize(
    ("trusted", "email", "status"),
    [
        (["ada@example.org"], "ada@example.org", "approved"),
        (["Ada@Example.org"], "  ADA@example.ORG ", "approved"),
        (["@example.org"], "bob@example.org", "approved"),
        (["@example.org"], "bob@sub.example.org", "pending"),
        (["@example.org"], "bob@example.org.evil", "pending"),
        (["example.org"], "bob@example.org", "pending"),
        (["ada@example.org"], "", "pending"),
        ([], "ada@example.org", "pending"),
    ],
)
def test_initial_status_trusted_addresses(
    config: Config, trusted: list[str], email: str, status: str
) -> None:
    rules = configured(config, moderation={"trusted": trusted})
    assert initial_status(rules, 0, email, PLAIN) == status


@pytest.mark.parametrize(
    ("after", "earlier", "status"),
    [(0, 100, "pending"), (3, 2, "pending"), (3, 3, "approved"), (1, 5, "approved")],
)
def test_initial_status_auto_approve_after(
    config: Config, after: int, earlier: int, status: str
) -> None:
    rules = configured(config, moderation={"auto_approve_after": after})
    assert initial_status(rules, earlier, "ada@example.org", PLAIN) == status


def test_initial_status_asks_for_the_count_only_when_needed(config: Config) -> None:
    asked: list[str] = []

    def count(email: str) -> int:
        asked.append(email)
        return 5

    trusting = configured(config, moderation={"trusted": ["@example.org"], "auto_approve_after": 2})
    assert initial_status(trusting, count, "ada@example.org", PLAIN) == "approved"
    assert asked == []
    assert initial_status(trusting, count, "Bob@Other.org", PLAIN) == "approved"
    assert asked == ["bob@other.org"]


@pytest.mark.parametrize(
    ("body_html", "status"), [(THREE_LINKS, "approved"), (FOUR_LINKS, "pending")]
)
def test_initial_status_too_many_links_always_queues(
    config: Config, body_html: str, status: str
) -> None:
    rules = configured(config, moderation={"trusted": ["ada@example.org"], "max_links": 3})
    assert initial_status(rules, 99, "ada@example.org", body_html) == status


def test_initial_status_without_email_is_pending(config: Config) -> None:
    rules = configured(config, moderation={"auto_approve_after": 1})
    assert initial_status(rules, lambda _: 10, "", PLAIN) == "pending"


def test_is_trusted_ignores_blank_entries() -> None:
    assert not is_trusted("ada@example.org", ["", "  "])
    assert is_trusted("ada@example.org", ["", "@EXAMPLE.ORG"])
