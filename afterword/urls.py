"""The one URL policy for a commenter's website: what the intake accepts is what gets published.

The builder links a website only if ``publishable_url`` returns it; the intake refuses with a
422 on ``website`` whatever it would not return, and importers drop (and count) it. Before this
was one function, the intake accepted URLs the builder then silently refused to link.

A website is published when it is an absolute ``http://`` or ``https://`` URL with a host and a
valid port, and holds no character that could break out of an attribute or disguise the link:
no whitespace of any kind, no quotes, angle brackets, backtick or backslash, no control or
format character (bidi overrides can make ``evil.example`` read as ``elpmaxe.live``), no
character XML forbids. User information (``https://bank.example@evil.example/``) is refused:
it is either a password about to be published or a disguise for the real host.
"""

from __future__ import annotations

import unicodedata
from functools import lru_cache
from urllib.parse import urlsplit

from afterword.text import has_forbidden

__all__ = ["WEBSITE_RULE", "publishable_url"]

WEBSITE_RULE = "must be an http:// or https:// address with a host, without spaces or quotes"
_SCHEMES = frozenset({"http", "https"})
_BAD_CHARS = frozenset("\"'<>`\\")
_BAD_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Zs", "Zl", "Zp"})


def _bad_char(char: str) -> bool:
    return char in _BAD_CHARS or unicodedata.category(char) in _BAD_CATEGORIES


@lru_cache(maxsize=4096)
def publishable_url(url: str) -> str | None:
    """The website as it will be linked (trimmed), or ``None`` if it must not be linked."""
    text = url.strip()
    if not text or has_forbidden(text) or any(_bad_char(ch) for ch in text):
        return None
    try:
        parts = urlsplit(text)
        parts.port  # noqa: B018 -- raises ValueError for a port that is not a number in range
    except ValueError:
        return None
    if parts.scheme.lower() not in _SCHEMES or not parts.hostname:
        return None
    if "@" in parts.netloc:
        return None
    return text
