"""Raw fields in, a clean ``Submission`` out — or one ``CommentRejected`` naming every bad field.

Pure functions, no I/O, so the whole rulebook is unit-tested without a server (the shape is
Isso's ``verify``: one function that either returns or says why). What needs the database —
does the parent exist, is this a duplicate — is checked later by the writer, inside the
transaction that stores the comment.

Text is cleaned before it is measured: NUL is refused outright (it truncates strings in too many
tools downstream); what XML forbids — other C0 controls, lone surrogates, noncharacters — is
stripped from every field (``afterword.text``, the rule importers share), as are C1 controls and
the bidi embedding/override/isolate characters (they can make a comment display in a different
order than it was typed, the "Trojan Source" trick); CR LF becomes LF. A name or body that
shows nothing (only spaces, zero-width or filler characters) is refused like an empty one, and a
website is accepted only if the builder will link it (``afterword.urls``, the one URL policy).
"""

from __future__ import annotations

import fnmatch
import hashlib
import re
import unicodedata
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from email.errors import MessageError
from email.headerregistry import Address
from typing import TypeVar

from afterword.config import LimitsConfig
from afterword.errors import CommentRejected, InvalidPageKey
from afterword.pagekey import normalize_page_key
from afterword.text import FORBIDDEN_IN_PAGE, has_forbidden, is_invisible, strip_forbidden
from afterword.urls import WEBSITE_RULE, publishable_url

# The form's hidden trap (templates/form.html): a name no browser autofill heuristic matches.
HONEYPOT_FIELD = "aw_x9k"
NOTIFY_FIELD = "notify_replies"  # the form's "Mail me replies" box
_YES = frozenset({"1", "on", "true", "yes"})
_NO = frozenset({"", "0", "off", "false", "no"})
EMAIL_MAX = 254

_BIDI = "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
_CONTROLS = [*range(0x00, 0x20), 0x7F, *range(0x80, 0xA0)]
_BODY_DROP = {c: None for c in _CONTROLS if c not in (0x09, 0x0A)} | {ord(c): None for c in _BIDI}
_LINE_DROP = dict.fromkeys(_CONTROLS) | {ord(c): None for c in _BIDI} | {9: " ", 10: " "}
_EMAIL = re.compile(r"[^@\s]+@[^@\s.]+(\.[^@\s.]+)+")
_SPACES = re.compile(r"\s+")

T = TypeVar("T")


@dataclass(frozen=True)
class Submission:
    """A submission that passed every check that needs no database."""

    page_key: str
    author: str
    body: str
    parent_id: int | None = None
    email: str = ""
    website: str = ""
    honeypot: bool = False
    notify_replies: bool = False  # "Mail me replies": only ever True with an e-mail
    body_hash: str = field(init=False, default="")

    def __post_init__(self) -> None:
        # Computed once, here on the request's side, not twice in the writer thread.
        object.__setattr__(self, "body_hash", body_hash(self.body))


def body_hash(body: str) -> str:
    """sha256 of the body with Unicode and whitespace normalized: re-spacing is no disguise."""
    normalized = _SPACES.sub(" ", unicodedata.normalize("NFC", body)).strip()
    return hashlib.sha256(normalized.encode("utf-8")).hexdigest()


def validate_submission(
    fields: Mapping[str, object],
    limits: LimitsConfig,
    pages: Sequence[str] = (),
    closed_pages: Sequence[str] = (),
    *,
    reply_mails: bool = False,
) -> Submission:
    """Check every field; raise one ``CommentRejected`` (422) listing all that are wrong.

    ``notify_replies`` (``reply_mails``: whether the site offers it) is refused, naming the
    field, when the site does not mail replies or no e-mail is given: a box that silently did
    nothing would leave the commenter waiting for mail that never comes.

    A page outside the ``pages`` allowlist is a 404 (code ``unknown_page``), one matching a
    ``closed_pages`` glob a 403 (code ``closed``): such a page takes no comments at all,
    whatever else the submission says.
    """
    errors: dict[str, str] = {}
    page_key = _check(errors, "page", lambda: _page(fields.get("page")))
    if page_key and pages and not page_allowed(page_key, pages):
        raise CommentRejected(
            f"page {page_key} does not accept comments", code="unknown_page", status=404
        )
    if page_key and any(fnmatch.fnmatchcase(page_key, glob) for glob in closed_pages):
        raise CommentRejected("comments on this page are closed", code="closed", status=403)
    body = _check(errors, "body", lambda: _body(fields.get("body"), limits.body_max))
    author = _check(errors, "author", lambda: _author(fields.get("author"), limits.author_max))
    email = _check(errors, "email", lambda: _email(fields.get("email")))
    website = _check(errors, "website", lambda: _website(fields.get("website"), limits.website_max))
    parent = _check(errors, "parent", lambda: _parent(fields.get("parent")))
    notify = _check(errors, NOTIFY_FIELD, lambda: _notify(fields.get(NOTIFY_FIELD), reply_mails))
    if notify and not email and "email" not in errors:
        errors[NOTIFY_FIELD] = "needs an e-mail address to send the replies to"
    elif notify and email and not mailable(email):
        errors[NOTIFY_FIELD] = "needs a plain ASCII e-mail address that mail can be sent to"
    if errors:
        names = ", ".join(sorted(errors))
        raise CommentRejected(f"invalid fields: {names}", code="invalid", status=422, fields=errors)
    assert page_key is not None
    assert body is not None
    assert author is not None
    return Submission(
        page_key=page_key,
        author=author,
        body=body,
        parent_id=parent,
        email=email or "",
        website=website or "",
        honeypot=honeypot_filled(fields.get(HONEYPOT_FIELD)),
        notify_replies=bool(notify),
    )


