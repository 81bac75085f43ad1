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
from afterword.config import Config
from afterword.store import Store

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
                assert comment["website"] is None or comment["website"].startswith("http")
        elif key.endswith(".atom"):
            feed = SafeXML.fromstring(data)
            for node in feed.iter("{http://www.w3.org/2005/Atom}content"):
                assert_safe_html(node.text or "", key)
            for node in feed.iter("{http://www.w3.org/2005/Atom}uri"):
                assert (node.text or "").startswith("http"), key


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
