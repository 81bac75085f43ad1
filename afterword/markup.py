"""Comment bodies: Markdown in, sanitized HTML fragment out.

The rendered HTML is stored next to the Markdown (``body_html``) and published as is, often
straight into ``innerHTML``, so this module is the one place that decides what markup a
stranger may put on someone's site. Two layers, on purpose:

* markdown-it-py in CommonMark mode with raw HTML off, so typed ``<tags>`` come out as text,
  and images turned into plain links (an ``<img>`` would load a third-party URL -- a
  tracking pixel -- in every reader's browser).
* nh3 (ammonia) with a small allowlist, which is the actual security boundary: it also
  cleans HTML imported from other comment systems, which was never Markdown and can be any
  tag soup. Only http, https and mailto URLs (and relative ones) survive, and every link gets
  ``rel="nofollow ugc noopener"`` so comment spam earns no ranking.

Both are configured once at import because rendering runs on the intake's hot path.
``RENDERER_VERSION`` changes whenever the output could change, so the builder can tell
which stored ``body_html`` values are stale.
"""

from __future__ import annotations

import html
import re
import unicodedata
from collections.abc import Mapping, Sequence
from html.parser import HTMLParser
from importlib.metadata import version
from types import MappingProxyType

import nh3
from markdown_it import MarkdownIt
from markdown_it.renderer import RendererHTML
from markdown_it.token import Token
from markdown_it.utils import EnvType, OptionsDict

__all__ = [
    "ALLOWED_ATTRIBUTES",
    "ALLOWED_TAGS",
    "ALLOWED_URL_SCHEMES",
    "LINK_REL",
    "RENDERER_VERSION",
    "count_links",
    "excerpt",
    "render_markdown",
    "sanitize_html",
]

# Bump the "md" number when this module's own configuration changes what it outputs; the
# library versions are appended because their upgrades can change it too.
RENDERER_VERSION = f"md1-{version('markdown-it-py')}-{version('nh3')}"

ALLOWED_URL_SCHEMES = frozenset({"http", "https", "mailto"})
LINK_REL = "nofollow ugc noopener"

# What a comment may contain, published as is; docs/intake-api.md ("Published markup") lists
# the same, and tests/test_markup.py fails when the two drift apart.
ALLOWED_TAGS = frozenset(
    {"p", "br", "em", "strong", "code", "pre", "blockquote", "ul", "ol", "li", "a"}
)
ALLOWED_ATTRIBUTES: Mapping[str, frozenset[str]] = MappingProxyType(
    {"a": frozenset({"href"}), "ol": frozenset({"start"})}
)
# Elements whose content is never readable text: dropping only the tags would leave CSS,
# script source or a whole foreign document behind as visible garbage.
_CLEAN_CONTENT_TAGS = frozenset(
    {"script", "style", "template", "noscript", "iframe", "object", "svg", "math", "title"}
)


_LIST_START = re.compile(r"[0-9]{1,9}")


def _filter_attribute(tag: str, attribute: str, value: str) -> str | None:
    """Keep ``<ol start>`` only as a plain number.

    ``start`` is allowed at all because CommonMark turns "1999. What a year" into a list
    starting at 1999; dropping it would silently renumber what the commenter wrote.
    """
    if tag == "ol" and attribute == "start":
        return value if _LIST_START.fullmatch(value) else None
    return value


def _cleaner(*, allow_images: bool) -> nh3.Cleaner:
    tags = set(ALLOWED_TAGS)
    # "*" must be given explicitly, or ammonia's default lang/title on every tag stays.
    attributes = {"*": set(), **{tag: set(names) for tag, names in ALLOWED_ATTRIBUTES.items()}}
    if allow_images:
        tags.add("img")
        attributes["img"] = {"src", "alt"}
    return nh3.Cleaner(
        tags=tags,
        clean_content_tags=set(_CLEAN_CONTENT_TAGS),
        attributes=attributes,
        url_schemes=set(ALLOWED_URL_SCHEMES),
        link_rel=LINK_REL,
        strip_comments=True,
        attribute_filter=_filter_attribute,
    )


_CLEANER = _cleaner(allow_images=False)
_CLEANER_WITH_IMAGES = _cleaner(allow_images=True)


def _image_as_link(
    self: RendererHTML,
    tokens: Sequence[Token],
    idx: int,
    options: OptionsDict,
    env: EnvType,
) -> str:
    """Render ``![alt](src)`` as a link, keeping the content without loading anything.

    Inside a link the alt text alone is used, because a link nested in a link is invalid
    HTML that parsers repair in different ways.
    """
    token = tokens[idx]
    src = str(token.attrGet("src") or "")
    text = self.renderInlineAsText(token.children or [], options, env) or src
    depth = sum((t.type == "link_open") - (t.type == "link_close") for t in tokens[:idx])
    if depth > 0 or not src:
        return html.escape(text)
    return f'<a href="{html.escape(src)}">{html.escape(text)}</a>'


def _heading_open(
    self: RendererHTML,
    tokens: Sequence[Token],
    idx: int,
    options: OptionsDict,
    env: EnvType,
) -> str:
    """Headings become bold paragraphs: a comment should not outrank the page's own
    headings or the document outline, yet "# Update" should still read as emphasis."""
    return "<p><strong>"


def _heading_close(
    self: RendererHTML,
    tokens: Sequence[Token],
    idx: int,
    options: OptionsDict,
    env: EnvType,
) -> str:
    return "</strong></p>\n"


