"""Webhook calls: a versioned JSON body signed with HMAC-SHA256, or Slack/Discord text.

The ``afterword`` format (``"version": 1``, documented in docs/notifications.md) carries the
comment as it will be published and its moderation links, never the commenter's e-mail: a
webhook's receiver is often a third party. The signature is
``X-Afterword-Signature: sha256=<hex HMAC-SHA256 of the raw body>``; the key is the value of
the environment variable ``notify.webhook_secret_env`` names, else one derived from the
per-site secret (``afterword notify --webhook-key`` prints it). ``X-Afterword-Delivery`` is the
outbox row's id: the same on a retry, so a receiver can drop the one duplicate at-least-once
delivery may cause.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import urllib.error
import urllib.request
from collections.abc import Mapping
from typing import Any

from afterword import __version__
from afterword.config import Config
from afterword.errors import ConfigError, NotifyError
from afterword.notify.mail import Notice

BODY_VERSION = 1
KEY_LABEL = b"afterword webhooks v1"
SIGNATURE_HEADER = "X-Afterword-Signature"
DISCORD_LIMIT = 2000


def webhook_key(config: Config, secret: bytes, environ: Mapping[str, str] | None = None) -> bytes:
    """The signing key: the configured environment variable's value, else derived."""
    env = os.environ if environ is None else environ
    name = config.notify.webhook_secret_env
    if name:
        value = env.get(name, "")
        if not value:
            raise ConfigError(f"notify.webhook_secret_env names {name}, which is not set")
        return value.encode("utf-8")
    return hmac.new(secret, KEY_LABEL, hashlib.sha256).hexdigest().encode("ascii")


def sign(key: bytes, body: bytes) -> str:
    return "sha256=" + hmac.new(key, body, hashlib.sha256).hexdigest()


def payload(config: Config, event: str, notice: Notice, sent: str) -> dict[str, Any]:
    """The body for ``webhook_format``."""
    c = notice.comment
    style = config.notify.webhook_format
    if style != "afterword":
        text = f"{event}: {c.author} on {notice.page_url}\n{c.body}"
        if "approve" in notice.links:
            text += f"\napprove: {notice.links['approve']}"
        if style == "discord":
            return {"content": text[:DISCORD_LIMIT]}
        return {"text": text}
    return {
        "version": BODY_VERSION,
        "event": event,
        "sent": sent,
        "site": {"title": config.site.title, "url": config.site.url},
        "comment": {
            "id": c.id,
            "page": c.page_key,
            "page_url": notice.page_url,
            "parent": c.parent_id,
            "author": c.author,
            "website": c.website,
            "body": c.body,
            "html": notice.html,
            "status": c.status,
            "created": c.created,
            "signals": list(notice.signals),
        },
        "links": notice.links,
    }


def post(url: str, body: dict[str, Any], key: bytes, delivery: int, timeout: float) -> None:
    """One call; anything but a 2xx answer is a ``NotifyError`` (and the row is retried)."""
    data = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    request = urllib.request.Request(
        url,
        data=data,
        method="POST",
        headers={
            "Content-Type": "application/json",
            "User-Agent": f"afterword/{__version__}",
            SIGNATURE_HEADER: sign(key, data),
            "X-Afterword-Delivery": str(delivery),
        },
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            response.read(65536)
    except urllib.error.HTTPError as exc:
        raise NotifyError(f"webhook {_safe(url)} answered {exc.code}") from None
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        raise NotifyError(f"webhook {_safe(url)}: {reason}") from None


def _safe(url: str) -> str:
    """Scheme and host only: a webhook URL's path is often its secret (Slack, Discord)."""
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"
