"""Markup: what survives rendering and sanitizing, checked by re-parsing the output."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

import nh3
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from markdown_it import MarkdownIt

from afterword import markup
from afterword.markup import (
    RENDERER_VERSION,
    count_links,
    excerpt,
    render_markdown,
    sanitize_html,
)

REL = 'rel="nofollow ugc noopener"'
DOCS = Path(__file__).resolve().parents[1] / "docs" / "intake-api.md"


def documented_markup() -> tuple[dict[str, set[str]], set[str]]:
    """({element: attributes kept}, link schemes) as docs/intake-api.md lists them."""
    text = DOCS.read_text(encoding="utf-8")
    section = text.split("### Published markup", 1)[1].split("\n#", 1)[0]
    elements: dict[str, set[str]] = {}
    for line in section.splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if line.startswith("| `") and len(cells) == 3:
            elements[cells[0].strip("`")] = set(re.findall(r"`([a-z]+)`", cells[1]))
    schemes_line = next(line for line in section.splitlines() if line.startswith("Link schemes"))
    schemes = set(re.findall(r"`([a-z]+)`", schemes_line.split(":", 1)[1].split("(")[0]))
    return elements, schemes


DOCUMENTED, DOCUMENTED_SCHEMES = documented_markup()
# What the output may hold: the documented attributes, plus the rel every link is given.
ALLOWED_ATTRIBUTES: dict[str, set[str]] = {
    tag: names | ({"rel"} if tag == "a" else set()) for tag, names in DOCUMENTED.items()
}
WITH_IMAGES = {**ALLOWED_ATTRIBUTES, "img": {"src", "alt"}}
_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.\-]*):")


class _Collector(HTMLParser):
    """Re-parse sanitized output the way a browser tokenizer would and record every tag."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, list[tuple[str, str | None]]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, attrs))

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, attrs))


def assert_safe(output: str, *, allow_images: bool = False) -> None:
    allowed = WITH_IMAGES if allow_images else ALLOWED_ATTRIBUTES
    lowered = output.lower()
    assert "<script" not in lowered
    assert "<svg" not in lowered
    assert "<iframe" not in lowered
    assert "<style" not in lowered
    assert "<!--" not in output
    if not allow_images:
        assert "<img" not in lowered
    collector = _Collector()
    collector.feed(output)
    collector.close()
    for tag, attrs in collector.tags:
        assert tag in allowed, f"tag {tag!r} survived in {output!r}"
        names = [name for name, _ in attrs]
        assert len(names) == len(set(names)), output
        for name, value in attrs:
            assert name in allowed[tag], f"attribute {name!r} on {tag!r} in {output!r}"
            assert not name.startswith("on")
            if name in ("href", "src"):
                url = "".join(ch for ch in (value or "") if ch > " ").lower()
                scheme = _SCHEME.match(url)
                assert scheme is None or scheme[1] in {"http", "https", "mailto"}, output
                # Only the start matters: https://x/javascript:1 is a harmless path.
                assert not url.startswith(("javascript:", "vbscript:", "data:", "file:")), output
        if tag == "a":
            assert ("rel", "nofollow ugc noopener") in attrs, output
        if tag == "ol":
            assert all(re.fullmatch(r"[0-9]+", value or "") for _, value in attrs), output


def assert_stable(output: str, *, allow_images: bool = False) -> None:
    """Sanitizing again must change nothing, or a second parse could differ (mutation XSS).

    One known, harmless exception: HTML parsing drops a newline right after ``<pre>``, and
    html5ever's serializer does not double it, so ``<pre>\\n`` loses that newline once.
    """
    again = sanitize_html(output, allow_images=allow_images)
    assert again == output.replace("<pre>\n", "<pre>")


