"""Signed one-click moderation links: ``<intake.public_url>/moderate/<token>``.

A token is ``v1.<comment id>.<action>.<expiry>.<status>.<mac>``: readable, URL-safe, and the
MAC is HMAC-SHA256 — keyed by a key derived from the per-site secret — over everything before
it. ``status`` binds the link to the comment's state when it was made: once the comment has
been handled (approved, rejected…) the stored status no longer matches and the link only says
so. Changing any part (another id, another action, a later expiry) breaks the MAC.

Holding one valid link for a comment proves the holder received that comment's notification,
so the link page offers the comment's other actions too, minted with the same expiry and state.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from dataclasses import dataclass

VERSION = "v1"
LINK_ACTIONS = ("approve", "reject", "spam", "reply")
KEY_LABEL = b"afterword moderation links v1"
PREFIX = "/moderate/"


class BadToken(Exception):
    """A token that is malformed, forged or expired (always a 403, never a detail)."""


@dataclass(frozen=True)
class LinkToken:
    comment_id: int
    action: str
    expires: int  # unix seconds
    status: str  # the comment's status when the link was made

    def sign(self, secret: bytes) -> str:
        body = f"{VERSION}.{self.comment_id}.{self.action}.{self.expires}.{self.status}"
        return f"{body}.{_mac(secret, body)}"

    def sibling(self, action: str) -> LinkToken:
        """The same comment, expiry and state, another action (the page's other buttons)."""
        return LinkToken(self.comment_id, action, self.expires, self.status)


def link_key(secret: bytes) -> bytes:
    """The links' own key, so a leaked link says nothing about the site secret's other uses."""
    return hmac.new(secret, KEY_LABEL, hashlib.sha256).digest()


def mac(key: bytes, body: str) -> str:
    """HMAC-SHA256 of a token's body, URL-safe base64 without padding (every signed link's
    signature: moderation links here, subscription links in ``notify.subtokens``)."""
    digest = hmac.new(key, body.encode("ascii"), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def _mac(secret: bytes, body: str) -> str:
    return mac(link_key(secret), body)


def make_links(
    secret: bytes,
    base_url: str,
    comment_id: int,
    status: str,
    days: float,
    now: float | None = None,
) -> dict[str, str]:
    """One link per action for a notification about ``comment_id``."""
    expires = int((time.time() if now is None else now) + days * 86400)
    token = LinkToken(comment_id, "approve", expires, status)
    return {
        action: f"{base_url}{PREFIX}{token.sibling(action).sign(secret)}" for action in LINK_ACTIONS
    }


def verify(secret: bytes, text: str, now: float | None = None) -> LinkToken:
    """The token's claims if its MAC is right and it has not expired; else ``BadToken``."""
    if len(text) > 200 or not text.isascii():
        raise BadToken("malformed")
    parts = text.split(".")
    if len(parts) != 6 or parts[0] != VERSION:
        raise BadToken("malformed")
    _, ident, action, expires, status, mac = parts
    body = ".".join(parts[:5])
    if not hmac.compare_digest(mac, _mac(secret, body)):
        raise BadToken("forged")
    if not (ident.isdigit() and expires.isdigit()) or action not in LINK_ACTIONS:
        raise BadToken("malformed")
    if int(expires) < (time.time() if now is None else now):
        raise BadToken("expired")
    return LinkToken(int(ident), action, int(expires), status)
