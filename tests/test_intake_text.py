"""Over real HTTP: forbidden characters stripped, invisible names and unpublishable websites
refused — and what the intake accepts is exactly what the build publishes."""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import defusedxml.ElementTree as SafeXML
import httpx
import pytest
from fixtures_intake import UNLIMITED, RunningIntake, comment_fields, configured

from afterword.builder import build_site
from afterword.config import load_config
from afterword.intake.server import BackgroundServer
from afterword.scaffold import write_config
from afterword.store import Store, moderate, open_store
from afterword.text import has_forbidden
from afterword.urls import WEBSITE_RULE

ATOM = "{http://www.w3.org/2005/Atom}"
INVISIBLE = "has no visible character (only spaces or invisible characters)"
# One of each class XML forbids: C0 controls, noncharacters in planes 0, 1 and 16, the
# U+FDD0 block, and lone surrogates (sent as JSON escapes: they cannot be UTF-8 bytes).
HOSTILE = "\x01\x08\x0b\x0c\x1f\ufffe\uffff\ufdd0\ufdef\U0001fffe\U0010ffff\udfff\ud800"
INVISIBLE_NAMES = [
    " ",
    "\u200b",
    "\u200b\u200c\u200d",
    "\u2060",
    "\ufeff",
    "\u3164",
    "\u115f\u1160",
    "\uffa0",
    "\u2800\u2800",
    "\u00ad",
    "\u0301\u0308",
    "\u3000\u2003\u00a0",
    "\u034f",
    "\U000e0041\U000e0042",
    "\u200e\u061c",
    "\ufe0f",
    "\u2028",
    "\u17b4",
]
VISIBLE_NAMES = ["Zoë", "e\u0301", "👍", "李小龍", "\u3164A", "A\u200bB", "ÖZGÜ’NÜN", "🏳️‍🌈"]
UNPUBLISHABLE = [
    "httpx://example.org/",
    "https:example.org",
    "http:///path",
    "https://example.org/a b",
    "https://example.org/a\u00a0b",
    "https://example.org/a\u2028b",
    "https://example.org/a\u3000b",
    'https://example.org/"',
    "https://example.org/'x",
    "https://example.org/<b>",
    "https://example.org/`",
    "https://example.org\\@evil.example/",
    "https://bank.example@evil.example/",
    "https://user:pw@example.org/",
    "https://example.org:99999/",
    "https://example.org:port/",
    "https://[::1/",
    "https://exa\u200fmple.org/",
    "https://example.org/\u200b",
    "//example.org/",
    "javascript:alert(1)",
    "mailto:ada@example.org",
]
PUBLISHABLE = [
    "https://ada.example.org/",
    "HTTP://ADA.EXAMPLE.ORG",
    "https://bücher.example/ü?q=1#frag",
    "https://[2001:db8::1]:8443/x",
    "http://example.org:80/a%20b",
    "https://example.org/~ada/(paren)",
]


_sent = itertools.count()


def send(intake: RunningIntake, **fields: Any) -> httpx.Response:
    """POST JSON with ASCII escapes, so lone surrogates travel as ``\\ud800``; each body is
    new, so no post is refused as a duplicate."""
    fields.setdefault("body", f"Comment number {next(_sent)}")
    return httpx.post(
        intake.api,
        content=json.dumps(comment_fields(**fields)),
        headers={"Content-Type": "application/json"},
        timeout=10,
    )


@pytest.fixture(scope="module")
def text_intake(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningIntake]:
    folder = tmp_path_factory.mktemp("text-site")
    write_config(folder, site_url="https://blog.example.com")
    config = configured(load_config(folder / "afterword.toml", environ={}), limits=UNLIMITED)
    with BackgroundServer(config) as server:
        yield RunningIntake(server, config)


def field_error(response: httpx.Response) -> dict[str, str]:
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["code"] == "invalid"
    fields: dict[str, str] = error["fields"]
    return fields


def test_intake_text_strips_forbidden_characters_from_every_field(
    text_intake: RunningIntake,
) -> None:
    response = send(
        text_intake,
        author=f"A{HOSTILE}da",
        body=f"Hi{HOSTILE} there\ttab",
        email=f"ada{HOSTILE}@example.org",
        website=f"https://ada.example.org/{HOSTILE}x",
    )
    assert response.status_code == 202, response.text
    data = response.json()["data"]
    with open_store(text_intake.config.database_path) as store:
        row = store.query("SELECT * FROM comments WHERE id = ?", (data["id"],))[0]
    assert (row["author"], row["body"], row["email"], row["website"]) == (
        "Ada",
        "Hi there\ttab",
        "ada@example.org",
        "https://ada.example.org/x",
    )
    assert not has_forbidden(row["body_html"])
    assert (data["author"], data["website"]) == ("Ada", "https://ada.example.org/x")