# --- exact output for ordinary comments ---------------------------------------------------


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("", ""),
        ("Hello *world*", "<p>Hello <em>world</em></p>\n"),
        ("**bold** and `x < y`", "<p><strong>bold</strong> and <code>x &lt; y</code></p>\n"),
        ("a & b < c > d", "<p>a &amp; b &lt; c &gt; d</p>\n"),
        ("one\ntwo", "<p>one\ntwo</p>\n"),
        ("line one  \nline two", "<p>line one<br>\nline two</p>\n"),
        ("para one\n\npara two", "<p>para one</p>\n<p>para two</p>\n"),
        ("- a\n- b", "<ul>\n<li>a</li>\n<li>b</li>\n</ul>\n"),
        ("1. a\n2. b", "<ol>\n<li>a</li>\n<li>b</li>\n</ol>\n"),
        ("1999. What a year", '<ol start="1999">\n<li>What a year</li>\n</ol>\n'),
        (
            "> quoted\n>> twice",
            "<blockquote>\n<p>quoted</p>\n<blockquote>\n<p>twice</p>\n"
            "</blockquote>\n</blockquote>\n",
        ),
        (
            "```python\nif a < b:\n    pass\n```",
            "<pre><code>if a &lt; b:\n    pass\n</code></pre>\n",
        ),
        ("    indented code", "<pre><code>indented code\n</code></pre>\n"),
        (
            "[site](https://example.com/a?b=1&c=2)",
            f'<p><a href="https://example.com/a?b=1&amp;c=2" {REL}>site</a></p>\n',
        ),
        (
            "<https://example.com>",
            f'<p><a href="https://example.com" {REL}>https://example.com</a></p>\n',
        ),
        (
            "[mail](mailto:me@example.com)",
            f'<p><a href="mailto:me@example.com" {REL}>mail</a></p>\n',
        ),
        (
            '[ref]\n\n[ref]: https://example.com "Title"',
            f'<p><a href="https://example.com" {REL}>ref</a></p>\n',
        ),
        ("[up](#comment-3)", f'<p><a href="#comment-3" {REL}>up</a></p>\n'),
        (
            "![the logo](https://example.com/logo.png)",
            f'<p><a href="https://example.com/logo.png" {REL}>the logo</a></p>\n',
        ),
        (
            "[![pic](https://example.com/p.png)](https://example.com/)",
            f'<p><a href="https://example.com/" {REL}>pic</a></p>\n',
        ),
        ("https://example.com is not linkified", "<p>https://example.com is not linkified</p>\n"),
        ("# Update", "<p><strong>Update</strong></p>\n"),
        ("<b>typed html</b>", "<p>&lt;b&gt;typed html&lt;/b&gt;</p>\n"),
        ("caf\u00e9 \u65e5\u672c \U0001f600", "<p>caf\u00e9 \u65e5\u672c \U0001f600</p>\n"),
        ("---", "\n"),  # <hr> is not allowed; only its newline is left
    ],
)
def test_benign_markdown_renders_exactly(source: str, expected: str) -> None:
    assert render_markdown(source) == expected
    assert_safe(render_markdown(source))


# --- attacks ------------------------------------------------------------------------------

