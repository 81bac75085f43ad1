"""Sending mail with the standard library: plain SMTP, STARTTLS or implicit TLS.

The server comes from ``notify.smtp_url``; a user and password only from the environment
(``AFTERWORD_SMTP_USER`` / ``AFTERWORD_SMTP_PASSWORD``), never from ``afterword.toml``, so the
config file can be committed. One session carries every message of a drain pass.
"""

from __future__ import annotations

import os
import smtplib
import ssl
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from email.message import EmailMessage
from urllib.parse import urlsplit

from afterword.errors import ConfigError, NotifyError

ENV_USER = "AFTERWORD_SMTP_USER"
ENV_PASSWORD = "AFTERWORD_SMTP_PASSWORD"
SCHEMES = {"smtp": 25, "smtp+starttls": 587, "smtps": 465}


@dataclass(frozen=True)
class SmtpServer:
    scheme: str
    host: str
    port: int


def parse_smtp_url(url: str) -> SmtpServer:
    """``smtp://host:port`` (or ``smtp+starttls://``, ``smtps://``); anything else is refused.

    A user or password written into the URL is refused too: they belong in the environment.
    """
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise ConfigError(f"notify.smtp_url: not a valid URL: {url!r}") from None
    if parts.scheme not in SCHEMES:
        choices = ", ".join(f"{s}://" for s in SCHEMES)
        raise ConfigError(f"notify.smtp_url must start with one of {choices} (got {url!r})")
    if parts.username or parts.password:
        raise ConfigError(
            f"notify.smtp_url must not hold credentials: set {ENV_USER} and {ENV_PASSWORD}"
        )
    if not parts.hostname:
        raise ConfigError(f"notify.smtp_url names no host (got {url!r})")
    return SmtpServer(parts.scheme, parts.hostname, port or SCHEMES[parts.scheme])


def check_addresses(setting: str, addresses: list[str]) -> None:
    """Each must be one plain address (``name@domain``): a bad one would be retried forever."""
    for address in addresses:
        text = address.strip()
        local, at, domain = text.rpartition("@")
        if (
            not at
            or not local
            or "." not in domain
            or any(c.isspace() or c in '<>,;"' for c in text)
        ):
            raise ConfigError(
                f"{setting}: {address!r} is not an e-mail address like name@example.com"
            )


@contextmanager
def smtp_session(
    server: SmtpServer, timeout: float, environ: Mapping[str, str] | None = None
) -> Iterator[smtplib.SMTP]:
    """A connected (and, with credentials in the environment, logged-in) session."""
    env = os.environ if environ is None else environ
    try:
        if server.scheme == "smtps":
            session: smtplib.SMTP = smtplib.SMTP_SSL(
                server.host, server.port, timeout=timeout, context=ssl.create_default_context()
            )
        else:
            session = smtplib.SMTP(server.host, server.port, timeout=timeout)
        with session:
            if server.scheme == "smtp+starttls":
                session.starttls(context=ssl.create_default_context())
            user = env.get(ENV_USER, "")
            if user:
                session.login(user, env.get(ENV_PASSWORD, ""))
            yield session
    except (smtplib.SMTPException, OSError) as exc:
        raise NotifyError(f"mail server {server.host}:{server.port}: {_describe(exc)}") from None


def send(session: smtplib.SMTP, message: EmailMessage) -> None:
    """One message; any refusal (even of one recipient) is an error, so it is retried."""
    try:
        refused = session.send_message(message)
    except (smtplib.SMTPException, OSError) as exc:
        raise NotifyError(f"mail server refused the message: {_describe(exc)}") from None
    if refused:
        raise NotifyError(f"mail server refused {len(refused)} recipient(s)")


def _describe(exc: BaseException) -> str:
    if isinstance(exc, smtplib.SMTPResponseException):
        text = (
            exc.smtp_error.decode("utf-8", "replace")
            if isinstance(exc.smtp_error, bytes)
            else str(exc.smtp_error)
        )
        return f"{exc.smtp_code} {text}".strip()
    return str(exc) or type(exc).__name__