def validate_body(fields: Mapping[str, object], limits: LimitsConfig) -> str:
    """An author's edit: only ``body`` may be sent, checked exactly as a submission's body.

    Any other field (page, author, parent…) is refused rather than ignored, so a client that
    expects to change the name learns at once that it cannot.
    """
    errors = {name: "cannot be changed by an edit" for name in fields if name != "body"}
    body = _check(errors, "body", lambda: _body(fields.get("body"), limits.body_max))
    if errors:
        names = ", ".join(sorted(errors))
        raise CommentRejected(f"invalid fields: {names}", code="invalid", status=422, fields=errors)
    assert body is not None
    return body


def honeypot_filled(value: object) -> bool:
    """Whether the hidden honeypot field was filled in — by a bot, since humans never see it.

    Deliberately not ``_text``: whatever a bot puts there (a number, a list, NUL) must be
    caught as spam and answered like success, never refused or turned into a 500 that tells
    the bot its trick was noticed. Missing, JSON null or blank is a human.
    """
    if value is None:
        return False
    return not isinstance(value, str) or bool(value.strip())


def page_allowed(page_key: str, pages: Sequence[str]) -> bool:
    """Glob match (``/blog/*``); an empty allowlist allows every page."""
    return not pages or any(fnmatch.fnmatchcase(page_key, glob) for glob in pages)


def clean_body(text: str) -> str:
    """Normalize newlines, drop control and bidi characters (keeping TAB and LF), trim."""
    return text.replace("\r\n", "\n").replace("\r", "\n").translate(_BODY_DROP).strip()


def clean_line(text: str) -> str:
    """A one-line field: every control character dropped, TAB/LF become spaces, trimmed."""
    return text.replace("\r\n", " ").translate(_LINE_DROP).strip()


class _FieldError(Exception):
    """One field's complaint, collected by ``_check``."""


def _check(errors: dict[str, str], name: str, rule: Callable[[], T]) -> T | None:
    try:
        return rule()
    except _FieldError as exc:
        errors[name] = str(exc)
        return None


def _text(value: object, *, strip: bool = True) -> str:
    """The field as text; missing and JSON null are empty; NUL refused; what XML forbids
    (lone surrogates from a JSON ``\\ud800``, noncharacters, C0 controls) stripped."""
    if value is None:
        return ""
    if not isinstance(value, str):
        raise _FieldError("must be a string")
    if "\x00" in value:
        raise _FieldError("must not contain NUL characters")
    return strip_forbidden(value) if strip else value


def _page(value: object) -> str:
    """A page key is an identifier: a character it must not hold is refused, never stripped
    (stripping would file the comment under another page)."""
    text = _text(value, strip=False)
    if not text.strip():
        raise _FieldError("is required")
    try:
        key = normalize_page_key(text)
    except InvalidPageKey as exc:
        raise _FieldError(str(exc)) from None
    if has_forbidden(key):
        raise _FieldError(FORBIDDEN_IN_PAGE)
    return key


def _body(value: object, limit: int) -> str:
    body = clean_body(_text(value))
    if not body:
        raise _FieldError("is required")
    if is_invisible(body):
        raise _FieldError("has no visible text (only spaces or invisible characters)")
    if len(body) > limit:
        raise _FieldError(f"is longer than {limit} characters")
    return body


def _author(value: object, limit: int) -> str:
    """A name that shows something: "\\u200b" or "\\u3164" would publish as a blank byline."""
    line = clean_line(_text(value))
    if not line:
        raise _FieldError("is required")
    if is_invisible(line):
        raise _FieldError("has no visible character (only spaces or invisible characters)")
    if len(line) > limit:
        raise _FieldError(f"is longer than {limit} characters")
    return line


def _email(value: object) -> str:
    email = clean_line(_text(value))
    if email and (len(email) > EMAIL_MAX or not _EMAIL.fullmatch(email)):
        raise _FieldError("is not an e-mail address")
    return email


def _website(value: object, limit: int) -> str:
    url = clean_line(_text(value))
    if not url:
        return ""
    if len(url) > limit:
        raise _FieldError(f"is longer than {limit} characters")
    published = publishable_url(url)
    if published is None:
        raise _FieldError(WEBSITE_RULE)
    return published


def mailable(email: str) -> bool:
    """Whether a reply mail's ``To`` can carry the address: plain ASCII (no SMTPUTF8) and an
    addr-spec the standard library's header parser takes whole (``a<b>@x.org`` is refused)."""
    if not email.isascii():
        return False
    try:
        return Address(addr_spec=email).addr_spec == email
    except (ValueError, IndexError, TypeError, MessageError):
        return False


def _notify(value: object, offered: bool) -> bool:
    """A checkbox: JSON true/false, or the text a form sends (``1``/``on`` or nothing)."""
    if value is None or isinstance(value, bool):
        chosen = bool(value)
    elif isinstance(value, str) and value.strip().lower() in _YES | _NO:
        chosen = value.strip().lower() in _YES
    else:
        raise _FieldError("must be true or false")
    if chosen and not offered:
        raise _FieldError("this site does not mail replies")
    return chosen


def _parent(value: object) -> int | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise _FieldError("must be a comment id")
    if isinstance(value, int):
        number = value
    else:
        text = _text(value).strip()
        if not text.isascii() or not text.isdigit():
            raise _FieldError("must be a comment id")
        number = int(text)
    if not 0 < number < 2**63:
        raise _FieldError("must be a comment id")
    return number