MARKDOWN_ATTACKS = [
    "<script>alert(1)</script>",
    "<img src=x onerror=alert(1)>",
    "**<img src=x onerror=alert(1)>**",
    "<svg/onload=alert(1)>",
    "<iframe src=javascript:alert(1)></iframe>",
    "<style>body{display:none}</style>",
    "<!-- <script>alert(1)</script> -->",
    "&lt;script&gt;alert(1)&lt;/script&gt;",
    "`<script>alert(1)</script>`",
    "    <script>alert(1)</script>",
    "[click](javascript:alert(1))",
    "[click](JaVaScRiPt:alert(1))",
    "[click](&#106;avascript:alert(1))",
    "[click](&#x6A;avascript&#x3A;alert(1))",
    "[click](javascript&colon;alert(1))",
    "[click](%6A%61vascript:alert(1))",
    "[click]( javascript:alert(1))",
    "[click](<javascript:alert(1)>)",
    "[click](java\tscript:alert(1))",
    "[click](java\x00script:alert(1))",
    "[click](vbscript:msgbox(1))",
    "[click](VBScript:msgbox(1))",
    "[click](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
    "[click](data:image/png;base64,iVBORw0KGgo=)",
    "[click](file:///etc/passwd)",
    "![x](javascript:alert(1))",
    "![x](data:image/svg+xml;base64,PHN2ZyBvbmxvYWQ9YWxlcnQoMSk+)",
    "![x](https://tracker.example/pixel.gif)",
    "[![x](https://example.com/i.png)](javascript:alert(1))",
    "<javascript:alert(1)>",
    "<vbscript:msgbox(1)>",
    '<a href="javascript:alert(1)">x</a>',
    "<a href=' javascript:alert(1)'>x</a>",
    "[x][ref]\n\n[ref]: javascript:alert(1)",
    "[x][ref]\n\n[ref]: data:text/html,<script>alert(1)</script>",
    '[x](https://example.com "title" onmouseover=alert(1))',
    '[x](https://example.com"onmouseover="alert(1))',
    "[x](https://example.com/'><script>alert(1)</script>)",
    "> > > nested\n> ```\n> <script>alert(1)</script>\n> ```",
    "> ```\n> </code></pre><script>alert(1)</script>\n> ```",
    "\u202e[moc.elgoog](https://evil.example)\u202c",
    "[google.com\u202e](https://evil.example/\u202e)",
    "[x](https://example.com/\u2028javascript:alert(1))",
    ">" * 200 + " deep",
    "- " * 200 + "deep list",
    "*" * 500 + "a" + "*" * 500,
    "[" * 300 + "x" + "](javascript:alert(1))" * 300,
]


@pytest.mark.parametrize("source", MARKDOWN_ATTACKS)
def test_markdown_attack_is_neutralized(source: str) -> None:
    assert_safe(render_markdown(source))


HTML_ATTACKS = [
    "<script>alert(1)</script>",
    "<SCRIPT SRC=//evil.example/x.js></SCRIPT>",
    "<scr<script>ipt>alert(1)</script>",
    "<<script>script>alert(1)<</script>/script>",
    "<img src=x onerror=alert(1)>",
    '<img src="javascript:alert(1)">',
    '<img src="data:image/svg+xml;base64,PHN2ZyBvbmxvYWQ9YWxlcnQoMSk+">',
    "<svg><script>alert(1)</script></svg>",
    '<svg onload=alert(1)><a xlink:href="javascript:alert(1)">x</a></svg>',
    '<math><mi xlink:href="javascript:alert(1)">x</mi></math>',
    "<math><mtext><table><mglyph><style><img src=x onerror=alert(1)>",
    '<noscript><p title="</noscript><img src=x onerror=alert(1)>">',
    '<iframe src="https://evil.example">inner</iframe>',
    '<iframe srcdoc="<script>alert(1)</script>"></iframe>',
    '<object data="javascript:alert(1)"></object>',
    '<embed src="javascript:alert(1)">',
    '<form action="javascript:alert(1)"><button formaction=javascript:alert(1)>x</button></form>',
    '<p style="background:url(javascript:alert(1))" onclick="alert(1)">x</p>',
    '<base href="javascript:alert(1)//"><a href="/x">x</a>',
    '<meta http-equiv="refresh" content="0;url=javascript:alert(1)">',
    '<link rel="stylesheet" href="https://evil.example/x.css">',
    "<details open ontoggle=alert(1)>x</details>",
    '<a href=" javascript:alert(1)">x</a>',
    '<a href="&#106;avascript:alert(1)">x</a>',
    '<a href="&#0000106&#0000097vascript:alert(1)">x</a>',
    '<a href="java&#x09;script:alert(1)">x</a>',
    '<a href="java\nscript:alert(1)">x</a>',
    '<a href="\x01javascript:alert(1)">x</a>',
    '<A HREF="JaVaScRiPt:alert(1)">x</A>',
    '<a href="javascript&colon;alert(1)">x</a>',
    '<a href="vbscript:msgbox(1)">x</a>',
    '<a href="data:text/html,<script>alert(1)</script>">x</a>',
    '<a href="https://ok.example" onmouseover="alert(1)" target=_blank rel=opener>x</a>',
    '<a href="https://example.com/&quot; onclick=&quot;alert(1)">x</a>',
    "<!--><script>alert(1)</script>-->",
    "<textarea><script>alert(1)</script></textarea>",
    "<title><script>alert(1)</script></title>",
    "<template><script>alert(1)</script></template>",
    "<xmp><script>alert(1)</script></xmp>",
    "<div><p>unclosed <b>tags <i>soup <a href='https://x.example'>link",
    "<p>Disqus <span class='mention'>@bob</span> said<br/>hi</p>",
    "</p></li></ul></blockquote></pre><p>",
    "<plaintext><script>alert(1)</script>",
]


