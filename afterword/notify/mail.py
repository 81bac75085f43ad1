"""Composing the moderators' mails: plain text plus an HTML alternative, localized.

Strings come from ``afterword/locales/<site.language>.json`` (``notify_*`` keys, overridable
like every other string). The HTML part is rendered by Jinja2 with autoescaping; a comment's
body appears as the sanitized HTML the page will publish, its Markdown in the text part.

``Message-ID`` is derived from the outbox rows the mail carries, so the one duplicate a crash
can cause (see ``store.outbox``) has the same id and mail clients fold it away.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from email.errors import MessageError
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import formatdate

import jinja2

from afterword.config import Config
from afterword.markup import sanitize_html
from afterword.store import Comment
from afterword.strings import fill
from afterword.text import strip_forbidden

ACTION_KEYS = {
    "approve": "notify_approve",
    "reject": "notify_reject",
    "spam": "notify_spam",
    "reply": "notify_reply",
}
_ENV = jinja2.Environment(
    loader=jinja2.PackageLoader("afterword.notify", "templates"),
    autoescape=True,
    undefined=jinja2.StrictUndefined,
)


@dataclass(frozen=True)
class Notice:
    """One comment as a notification shows it."""

    comment: Comment
    page_url: str
    parent: Comment | None
    links: dict[str, str]
    signals: tuple[str, ...]

    @property
    def html(self) -> str:
        """The body as a page would publish it (sanitized again: rows come from anywhere)."""
        return sanitize_html(self.comment.body_html)


def compose(
    config: Config,
    notices: Sequence[Notice],
    strings: dict[str, str],
    *,
    ids: Sequence[int],
    domain: str,
) -> EmailMessage:
    """One mail about one comment, or a digest about several (same layout, repeated)."""
    message = EmailMessage()
    first = notices[0].comment
    if len(notices) == 1:
        subject = fill(strings["notify_subject"], author=first.author, page=first.page_key)
    else:
        subject = fill(
            strings["notify_digest_subject"], count=str(len(notices)), site=config.site.title
        )
    message["Subject"] = header_text(subject)
    message["From"] = config.notify.sender or f"afterword@{domain}"
    message["To"] = ", ".join(config.notify.moderators)
    message["Date"] = formatdate(usegmt=True)
    message["Message-ID"] = message_id(ids, domain)
    message["Auto-Submitted"] = "auto-generated"
    message["X-Afterword-Comments"] = " ".join(str(n.comment.id) for n in notices)
    if len(notices) == 1 and first.email:
        _set_reply_to(message, first.email)
    message.set_content(_text(config, notices, strings))
    html = _ENV.get_template("mail.html").render(
        lang=config.site.language,  # the comments' language, as the builder's threads say
        notices=notices,
        strings=strings,
        site=config.site.title,
        subject=subject,
        actions=ACTION_KEYS,
        days=_days(config),
        fill=fill,
    )
    message.add_alternative(html, subtype="html")
    return message


def message_id(ids: Sequence[int], domain: str) -> str:
    """Stable for the same outbox rows: a resent duplicate carries the same id."""
    digest = hashlib.sha256(",".join(map(str, sorted(ids))).encode()).hexdigest()[:16]
    return f"<afterword.{min(ids)}.{digest}@{domain}>"


def _text(config: Config, notices: Sequence[Notice], strings: dict[str, str]) -> str:
    lines: list[str] = []
    for notice in notices:
        c = notice.comment
        lines.append(fill(strings["notify_intro"], author=c.author, page=notice.page_url))
        if c.website:
            lines.append(f"{strings['notify_website']}: {c.website}")
        if notice.parent is not None:
            lines.append(fill(strings["notify_in_reply_to"], author=notice.parent.author))
            lines.append("> " + excerpt(notice.parent.body))
        if notice.signals:
            lines.append(f"{strings['notify_signals']}: {', '.join(notice.signals)}")
        lines += ["", c.body, ""]
        for action, key in ACTION_KEYS.items():
            if action in notice.links:
                lines.append(f"{strings[key]}: {notice.links[action]}")
        lines += ["", "-- ", ""]
    lines.append(fill(strings["notify_footer"], days=_days(config)))
    return strip_forbidden("\n".join(lines)) + "\n"


def _days(config: Config) -> str:
    return f"{config.moderation.link_days:g}"


def excerpt(text: str, limit: int = 200) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def header_text(text: str) -> str:
    """Header values may not hold line breaks or control characters (header injection)."""
    return " ".join("".join(ch if ch.isprintable() else " " for ch in text).split())[:200]


def _set_reply_to(message: EmailMessage, email: str) -> None:
    """Reply-To is the commenter, when their address is one a mail header can carry."""
    try:
        message["Reply-To"] = Address(addr_spec=email.strip())
    except (ValueError, IndexError, TypeError, MessageError):  # HeaderParseError is no ValueError
        return
