"""The small self-contained HTML page behind a moderation link (and its refusals).

Self-contained and CSP-strict: no script at all, no external resource; the one stylesheet is
inline in ``<head>`` and allowed by its sha256 in ``Content-Security-Policy`` (no
``unsafe-inline``). Forms post to ``'self'`` only. It works without JavaScript and on a
390 px wide phone (one column, 44 px buttons). ``Referrer-Policy: same-origin`` keeps the
token out of the ``Referer`` of the one outgoing link (the page the comment is on), while
the page's own POST still carries an ``Origin`` the intake checks.
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass
from importlib import resources

import jinja2

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
) -> str:
    return _ENV.get_template("moderate.html").render(
        title=title,
        css=CSS,
        message=message,
        view=view,
        buttons=buttons,
        reply=reply,
        footer=footer,
    )