@pytest.mark.parametrize("source", HTML_ATTACKS)
@pytest.mark.parametrize("allow_images", [False, True])
def test_html_attack_is_neutralized(source: str, allow_images: bool) -> None:
    output = sanitize_html(source, allow_images=allow_images)
    assert_safe(output, allow_images=allow_images)
    assert_stable(output, allow_images=allow_images)


def test_attack_tables_are_big_enough() -> None:
    assert len(MARKDOWN_ATTACKS) >= 30
    assert len(HTML_ATTACKS) >= 30


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("<p>Hi <b>there</b></p>", "<p>Hi there</p>"),
        ("<h2>Title</h2><p>x</p>", "Title<p>x</p>"),
        (
            '<a href="https://example.com" rel="opener" target="_blank" class="x">x</a>',
            f'<a href="https://example.com" {REL}>x</a>',
        ),
        ('<a href="javascript:alert(1)">x</a>', f"<a {REL}>x</a>"),
        ('<p lang="en" title="t" dir="rtl" id="i" style="color:red">x</p>', "<p>x</p>"),
        ('<ol start="4" reversed><li>a</li></ol>', '<ol start="4"><li>a</li></ol>'),
        ('<ol start="4;x"><li>a</li></ol>', "<ol><li>a</li></ol>"),
        ("<script>alert(1)</script>after", "after"),
        ("<style>p{}</style>after", "after"),
        ("<iframe>inner</iframe>after", "after"),
        ("<img src=https://example.com/a.png alt=A>", ""),
        ("<p>a<br/>b</p>", "<p>a<br>b</p>"),
        ("<p>unclosed", "<p>unclosed</p>"),
        ("5 < 6 & 7 > 3", "5 &lt; 6 &amp; 7 &gt; 3"),
    ],
)
def test_sanitize_exact(source: str, expected: str) -> None:
    assert sanitize_html(source) == expected


def test_known_pre_newline_instability_is_only_whitespace() -> None:
    assert sanitize_html("<pre></script>\n") == "<pre>\n</pre>"
    assert sanitize_html("<pre>\n</pre>") == "<pre></pre>"


def test_images_only_when_allowed() -> None:
    source = '<img src="https://example.com/a.png" alt="A" onerror="x" width="1">'
    assert sanitize_html(source) == ""
    assert (
        sanitize_html(source, allow_images=True) == '<img src="https://example.com/a.png" alt="A">'
    )
    assert sanitize_html('<img src="data:image/png;base64,AAAA">', allow_images=True) == "<img>"


# --- properties ---------------------------------------------------------------------------

