"""Signed links of the commenters' mails: ``<intake.public_url>/subscription/<token>``.

A token is ``v1.<kind>.<subscriber id>.<expiry>.<mac>``, ``kind`` being ``confirm`` (the
double opt-in's link) or ``unsubscribe`` (every reply mail's ``List-Unsubscribe``). It is
signed exactly as the moderation links are (``notify.links``): HMAC-SHA256 over everything
before the MAC, keyed by a key derived from the per-site secret under a label of its own, so
a token of one kind is never valid as another kind or as a moderation link, and changing the
id, the kind or the expiry breaks the MAC. The token holds no address: it names a row.

A confirmation link lives ``notify.confirm_days``; an unsubscribe link ``UNSUBSCRIBE_DAYS``
(a mail read months later must still let its reader stop the next one).
"""

from __future__ import annotations

import hashlib
import hmac
import re
import time
from dataclasses import dataclass

from afterword.notify.links import mac

VERSION = "v1"
KINDS = ("confirm", "unsubscribe")
KEY_LABEL = b"afterword subscription links v1"
PREFIX = "/subscription/"
UNSUBSCRIBE_DAYS = 3650
_TOKEN = re.compile(
    r"v1\.(confirm|unsubscribe)\.([1-9][0-9]{0,18})\.([0-9]{1,12})\.([A-Za-z0-9_-]{43})"
)


class BadToken(Exception):
    """Malformed, forged or expired; ``str()`` is ``expired`` for the last (a kinder page)."""


@dataclass(frozen=True)
class SubscriptionToken:
    kind: str
    subscriber_id: int
    expires: int  # unix seconds

    def sign(self, secret: bytes) -> str:
        body = f"{VERSION}.{self.kind}.{self.subscriber_id}.{self.expires}"
        return f"{body}.{_mac(secret, body)}"


def subscription_key(secret: bytes) -> bytes:
    return hmac.new(secret, KEY_LABEL, hashlib.sha256).digest()


def _mac(secret: bytes, body: str) -> str:
    return mac(subscription_key(secret), body)


def make_link(
    secret: bytes,
    base_url: str,
    kind: str,
    subscriber_id: int,
    days: float,
    now: float | None = None,
) -> str:
    expires = int((time.time() if now is None else now) + days * 86400)
    token = SubscriptionToken(kind, subscriber_id, expires).sign(secret)
    return f"{base_url}{PREFIX}{token}"


def verify(secret: bytes, text: str, now: float | None = None) -> SubscriptionToken:
    """The token's claims if it is well-formed, genuine and unexpired; else ``BadToken``."""
    found = _TOKEN.fullmatch(text) if len(text) <= 200 else None
    if found is None:
        raise BadToken("malformed")
    kind, ident, expires, mac = found.groups()
    if not hmac.compare_digest(mac, _mac(secret, text.rsplit(".", 1)[0])):
        raise BadToken("forged")
    if int(expires) < (time.time() if now is None else now):
        raise BadToken("expired")
    return SubscriptionToken(kind, int(ident), int(expires))