def _markdown(*, raw_html: bool) -> MarkdownIt:
    md = MarkdownIt("commonmark", {"html": raw_html, "linkify": False, "typographer": False})
    md.add_render_rule("image", _image_as_link)
    md.add_render_rule("heading_open", _heading_open)
    md.add_render_rule("heading_close", _heading_close)
    return md


_MD = _markdown(raw_html=False)
# Excerpts read stored bodies that may be imported HTML, so tags are parsed (then dropped).
_MD_FOR_TEXT = _markdown(raw_html=True)


def render_markdown(body: str) -> str:
    """Render a comment's Markdown to the HTML fragment that gets stored and published."""
    return sanitize_html(_MD.render(body))


def sanitize_html(html_text: str, *, allow_images: bool = False) -> str:
    """Reduce any HTML -- ours or imported -- to the allowlist; the security boundary.

    ``allow_images`` exists for imports whose archives reference images the site owner
    chose to keep; Markdown rendering never asks for it.
    """
    cleaner = _CLEANER_WITH_IMAGES if allow_images else _CLEANER
    return cleaner.clean(html_text)


# Links spelled out as text are still links to a spammer and to a reader who copies them,
# so moderation counts them too.
_BARE_URL = re.compile(r"(?i)\b(?:https?://|www\.)[^\s<>\"']+")
_BLOCK_TAGS = frozenset(
    {
        "p", "br", "div", "li", "ul", "ol", "pre", "blockquote", "tr", "td", "th",
        "h1", "h2", "h3", "h4", "h5", "h6", "hr", "table", "section", "article",
    }
)  # fmt: skip
_INVISIBLE_TAGS = frozenset({"script", "style", "template", "noscript", "title", "head"})
# Terminal and bidi controls: excerpts are printed in a terminal, where these could rewrite
# the screen or reorder the text the moderator thinks they are reading.
_BIDI_CONTROLS = frozenset(
    "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
)


class _TextExtractor(HTMLParser):
    """Collects readable text and link targets from HTML, tolerating any tag soup."""

    def __init__(self, *, show_hrefs: bool) -> None:
        super().__init__(convert_charrefs=True)
        self.show_hrefs = show_hrefs
        self.parts: list[str] = []
        self.links = 0
        self.bare_urls = 0
        self._hidden = 0
        self._anchors: list[tuple[str, int]] = []  # (href, index into parts)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _INVISIBLE_TAGS:
            self._hidden += 1
        elif tag in _BLOCK_TAGS:
            self.parts.append(" ")
        elif tag == "a":
            href = (dict(attrs).get("href") or "").strip()
            if href:
                self.links += 1
            self._anchors.append((href, len(self.parts)))

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _BLOCK_TAGS:
            self.parts.append(" ")
        elif tag == "a":  # <a href=x/> is not self-closing in HTML, but counts as a link
            self.handle_starttag(tag, attrs)

    def handle_endtag(self, tag: str) -> None:
        if tag in _INVISIBLE_TAGS:
            self._hidden = max(0, self._hidden - 1)
        elif tag in _BLOCK_TAGS:
            self.parts.append(" ")
        elif tag == "a" and self._anchors:
            href, start = self._anchors.pop()
            label = "".join(self.parts[start:])
            if self.show_hrefs and href and href not in label:
                self.parts.append(f" ({href})")

    def handle_data(self, data: str) -> None:
        if self._hidden:
            return
        if not self._anchors:
            self.bare_urls += len(_BARE_URL.findall(data))
        self.parts.append(data)

    def text(self) -> str:
        return "".join(self.parts)


def _extract(html_text: str, *, show_hrefs: bool) -> _TextExtractor:
    parser = _TextExtractor(show_hrefs=show_hrefs)
    parser.feed(html_text)
    parser.close()
    return parser


def count_links(body_html: str) -> int:
    """Count links in a rendered body, for rules like "hold comments with 3+ links".

    Counts ``<a>`` elements with an ``href`` plus URLs written out as text outside links,
    since Markdown autolinking is off and a spammer's bare URL is still an advertisement.
    """
    if not _may_hold_links(body_html):
        return 0
    parser = _extract(body_html, show_hrefs=False)
    return parser.links + parser.bare_urls


# What every link ``count_links`` can find must contain, in raw HTML: an ``<a`` tag, or a bare
# URL's "http" / "www." -- unless a character reference spells part of it, hence "&".
_LINK_HINTS = ("<a", "http", "www.", "&")


def _may_hold_links(body_html: str) -> bool:
    """False when the HTML certainly holds no link: most comments, skipped without parsing
    (the parser costs tens of microseconds on the intake's hot path)."""
    lowered = body_html.lower()
    return any(hint in lowered for hint in _LINK_HINTS)


def excerpt(text: str, limit: int) -> str:
    """A one-line plain-text preview of a Markdown or HTML body, at most ``limit`` chars.

    For the moderator's review queue: formatting is dropped but link targets are kept in
    parentheses (they are what a spam decision turns on), controls are removed because the
    result goes to a terminal, and a cut is marked with "…" (counted in ``limit``).
    """
    if limit < 1:
        raise ValueError("excerpt limit must be at least 1")
    rendered = _MD_FOR_TEXT.render(text)
    plain = _extract(rendered, show_hrefs=True).text()
    plain = "".join(
        " " if unicodedata.category(ch) == "Cc" else ch for ch in plain if ch not in _BIDI_CONTROLS
    )
    plain = " ".join(plain.split())
    if len(plain) <= limit:
        return plain
    head = plain[: limit - 1]
    if not plain[limit - 1].isspace():  # the cut falls inside a word: back up to a space
        space = head.rfind(" ")
        if space > (limit - 1) // 2:
            head = head[:space]
    return head.rstrip() + "…"
