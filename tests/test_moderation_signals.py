"""Spam signals shown in review: each one fires on its case and stays quiet otherwise."""

from __future__ import annotations

import pytest
from conftest import add_rendered as add

from afterword.moderation.signals import Signals, spam_signals, text_signals
from afterword.store import Store


@pytest.mark.parametrize(
    ("body", "links", "expected"),
    [
        ("A perfectly ordinary comment about the post.", 0, []),
        ("A perfectly ordinary comment with links.", 3, []),
        ("Buy things here and there and everywhere.", 4, ["4 links (more than 3)"]),
        ("THIS IS THE BEST POST I HAVE EVER READ", 0, ["all caps"]),
        ("OK LOL, fine by me then.", 0, []),
        ("LOOK AT [THIS](https://example.com/deal) RIGHT NOW https://x.example/y", 2, ["all caps"]),
        ("+1", 0, ["very short"]),
        ("word " * 1000, 0, ["very long"]),
        ("Wow!!!!!! that is a great post", 0, ["repeated characters"]),
        ("Sooooooo good, thanks for writing it", 0, ["repeated characters"]),
        ("A line\n\n-----\n\nanother line", 0, []),
        ("NICE!!!!!!!!", 0, ["repeated characters"]),
    ],
)
def test_text_signals_table(body: str, links: int, expected: list[str]) -> None:
    assert text_signals(body, links, max_links=3) == expected


def test_spam_signals_first_time_author_and_links(store: Store) -> None:
    body = "See [one](https://a.example) and https://b.example for details"
    comment = add(store, body, email="new@example.com")
    signals = spam_signals(store, comment, max_links=1)
    assert signals == Signals(2, ("2 links (more than 1)", "first-time author"))
    assert signals.describe() == "2 links (more than 1), first-time author"


def test_spam_signals_known_author_is_quiet(store: Store) -> None:
    add(store, "An earlier, approved comment", email="Known@Example.com", status="approved")
    comment = add(store, "A second comment from a regular", email="known@example.com")
    assert spam_signals(store, comment, max_links=3) == Signals(0, ())
    assert Signals(0, ()).describe() == "none"


def test_spam_signals_no_email(store: Store) -> None:
    comment = add(store, "A comment without any e-mail address")
    assert spam_signals(store, comment, max_links=3).flags == ("no e-mail",)


def test_spam_signals_duplicate_on_page_and_in_queue(store: Store) -> None:
    first = add(store, "Great  post, visit my site", email="a@example.com", page_key="/a/")
    twin = add(store, "great post, visit MY site", email="b@example.com", page_key="/a/")
    elsewhere = add(store, "Great post, visit my site", email="c@example.com", page_key="/b/")
    assert "duplicate body" in spam_signals(store, twin, max_links=3).flags
    assert "duplicate body" not in spam_signals(store, elsewhere, max_links=3).flags
    queue = [first, twin, elsewhere]
    assert "duplicate body" in spam_signals(store, elsewhere, max_links=3, queue=queue).flags