@pytest.mark.parametrize("body", [HOSTILE, f" {HOSTILE}\n\u200b "])
def test_intake_text_body_of_only_forbidden_or_invisible_characters_is_refused(
    text_intake: RunningIntake, body: str
) -> None:
    assert set(field_error(send(text_intake, body=body))) == {"body"}


@pytest.mark.parametrize("page", ["/blog/a\ufffe/", "/blog/%EF%BF%BF/", "/blog/\ufdd0/"])
def test_intake_text_page_with_a_noncharacter_is_refused_not_renamed(
    text_intake: RunningIntake, page: str
) -> None:
    assert set(field_error(send(text_intake, page=page))) == {"page"}


@pytest.mark.parametrize("name", INVISIBLE_NAMES, ids=ascii)
def test_intake_text_invisible_author_is_422(text_intake: RunningIntake, name: str) -> None:
    expected = "is required" if not name.strip() else INVISIBLE
    assert field_error(send(text_intake, author=name)) == {"author": expected}


def test_intake_text_invisible_author_padded_with_forbidden_characters_is_422(
    text_intake: RunningIntake,
) -> None:
    fields = field_error(send(text_intake, author=f"\u200b{HOSTILE}\u3164"))
    assert fields == {"author": INVISIBLE}


@pytest.mark.parametrize("name", VISIBLE_NAMES, ids=ascii)
def test_intake_text_visible_author_is_accepted(text_intake: RunningIntake, name: str) -> None:
    response = send(text_intake, author=name)
    assert response.status_code == 202, response.text
    assert response.json()["data"]["author"] == name


@pytest.mark.parametrize("url", UNPUBLISHABLE, ids=ascii)
def test_intake_text_unpublishable_website_is_422(text_intake: RunningIntake, url: str) -> None:
    assert field_error(send(text_intake, website=url)) == {"website": WEBSITE_RULE}


def test_intake_text_accepted_websites_are_published_and_feeds_parse(
    start_intake: Any, store: Store
) -> None:
    """Every website the intake takes is linked by the build; a hostile comment leaves the
    HTML, JSON and Atom output well-formed."""
    intake: RunningIntake = start_intake(limits=UNLIMITED)
    ids = []
    for n, url in enumerate(PUBLISHABLE):
        response = send(intake, page=f"/blog/w{n}/", website=url, author=f"A{HOSTILE}{n}")
        assert response.status_code == 202, response.text
        ids.append(response.json()["data"]["id"])
    moderate(store, ids, "approve", actor="test")
    build_site(intake.config, store)
    out = Path(intake.config.output_dir)
    for n, url in enumerate(PUBLISHABLE):
        thread = json.loads((out / f"threads/blog/w{n}/comments.json").read_bytes())
        assert [c["website"] for c in thread["comments"]] == [url.strip()]
        feed = SafeXML.fromstring((out / f"threads/blog/w{n}/feed.atom").read_bytes())
        assert [u.text for u in feed.iter(f"{ATOM}uri")] == [url.strip()]
        assert [a.text for a in feed.iter(f"{ATOM}name")] == [f"A{n}"]
    site = SafeXML.fromstring((out / "feed.atom").read_bytes())
    assert len(list(site.iter(f"{ATOM}entry"))) == len(PUBLISHABLE)


@pytest.mark.parametrize("encoding", ["urlencoded", "multipart"])
def test_intake_text_form_posts_follow_the_same_rules(
    text_intake: RunningIntake, encoding: str
) -> None:
    """Forms decode percent-escapes to the same characters (``%EF%BF%BE`` is U+FFFE)."""
    noncharacters = "\ufffe\uffff\ufdd0\x01\x1f"
    fields = comment_fields(
        author=f"B{noncharacters}é", body=f"form {encoding}{noncharacters}", website=""
    )
    files = {"x-unused": (None, "1")} if encoding == "multipart" else None
    accept = {"accept": "application/json"}
    response = httpx.post(text_intake.api, data=fields, files=files, headers=accept, timeout=10)
    assert response.status_code == 202, response.text
    assert response.json()["data"]["author"] == "Bé"
    fields = comment_fields(author="\u3164", website="https://a.example/ b", body=encoding)
    refused = httpx.post(text_intake.api, data=fields, files=files, headers=accept, timeout=10)
    assert set(field_error(refused)) == {"author", "website"}
