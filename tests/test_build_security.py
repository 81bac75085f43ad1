"""Nothing hostile or private reaches the output: attack strings, e-mails, IP hashes."""

from __future__ import annotations

import json
from dataclasses import replace
from html.parser import HTMLParser
from pathlib import Path

import defusedxml.ElementTree as SafeXML
import pytest
from test_build_support import add, tree

from afterword.builder import build_site
from afterword.builder.avatar import NO_AVATAR
from afterword.builder.feeds import FeedSite, page_feed
from afterword.builder.render import get_template, make_environment
from afterword.builder.view import CommentView
from afterword.config import Config
from afterword.store import Store
from afterword.store.subscriptions import ConfirmRules, confirm_subscriber, subscribe
from afterword.strings import load_strings
from afterword.text import has_forbidden

ATTACK_AUTHORS = [
    "<script>alert(1)</script>",
    '"><img src=x onerror=alert(1)>',
    "' onmouseover='alert(1)",
    "</span></li></ol><script>alert(1)</script>",
]
ATTACK_WEBSITES = [
    "javascript:alert(1)",
    "JaVaScRiPt:alert(1)",
    " javascript:alert(1)",
    "java\tscript:alert(1)",
    "data:text/html,<script>alert(1)</script>",
    'https://ok.example/"><script>alert(1)</script>',
    "vbscript:msgbox(1)",
    "//evil.example/x",
    "httpx://evil.example/",
    "https:evil.example",
    "https://bank.example@evil.example/",
    "https://evil.example/\u202egnp.exe",
]
ATTACK_BODIES = [
    "<script>alert(1)</script>",
    "[x](javascript:alert(1))",
    "<img src=x onerror=alert(1)>",
    "![x](javascript:alert(1))",
    '<a href="javascript:alert(1)">x</a>',
    "<svg onload=alert(1)>",
    "<iframe src=//evil.example></iframe>",
    "[x](data:text/html;base64,PHNjcmlwdD4=)",
    "<style>body{display:none}</style>",
    "`<script>`",
]
ATTACK_TITLES = ["</title><script>alert(1)</script>", "]]><script>alert(1)</script>"]
# Stored HTML that never went through our renderer (a hand-edited or hostile import).
RAW_HTML = '<script>alert(1)</script><p onclick="alert(1)">x</p><a href="javascript:alert(1)">y</a>'

ATOM = "{http://www.w3.org/2005/Atom}"
SAFE_URL_PREFIXES = ("http://", "https://", "mailto:", "#", "comments-", "data:image/svg+xml,")