_SOUP = st.lists(
    st.sampled_from(
        [
            "<",
            ">",
            "</",
            "/>",
            "<a ",
            "<a href=",
            "javascript:",
            "JaVa",
            "&#106;",
            "&#x3A;",
            "&colon;",
            "\t",
            "\n",
            "\x00",
            "script",
            "<script>",
            "</script>",
            "<svg>",
            "<math>",
            "<style>",
            "<img src=x ",
            "onerror=",
            "onclick",
            "=",
            '"',
            "'",
            "`",
            "<!--",
            "-->",
            "<p>",
            "</p>",
            "<ol start=",
            "1",
            "<li>",
            "<pre>",
            "<code>",
            "<noscript>",
            "<iframe",
            "<textarea>",
            "<title>",
            "<template>",
            "<![CDATA[",
            "]]>",
            "data:",
            "https://x.io",
            "mailto:a@b",
            " ",
            "x",
            "[",
            "](",
            ")",
            "!",
            "*",
            "> ",
            "```",
            "\u202e",
        ]
    ),
    max_size=30,
).map("".join)


@settings(max_examples=300)
@given(_SOUP)
def test_any_tag_soup_is_safe_and_stable(source: str) -> None:
    for allow_images in (False, True):
        output = sanitize_html(source, allow_images=allow_images)
        assert_safe(output, allow_images=allow_images)
        assert_stable(output, allow_images=allow_images)


@settings(max_examples=300)
@given(st.one_of(_SOUP, st.text(max_size=80)))
def test_any_markdown_renders_safely(source: str) -> None:
    output = render_markdown(source)
    assert_safe(output)
    assert_stable(output)


# --- configuration ------------------------------------------------------------------------


def test_renderer_version_names_both_libraries() -> None:
    assert re.fullmatch(r"md\d+-[0-9][\w.+-]*-[0-9][\w.+-]*", RENDERER_VERSION)


def test_configuration_is_built_once(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("built on the hot path")

    monkeypatch.setattr(markup, "MarkdownIt", refuse)
    monkeypatch.setattr(nh3, "Cleaner", refuse)
    monkeypatch.setattr(MarkdownIt, "__init__", refuse)
    assert render_markdown("*hi*") == "<p><em>hi</em></p>\n"
    assert sanitize_html("<b>x</b>", allow_images=True) == "x"


# --- count_links --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body_html", "expected"),
    [
        ("", 0),
        ("<p>no links here</p>", 0),
        (f'<p><a href="https://a.example" {REL}>a</a></p>', 1),
        ('<a href="https://a.example">a</a> and <a href="mailto:x@y.z">b</a>', 2),
        ("<a>no href</a><a href=''>empty</a>", 0),
        ("<p>see https://spam.example and www.spam.example</p>", 2),
        ('<a href="https://a.example">https://a.example</a>', 1),  # the label is not a 2nd
        ("HTTP://SHOUT.EXAMPLE/x", 1),
        ("<p>unclosed <a href='https://a.example'>soup <a href=https://b.example>x", 2),
        (render_markdown("[a](https://a.example) [b](https://b.example) <https://c.example>"), 3),
        (render_markdown("[a](javascript:alert(1))"), 0),
    ],
)
def test_count_links(body_html: str, expected: int) -> None:
    assert count_links(body_html) == expected


@settings(max_examples=300)
@given(
    st.lists(
        st.sampled_from(
            [
                "<a href=x>",
                "<A HREF='y'>",
                "</a>",
                "http",
                "HTTP",
                "s://",
                "www",
                ".",
                "w",
                "&#104;",
                "&#x77;",
                "&amp;",
                "<p>",
                " ",
                "e",
                "<",
                "a",
                "\u017f",
            ]
        ),
        max_size=12,
    ).map("".join)
)
def test_count_links_shortcut_agrees_with_the_parser(body_html: str) -> None:
    parser = markup._extract(body_html, show_hrefs=False)
    assert count_links(body_html) == parser.links + parser.bare_urls


