"""Composing the commenters' mails: the double opt-in's confirmation, and reply mails.

Localized from ``afterword/locales`` (``reply_*`` keys, overridable like every string), plain
text plus an HTML alternative, like the moderators' mails (``notify.mail``). A reply mail
carries RFC 8058's one-click unsubscribe — ``List-Unsubscribe: <https://…/subscription/…>``
and ``List-Unsubscribe-Post: List-Unsubscribe=One-Click`` — so a mail client can offer
"unsubscribe" and POST it without opening any page. ``Message-ID`` comes from the outbox rows
(the one duplicate a crash can cause has the same id).

The recipient's address is read from the comment it subscribed with, at sending time, and
is never put in the outbox, a header other than ``To``, or a link.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from email.errors import MessageError
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import formatdate

import jinja2

from afterword.config import Config
from afterword.errors import NotifyError
from afterword.markup import sanitize_html
from afterword.notify.mail import excerpt, header_text, message_id
from afterword.store import Comment
from afterword.strings import fill
from afterword.text import strip_forbidden

_ENV = jinja2.Environment(
    loader=jinja2.PackageLoader("afterword.notify", "templates"),
    autoescape=True,
    undefined=jinja2.StrictUndefined,
)


@dataclass(frozen=True)
class ReplyItem:
    """One approved reply as its mail shows it."""

    reply: Comment
    parent: Comment
    link: str  # <page url>#c<id>

    def intro(self, strings: dict[str, str], page_url: str) -> str:
        return fill(strings["reply_intro"], author=self.reply.author, page=page_url)


def recipient(email: str) -> Address:
    """The one address a mail goes to; a stored one no header can carry is an error (the
    intake refuses such an opt-in, but rows come from anywhere: a queue, an old version)."""
    text = email.strip()
    try:
        if not text.isascii():  # SMTPUTF8 is not asked for: a server may not offer it
            raise ValueError(text)
        return Address(addr_spec=text)
    except (ValueError, IndexError, TypeError, MessageError):
        raise NotifyError("the subscribed address cannot be used in a mail header") from None


def _base(
    config: Config, to: Address, subject: str, ids: Sequence[int], domain: str
) -> EmailMessage:
    message = EmailMessage()
    message["Subject"] = header_text(subject)
    message["From"] = config.notify.sender or f"afterword@{domain}"
    message["To"] = to
    message["Date"] = formatdate(usegmt=True)
    message["Message-ID"] = message_id(ids, domain)
    message["Auto-Submitted"] = "auto-generated"
    return message


def compose_confirmation(
    config: Config,
    strings: dict[str, str],
    *,
    to: Address,
    page_url: str,
    confirm_url: str,
    ids: Sequence[int],
    domain: str,
) -> EmailMessage:
    subject = fill(strings["reply_confirm_subject"], site=config.site.title)
    message = _base(config, to, subject, ids, domain)
    intro = fill(strings["reply_confirm_intro"], page=page_url)
    footer = fill(strings["reply_confirm_footer"], days=f"{config.notify.confirm_days:g}")
    text = f"{intro}\n\n{strings['reply_confirm_action']}: {confirm_url}\n\n-- \n{footer}\n"
    message.set_content(strip_forbidden(text))
    html = _ENV.get_template("reply.html").render(
        lang=config.site.language,
        subject=subject,
        strings=strings,
        intro=intro,
        confirm_url=confirm_url,
        footer=footer,
        replies=[],
        unsubscribe_url="",
    )
    message.add_alternative(html, subtype="html")
    return message


def compose_replies(
    config: Config,
    strings: dict[str, str],
    *,
    to: Address,
    items: Sequence[tuple[ReplyItem, str]],  # (reply, its page's URL)
    unsubscribe_url: str,
    ids: Sequence[int],
    domain: str,
) -> EmailMessage:
    """One reply, or several folded into one mail (the per-address cap)."""
    first = items[0][0].reply
    if len(items) == 1:
        subject = fill(strings["reply_subject"], author=first.author, site=config.site.title)
    else:
        subject = fill(
            strings["reply_digest_subject"], count=str(len(items)), site=config.site.title
        )
    message = _base(config, to, subject, ids, domain)
    message["List-Unsubscribe"] = f"<{unsubscribe_url}>"
    message["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    message["X-Afterword-Comments"] = " ".join(str(item.reply.id) for item, _ in items)
    lines: list[str] = []
    for item, page_url in items:
        lines.append(item.intro(strings, page_url))
        lines.append("> " + excerpt(item.parent.body))
        lines += ["", item.reply.body, "", f"{strings['reply_read']}: {item.link}", "", "-- "]
    lines += [strings["reply_footer"], f"{strings['reply_unsubscribe']}: {unsubscribe_url}"]
    message.set_content(strip_forbidden("\n".join(lines)) + "\n")
    shown = [
        {
            "intro": item.intro(strings, page_url),
            "parent_excerpt": excerpt(item.parent.body),
            "html": sanitize_html(item.reply.body_html),
            "link": item.link,
        }
        for item, page_url in items
    ]
    html = _ENV.get_template("reply.html").render(
        lang=config.site.language,
        subject=subject,
        strings=strings,
        confirm_url="",
        replies=shown,
        unsubscribe_url=unsubscribe_url,
    )
    message.add_alternative(html, subtype="html")
    return message