class _Checker(HTMLParser):
    """Collects every violation: dangerous elements, handlers, non-allowlisted URLs."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.problems: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in {"script", "iframe", "object", "embed", "style", "base", "meta", "link"}:
            self.problems.append(f"<{tag}>")
        for name, value in attrs:
            if name.startswith("on"):
                self.problems.append(f"{tag}[{name}]")
            is_url = name in {"href", "src", "action", "xlink:href", "formaction"}
            if is_url and not (value or "").startswith(SAFE_URL_PREFIXES):
                self.problems.append(f"{tag}[{name}={value!r}]")


def assert_safe_html(text: str, where: str) -> None:
    checker = _Checker()
    checker.feed(text)
    checker.close()
    assert checker.problems == [], where


def assert_safe_output(root: Path) -> None:
    for key, data in tree(root).items():
        if key.startswith("afterword."):
            continue  # the widget's own assets
        assert b"<script" not in data.lower(), key
        text = data.decode("utf-8")
        if key.endswith(".html"):
            assert_safe_html(text, key)
        elif key.endswith(".json"):
            assert b"<" not in data, key
            for comment in json.loads(data).get("comments", []):
                assert_safe_html(comment["html"] or "", key)
                website = comment["website"]
                assert website is None or website.startswith(("http://", "https://")), key
        elif key.endswith(".atom"):
            feed = SafeXML.fromstring(data)
            for node in feed.iter("{http://www.w3.org/2005/Atom}content"):
                assert_safe_html(node.text or "", key)
            for node in feed.iter("{http://www.w3.org/2005/Atom}uri"):
                assert (node.text or "").startswith(("http://", "https://")), key


def test_build_security_attack_strings_never_reach_output(config: Config, store: Store) -> None:
    for n, author in enumerate(ATTACK_AUTHORS):
        add(store, f"/authors/{n}/", author=author)
    for n, website in enumerate(ATTACK_WEBSITES):
        add(store, f"/sites/{n}/", website=website)
    for n, body in enumerate(ATTACK_BODIES):
        add(store, f"/bodies/{n}/", body)
    for n, title in enumerate(ATTACK_TITLES):
        add(store, f"/titles/{n}/", title=title)
    add(store, "/raw/", "x", body_html=RAW_HTML, source="import:disqus")
    add(store, "/raw-intake/", "x", body_html=RAW_HTML, renderer="md0-stale")
    add(store, "/raw-import/", "x", body_html=RAW_HTML, renderer="md0", source="import:wp")
    build_site(config, store)
    assert_safe_output(Path(config.output_dir))


@pytest.mark.parametrize("avatar", ["identicon", "gravatar", "none"])
def test_build_security_no_email_or_ip_hash_in_output(
    config: Config, store: Store, avatar: str
) -> None:
    config = replace(config, build=replace(config.build, avatar=avatar))
    seeded = []
    for n in range(6):
        email = f"Person.{n}@Private-Mail.example"
        ip_hash = f"{n:02d}" + "f00dfeed" * 4
        parent = add(store, f"/p{n % 2}/", f"comment {n}", email=email, ip_hash=ip_hash)
        add(store, f"/p{n % 2}/", "reply", parent=parent, email=email, ip_hash=ip_hash)
        seeded.append((email, ip_hash))
    build_site(config, store)
    blobs = tree(Path(config.output_dir))
    for email, ip_hash in seeded:
        for needle in (email, email.lower(), email.split("@")[0], ip_hash):
            hits = [k for k, v in blobs.items() if needle.encode() in v]
            assert hits == [], (needle, hits)


def test_build_security_no_subscriber_address_in_output(config: Config, store: Store) -> None:
    """With reply mails on (the form has its box) and addresses subscribed and confirmed,
    neither the addresses nor anything of the subscriptions reach a built byte."""
    config = replace(config, notify=replace(config.notify, reply_mails=True))
    emails = [f"Sub.Scriber{n}@Private-Mail.example" for n in range(3)]
    ids = [add(store, f"/s{n}/", f"comment {n}", email=email) for n, email in enumerate(emails)]
    with store.write() as conn:
        subscribe(conn, list(zip(ids, emails, strict=True)), ConfirmRules("9999", 3))
        for subscriber in range(1, 4):
            confirm_subscriber(conn, subscriber)
    for n, parent in enumerate(ids):
        add(store, f"/s{n}/", "a reply", parent=parent, email="", author="Bo")
    assert store.scalar("SELECT count(*) FROM subscribers WHERE state = 'confirmed'") == 3
    build_site(config, store)
    blobs = tree(Path(config.output_dir))
    assert any(b'name="notify_replies"' in blob for blob in blobs.values())
    for email in emails:
        for needle in (email, email.lower(), email.split("@")[0], "Private-Mail"):
            hits = [k for k, v in blobs.items() if needle.encode() in v]
            assert hits == [], (needle, hits)


# Every class of character XML forbids that a SQLite text value can hold (lone surrogates
# cannot be stored through Python's sqlite3; the feed test below hands them to the writer).
HOSTILE_CHARS = "\x01\x08\x0b\x0c\x1f\ufffe\uffff\ufdd0\ufdef\U0001fffe\U0010ffff"


def test_build_security_forbidden_characters_in_the_store_never_break_output(
    config: Config, store: Store
) -> None:
    """Rows written straight into the store, past intake and importers: every feed still
    parses as XML, every JSON file as JSON, and no output file holds such a character."""
    h = HOSTILE_CHARS
    add(store, "/x/", f"body {h}", author=f"Ana{h}", website=f"https://a.example/{h}")
    add(store, "/x/", "b", body_html=f"<p>imported {h}</p>", source="import:disqus", title=h)
    add(store, "/y/", "c", body_html=f"<p>stale {h}</p>", renderer="md0", author=h)
    add(store, "/y/", "d", body_html=f"<p>current {h}</p>", title=f"T{h}")
    parent = add(store, "/z/", "p", author=f"Par{h}ent")
    add(store, "/z/", "invisible", author="\u200b\u3164 \u2800")
    add(store, "/z/", "reply", parent=parent)
    build_site(config, store)
    files = tree(Path(config.output_dir))
    for key, data in files.items():
        text = data.decode("utf-8")
        assert not has_forbidden(text), key
        if key.endswith(".atom"):
            SafeXML.fromstring(data)
        elif key.endswith(".json"):
            json.loads(data)
    names = [n.text or "" for n in SafeXML.fromstring(files["feed.atom"]).iter(f"{ATOM}name")]
    assert sorted(names) == ["Ana", "Ana", "Ana", "Ana", "Anonymous", "Anonymous", "Parent"]
    thread = json.loads(files["threads/z/comments.json"])
    assert [c["author"] for c in thread["comments"]] == ["Parent", "Ana", "Anonymous"]
    assert_safe_output(Path(config.output_dir))


def test_build_security_feed_writer_survives_lone_surrogates() -> None:
    """The feed writer on its own: views holding lone surrogates still give UTF-8 XML."""
    env = make_environment("")
    site = FeedSite(
        template=get_template(env, "feed.atom"),
        strings=load_strings("en", ""),
        language="en",
        site_url="https://blog.example.com/",
        site_title="Blog\ud800",
        origin="https://blog.example.com",
    )
    view = CommentView(
        1, None, 0, False, "Ana\udfff\ufffe", None, NO_AVATAR, "<p>x\ud800</p>",
        "2026-01-01T00:00:00Z", "", 1, False,
    )  # fmt: skip
    feed = SafeXML.fromstring(page_feed(site, "/p/", "Title\udc00", "", [view]).data)
    assert [n.text for n in feed.iter(f"{ATOM}name")] == ["Ana"]
    assert [n.text for n in feed.iter(f"{ATOM}content")] == ["<p>x</p>"]
