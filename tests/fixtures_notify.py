"""Fixtures for notification tests; registered in conftest.py.

``smtp_server``      a real SMTP server (aiosmtpd) on an ephemeral loopback port; ``messages``
                     holds what it accepted (parsed), ``refuse`` makes it answer 451, ``delay``
                     slows every message down, ``stop``/``start`` take it down and back up on the
                     same port.
``webhook_receiver`` a real HTTP server on loopback recording every POST (path, headers,
                     body); ``status`` is what it answers.
``notify_site``      writes settings into the test site's afterword.toml (sections as tables)
                     and returns the reloaded ``Config``.
``kill_sender_mid_batch`` starts ``afterword notify`` on a slowed server and SIGKILLs it after
                     some mails: the at-most-one-duplicate tests of both kinds of mail.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult
from conftest import afterword_env

from afterword.config import Config, load_config


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class _Handler:
    def __init__(self, server: SmtpServer) -> None:
        self.server = server

    async def handle_DATA(self, smtp: Any, session: Any, envelope: Any) -> str:
        if self.server.refuse:
            return "451 4.3.0 try again later"
        if self.server.delay:
            time.sleep(self.server.delay)  # blocks the server's loop: one message at a time
        parsed = message_from_bytes(envelope.content, policy=policy.default)
        assert isinstance(parsed, EmailMessage)
        self.server.messages.append(parsed)
        self.server.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
        return "250 OK"


@dataclass
class SmtpServer:
    port: int
    messages: list[EmailMessage] = field(default_factory=list)
    envelopes: list[tuple[str, list[str]]] = field(default_factory=list)
    refuse: bool = False
    delay: float = 0.0
    credentials: tuple[str, str] | None = None  # set before start(): AUTH is then required
    _controller: Controller | None = None

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.port}"

    def start(self) -> None:
        auth: dict[str, Any] = {}
        if self.credentials is not None:
            auth = {
                "authenticator": self._authenticate,
                "auth_required": True,
                "auth_require_tls": False,  # loopback only; TLS needs a certificate
            }
        self._controller = Controller(_Handler(self), hostname="127.0.0.1", port=self.port, **auth)
        self._controller.start()

    def _authenticate(
        self, server: Any, session: Any, envelope: Any, mechanism: str, data: Any
    ) -> AuthResult:
        assert self.credentials is not None
        login = getattr(data, "login", b"")
        password = getattr(data, "password", b"")
        user, secret = self.credentials
        ok = login == user.encode() and password == secret.encode()
        return AuthResult(success=ok, handled=False)

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def wait_for(self, count: int, timeout: float = 20.0) -> list[EmailMessage]:
        deadline = time.monotonic() + timeout
        while len(self.messages) < count and time.monotonic() < deadline:
            time.sleep(0.05)
        return self.messages


@pytest.fixture
def smtp_server() -> Iterator[SmtpServer]:
    server = SmtpServer(free_port())
    server.start()
    yield server
    server.stop()


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class WebhookReceiver:
    url: str
    calls: list[Received]
    answer: list[int]  # [status]: a list so the handler sees changes

    def wait_for(self, count: int, timeout: float = 20.0) -> list[Received]:
        deadline = time.monotonic() + timeout
        while len(self.calls) < count and time.monotonic() < deadline:
            time.sleep(0.05)
        return self.calls


@pytest.fixture
def webhook_receiver() -> Iterator[WebhookReceiver]:
    calls: list[Received] = []
    answer = [204]

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("content-length", "0"))
            body = self.rfile.read(length)
            if answer[0] < 300:
                headers = {k.lower(): v for k, v in self.headers.items()}
                calls.append(Received(self.path, headers, body))
            self.send_response(answer[0])
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            """Quiet: tests read ``calls``."""

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield WebhookReceiver(f"http://127.0.0.1:{server.server_port}/hook/secret-path", calls, answer)
    server.shutdown()
    server.server_close()
    thread.join(5)


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    return json.dumps(value)  # strings and lists of strings are valid TOML this way


def write_settings(config_file: Path, sections: Mapping[str, Mapping[str, Any]]) -> None:
    """Put ``key = value`` lines under each ``[section]`` header of an init-made file."""
    text = config_file.read_text(encoding="utf-8")
    for section, values in sections.items():
        lines = "".join(f"{key} = {_toml_value(v)}\n" for key, v in values.items())
        header = f"[{section}]\n"
        assert header in text, f"no [{section}] in {config_file}"
        text = text.replace(header, header + lines, 1)
    config_file.write_text(text, encoding="utf-8")


@pytest.fixture
def notify_site(site_dir: Path) -> Callable[..., Config]:
    def apply(**sections: Mapping[str, Any]) -> Config:
        config_file = site_dir / "afterword.toml"
        write_settings(config_file, sections)
        return load_config(config_file)

    return apply


def kill_sender_mid_batch(site_dir: Path, smtp_server: SmtpServer, after: int) -> int:
    """Run ``afterword notify`` against a server slowed to 0.3 s a mail, SIGKILL it once
    ``after`` mails arrived, and return how many had (the server is fast again after)."""
    smtp_server.delay = 0.3
    sender = subprocess.Popen(
        [sys.executable, "-m", "afterword", "notify"],
        cwd=site_dir,
        env=afterword_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        smtp_server.wait_for(after)
        os.kill(sender.pid, signal.SIGKILL)
    finally:
        sender.wait(10)
    smtp_server.delay = 0
    return len(smtp_server.messages)
