"""The edit capability: a signed, expiring token that lets a commenter edit their own comment.

There are no accounts, so "whose comment is this" is answered by possession: the 202 answer
to a submission carries a token only its poster ever saw, and ``PATCH``/``DELETE`` on that
comment require it. The token is

    v1.<comment id>.<expiry, Unix seconds>.<base64url HMAC-SHA256, no padding>

— URL-safe, readable in a log, and nothing in it is secret but the MAC. The MAC covers the
version, the id and the expiry, keyed with a key *derived* from the per-site secret (HMAC of
the secret over ``KEY_LABEL``), so a capability can never be confused with an IP hash or an
identicon seed made from the same secret. It is compared with ``hmac.compare_digest``.

Checking a token is pure (no database): ``verify`` raises ``CommentRejected`` — 401 when
there is none, 403 when it is malformed, forged, expired or for another comment — and the
route only then looks the comment up, so a stranger cannot probe which ids exist.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from dataclasses import dataclass

from afterword.errors import CommentRejected

VERSION = "v1"
KEY_LABEL = b"afterword edit capability v1"
_TOKEN = re.compile(r"v1\.([1-9][0-9]{0,18})\.([0-9]{1,12})\.([A-Za-z0-9_-]{43})")
_BEARER = re.compile(r"[Bb][Ee][Aa][Rr][Ee][Rr] +(\S+) *")


@dataclass(frozen=True)
class Capability:
    """A verified token: the comment it is for and when it stops working (Unix seconds)."""

    comment_id: int
    expires: int


def capability_key(site_secret: bytes) -> bytes:
    """The signing key: derived from the site secret, used for nothing else."""
    return hmac.new(site_secret, KEY_LABEL, hashlib.sha256).digest()


def _mac(key: bytes, comment_id: int, expires: int) -> str:
    message = f"{VERSION}.{comment_id}.{expires}".encode("ascii")
    digest = hmac.new(key, message, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def issue(key: bytes, comment_id: int, expires: int) -> str:
    """The token for ``comment_id``, valid until ``expires`` (Unix seconds)."""
    return f"{VERSION}.{comment_id}.{expires}.{_mac(key, comment_id, expires)}"


def bearer_token(authorization: str | None) -> str:
    """The token of an ``Authorization: Bearer …`` header; 401 when there is none."""
    if authorization is None or not authorization.strip():
        raise CommentRejected(
            "this request needs the comment's edit capability (Authorization: Bearer <capability>)",
            code="capability_required",
            status=401,
            headers={"WWW-Authenticate": 'Bearer realm="afterword"'},
        )
    found = _BEARER.fullmatch(authorization.strip())
    if found is None:
        raise _invalid("the Authorization header must be 'Bearer <capability>'")
    return found.group(1)


def verify(key: bytes, token: str, comment_id: int, now: float) -> Capability:
    """The capability if ``token`` is genuine, unexpired and for ``comment_id``; else 403."""
    found = _TOKEN.fullmatch(token)
    if found is None:
        raise _invalid("the edit capability is malformed")
    token_id, expires = int(found.group(1)), int(found.group(2))
    if not hmac.compare_digest(found.group(3), _mac(key, token_id, expires)):
        raise _invalid("the edit capability is not valid")
    if token_id != comment_id:
        raise _invalid(f"the edit capability is for another comment, not {comment_id}")
    if now >= expires:
        raise CommentRejected(
            "the edit capability has expired", code="capability_expired", status=403
        )
    return Capability(token_id, expires)


def _invalid(message: str) -> CommentRejected:
    return CommentRejected(message, code="capability_invalid", status=403)