# --- excerpt ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "limit", "expected"),
    [
        ("", 10, ""),
        ("short", 10, "short"),
        ("exactly10!", 10, "exactly10!"),
        ("Hello **world**", 50, "Hello world"),
        ("  lots \n\n of\t\twhitespace  ", 50, "lots of whitespace"),
        ("# Title\n\n- one\n- two\n\n> quote", 50, "Title one two quote"),
        ("<p>Imported <b>HTML</b></p><p>body</p>", 50, "Imported HTML body"),
        ("<script>alert(1)</script>visible", 50, "visible"),
        ("see [my site](https://spam.example) now", 60, "see my site (https://spam.example) now"),
        ("<https://a.example>", 50, "https://a.example"),
        ("a &amp; b &lt; c", 50, "a & b < c"),
        ("one two three four five six", 12, "one two…"),
        ("abcdefghijklmnop", 5, "abcd…"),
        ("one two", 4, "one…"),
        ("ab", 1, "…"),
        ("a", 1, "a"),
        ("clear\x1b[2Jscreen \u202eevil\u202c", 50, "clear [2Jscreen evil"),
    ],
)
def test_excerpt(text: str, limit: int, expected: str) -> None:
    assert excerpt(text, limit) == expected


@settings(max_examples=300)
@given(st.text(max_size=200), st.integers(min_value=1, max_value=80))
def test_excerpt_properties(text: str, limit: int) -> None:
    result = excerpt(text, limit)
    assert len(result) <= limit
    assert result == result.strip()
    assert "  " not in result
    assert "\n" not in result
    assert not any(ord(ch) < 0x20 or 0x7F <= ord(ch) <= 0x9F for ch in result)
    full = excerpt(text, 10_000)
    if len(full) <= limit:
        assert result == full
    else:
        assert result.endswith("…")
        assert full.startswith(result[:-1].rstrip())


def test_excerpt_rejects_a_useless_limit() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        excerpt("text", 0)


def test_markup_documented_list_is_the_sanitizer_config() -> None:
    """docs/intake-api.md and afterword/markup.py name the same elements, attributes, schemes."""
    assert set(DOCUMENTED) == set(markup.ALLOWED_TAGS)
    assert {
        tag: set(markup.ALLOWED_ATTRIBUTES.get(tag, ())) for tag in markup.ALLOWED_TAGS
    } == DOCUMENTED
    assert DOCUMENTED["ol"] == {"start"}
    assert set(markup.ALLOWED_URL_SCHEMES) == DOCUMENTED_SCHEMES


# Elements a comment might try, none of them documented: every one must be gone.
UNDOCUMENTED_TAGS = [
    "h1", "h2", "h6", "div", "span", "img", "table", "tr", "td", "hr", "u", "s", "del", "ins",
    "sub", "sup", "dl", "dt", "dd", "details", "summary", "abbr", "kbd", "mark", "small",
    "font", "center", "marquee", "form", "input", "button", "textarea", "select", "video",
    "audio", "source", "picture", "figure", "section", "article", "nav", "b", "i", "q", "cite",
]  # fmt: skip
VALUES = {"href": "https://example.org/", "start": "7"}


def test_markup_documented_markup_survives_with_exactly_its_attributes() -> None:
    for tag, names in DOCUMENTED.items():
        attrs = " ".join(f'{name}="{VALUES[name]}"' for name in sorted(names))
        html = f'<{tag} {attrs} title="t" class="c" id="i" style="color:red" lang="en">x</{tag}>'
        collector = _Collector()
        collector.feed(sanitize_html(f"<p>{html}</p>" if tag == "a" else html))
        collector.close()
        found = {t: {n for n, _ in a} for t, a in collector.tags}
        assert found[tag] == ALLOWED_ATTRIBUTES[tag], tag


@pytest.mark.parametrize("tag", UNDOCUMENTED_TAGS)
def test_markup_undocumented_elements_are_removed(tag: str) -> None:
    output = sanitize_html(f'<{tag} title="t">kept text</{tag}>')
    assert f"<{tag}" not in output
    assert output == "kept text"
