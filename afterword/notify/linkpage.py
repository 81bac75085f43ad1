"""The small self-contained HTML page behind a moderation link (and its refusals).

Self-contained and CSP-strict: no script at all, no external resource; the one stylesheet is
inline in ``<head>`` and allowed by its sha256 in ``Content-Security-Policy`` (no
``unsafe-inline``). Forms post to ``'self'`` only. It works without JavaScript and on a
390 px wide phone (one column, 44 px buttons). ``Referrer-Policy: same-origin`` keeps the
token out of the ``Referer`` of the one outgoing link (the page the comment is on), while
the page's own POST still carries an ``Origin`` the intake checks.

The pages speak the site's language (``site.language``, like the mails): every word comes from
the ``page_*`` strings of ``afterword/locales`` (``afterword.strings``, overridable like every
string), and ``<html lang>`` names the language those words are in. ``render_page`` takes them
as a ``PageStrings``; without one it speaks English.
"""

from __future__ import annotations

import base64
import hashlib
import html
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources

import jinja2

from afterword.config import Config
from afterword.strings import fill, load_strings, strings_language

_ENV = jinja2.Environment(
    loader=jinja2.PackageLoader("afterword.notify", "templates"),
    autoescape=True,
    undefined=jinja2.StrictUndefined,
)
CSS = resources.files("afterword.notify").joinpath("templates/moderate.css").read_text("utf-8")
CSS_HASH = base64.b64encode(hashlib.sha256(CSS.encode("utf-8")).digest()).decode("ascii")
HEADERS = {
    "Content-Security-Policy": (
        f"default-src 'none'; style-src 'sha256-{CSS_HASH}'; img-src 'self'; "
        "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "X-Robots-Tag": "noindex, nofollow",
    "Cache-Control": "no-store",
}


@dataclass(frozen=True)
class PageStrings:
    """The words of the link pages and the language they are in (the page's ``lang``)."""

    lang: str
    strings: Mapping[str, str]

    def __getitem__(self, key: str) -> str:
        return self.strings[key]

    def fill(self, key: str, **values: str) -> str:
        """A string with its ``{name}`` placeholders filled (plain text, escaped on output)."""
        return fill(self.strings[key], **values)

    def html(self, key: str, **values: str) -> str:
        """A string as HTML: its text escaped, its placeholders filled with ``values`` — HTML
        the template made itself (a link, a bold word), autoescaped there."""
        text = html.escape(self.strings[key])
        for name, value in values.items():
            text = text.replace("{" + name + "}", str(value))
        return text

    def status(self, status: str) -> str:
        """A comment status in words (the raw word for one this version does not know)."""
        return self.strings.get(f"page_status_{status}", status)


def page_strings(config: Config) -> PageStrings:
    """The pages' words for this site: ``site.language`` and the owner's overrides."""
    language, templates_dir = config.site.language, config.build.templates_dir
    return PageStrings(
        strings_language(language, templates_dir), load_strings(language, templates_dir)
    )


ENGLISH = PageStrings("en", load_strings("en", ""))


@dataclass(frozen=True)
class ParentView:
    author: str
    excerpt: str


@dataclass(frozen=True)
class CommentView:
    """The comment as the page will publish it (name, website, sanitized HTML)."""

    author: str
    website: str
    created: str
    created_text: str
    page_key: str
    page_url: str
    status: str
    html: str
    signals: tuple[str, ...]
    parent: ParentView | None
    owner: bool = False


@dataclass(frozen=True)
class Button:
    label: str
    token: str
    action_url: str
    primary: bool = False


@dataclass(frozen=True)
class ReplyBox:
    token: str
    action_url: str
    owner: str
    max: int


def render_page(
    title: str,
    *,
    message: str = "",
    view: CommentView | None = None,
    buttons: tuple[Button, ...] = (),
    reply: ReplyBox | None = None,
    footer: str = "",
    strings: PageStrings = ENGLISH,
) -> str:
    """One page: a title, an optional message, the comment, its buttons and reply box.

    ``strings`` are the page's own words (labels, the badge, the reply box): pass the site's
    (``page_strings``); title, message and footer arrive already in words.
    """
    return _ENV.get_template("moderate.html").render(
        text=strings,
        title=title,
        css=CSS,
        message=message,
        view=view,
        buttons=buttons,
        reply=reply,
        footer=footer,
    )
