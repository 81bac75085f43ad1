"""The deployment recipes in docs/deploying.md, run as written.

Each ``<!-- file: NAME -->`` block is taken from the page and changed only where a test must
(host names, ports, paths), each change asserted to have happened, so an edit to the page
that the test no longer understands fails here instead of drifting silently:

- nginx (Debian's) terminating TLS in front of a real intake: rate limits and the stored
  network hash see each visitor, never nginx, and a forged ``X-Forwarded-For`` changes nothing;
- Caddy (Debian's) in front of the intake, the same two facts;
- the systemd unit: ``systemd-analyze verify`` finds nothing to say, its offline security
  score stays at 2.0 or less, and its ``ExecStart`` line really starts an intake that stops
  cleanly on SIGTERM within the unit's ``TimeoutStopSec``.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from conftest import afterword_env, run_afterword
from fixtures_intake import RunningIntake, comment_fields

from afterword.privacy import hash_address
from afterword.store import open_store, site_secret

DOCS = Path(__file__).resolve().parent.parent / "docs" / "deploying.md"
FILE_BLOCK = re.compile(r"<!-- file: (?P<name>[^ ]+) -->\n```[a-z]*\n(?P<body>.*?)\n```", re.S)
VISITOR_A = "127.0.0.2"  # loopback is a /8 on Linux: each address is a distinct visitor
VISITOR_B = "127.0.0.3"


def doc_file(name: str) -> str:
    blocks = {m["name"]: m["body"] for m in FILE_BLOCK.finditer(DOCS.read_text("utf-8"))}
    assert name in blocks, f"docs/deploying.md has no <!-- file: {name} --> block"
    return blocks[name] + "\n"


def replace(text: str, old: str, new: str) -> str:
    """``text`` with ``old`` replaced; fails if the documented text no longer has it."""
    assert old in text, f"docs/deploying.md changed: {old!r} not found"
    return text.replace(old, new)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_listening(port: int, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"proxy exited {process.returncode}: {log.read_text()[-2000:]}")
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise AssertionError(f"nothing listens on {port}: {log.read_text()[-2000:]}")


@contextmanager
def running(command: list[str], port: int, log: Path, **kwargs: object) -> Iterator[None]:
    with log.open("wb") as sink:
        process = subprocess.Popen(command, stdout=sink, stderr=subprocess.STDOUT, **kwargs)  # type: ignore[call-overload]
    try:
        wait_listening(port, process, log)
        yield
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def visitor(source: str, *, verify: ssl.SSLContext | bool = True) -> httpx.Client:
    """An HTTP client whose connections come from ``source``, as a distinct visitor's would."""
    transport = httpx.HTTPTransport(local_address=source, verify=verify)
    return httpx.Client(transport=transport, timeout=10)


def assert_proxy_sees_each_visitor(
    api: str, intake: RunningIntake, verify: ssl.SSLContext | bool = True
) -> None:
    """Two visitors behind the proxy: separate limits, forged headers ignored, hashes right."""
    limit = intake.config.limits.per_minute
    forged = {"X-Forwarded-For": "198.51.100.7"}
    with visitor(VISITOR_A, verify=verify) as a, visitor(VISITOR_B, verify=verify) as b:
        statuses_a = [
            a.post(api, json=comment_fields(body=f"from A, {n}"), headers=forged).status_code
            for n in range(limit + 1)
        ]
        assert statuses_a == [202] * limit + [429], "A's forged header must not reset A's limit"
        answer_b = b.post(api, json=comment_fields(body="from B"))
        assert answer_b.status_code == 202, answer_b.text  # B is not throttled by A's posts

    with open_store(intake.config.database_path) as store:
        secret = site_secret(store)
        hashes = {row[0] for row in store.db.execute("SELECT ip_hash FROM comments")}
    assert hashes == {hash_address(secret, VISITOR_A), hash_address(secret, VISITOR_B)}


@pytest.fixture
def proxied_intake(start_intake: Callable[..., RunningIntake]) -> RunningIntake:
    return start_intake(
        intake={"trusted_proxies": ["127.0.0.1"]},
        limits={"per_minute": 3, "per_hour": 0},
    )


@pytest.fixture
def certificate(tmp_path: Path) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1, made by openssl as an ACME client would."""
    cert, key = tmp_path / "fullchain.pem", tmp_path / "privkey.pem"
    subprocess.run(
        [
            *("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1"),
            *("-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"),
            *("-keyout", str(key), "-out", str(cert)),
        ],
        check=True,
        capture_output=True,
    )
    return cert, key


def test_nginx_recipe_terminates_tls_and_rate_limits_see_the_visitor(
    proxied_intake: RunningIntake, certificate: tuple[Path, Path], tmp_path: Path
) -> None:
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    cert, key = certificate
    port, intake_port = free_port(), proxied_intake.server.port
    site = doc_file("nginx-afterword.conf")
    site = replace(site, "listen 443 ssl;", f"listen 127.0.0.1:{port} ssl;")
    site = replace(site, "server 127.0.0.1:8000;", f"server 127.0.0.1:{intake_port};")
    site = replace(site, "/etc/letsencrypt/live/comments.example.com/fullchain.pem", str(cert))
    site = replace(site, "/etc/letsencrypt/live/comments.example.com/privkey.pem", str(key))
    (tmp_path / "afterword.conf").write_text(site)
    temp_paths = "\n".join(
        f"    {kind}_temp_path {tmp_path}/{kind};"
        for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    user = "user root;\n" if os.geteuid() == 0 else ""
    (tmp_path / "nginx.conf").write_text(
        f"{user}worker_processes 1;\npid {tmp_path}/nginx.pid;\n"
        f"error_log {tmp_path}/error.log;\nevents {{ worker_connections 64; }}\n"
        f"http {{\n    access_log off;\n{temp_paths}\n    include {tmp_path}/afterword.conf;\n}}\n"
    )
    command = [nginx, "-p", str(tmp_path), "-c", str(tmp_path / "nginx.conf")]
    check = subprocess.run([*command, "-t"], capture_output=True, text=True, check=False)
    assert check.returncode == 0, check.stderr

    with running([*command, "-g", "daemon off;"], port, tmp_path / "nginx.log"):
        api = f"https://127.0.0.1:{port}/api/comments"
        with visitor(VISITOR_A, verify=ssl.create_default_context(cafile=str(cert))) as client:
            assert client.get(f"https://127.0.0.1:{port}/healthz").status_code == 200
        assert_proxy_sees_each_visitor(
            api, proxied_intake, verify=ssl.create_default_context(cafile=str(cert))
        )


def test_caddy_recipe_rate_limits_see_the_visitor(
    proxied_intake: RunningIntake, tmp_path: Path
) -> None:
    caddy = shutil.which("caddy")
    assert caddy, "Debian's caddy is not installed (.ci/run installs it)"
    port, intake_port = free_port(), proxied_intake.server.port
    recipe = doc_file("Caddyfile")
    # Automatic HTTPS needs a public name; the test serves the same site block over HTTP.
    recipe = replace(recipe, "comments.example.com {", f"http://127.0.0.1:{port} {{")
    recipe = replace(
        recipe, "reverse_proxy 127.0.0.1:8000", f"reverse_proxy 127.0.0.1:{intake_port}"
    )
    caddyfile = tmp_path / "Caddyfile"
    caddyfile.write_text("{\n\tadmin off\n}\n\n" + recipe)
    env = {**os.environ, "HOME": str(tmp_path), "XDG_DATA_HOME": str(tmp_path / "data"),
           "XDG_CONFIG_HOME": str(tmp_path / "config")}  # fmt: skip
    command = [caddy, "run", "--config", str(caddyfile), "--adapter", "caddyfile"]
    with running(command, port, tmp_path / "caddy.log", env=env):
        assert_proxy_sees_each_visitor(f"http://127.0.0.1:{port}/api/comments", proxied_intake)


def systemd_unit(tmp_path: Path, site: Path) -> tuple[Path, str]:
    """The documented unit with this machine's paths; returns it and its ExecStart line."""
    afterword = shutil.which("afterword") or f"{sys.executable} -m afterword"
    unit = doc_file("afterword-intake.service")
    unit = replace(unit, "/opt/afterword/venv/bin/afterword", afterword)
    unit = replace(unit, "/srv/afterword", str(site))
    path = tmp_path / "afterword-intake.service"
    path.write_text(unit)
    exec_start = re.search(r"^ExecStart=(.*)$", unit, re.M)
    assert exec_start, "the unit has no ExecStart line"
    return path, exec_start.group(1)


@pytest.fixture
def initialized_site(tmp_path: Path) -> Path:
    site = tmp_path / "srv"
    result = run_afterword(
        "init", str(site), "--site-url", "https://blog.example.com", cwd=tmp_path
    )
    assert result.returncode == 0, result.stderr
    return site


def test_systemd_unit_verifies_cleanly_and_is_hardened(
    initialized_site: Path, tmp_path: Path
) -> None:
    unit, _ = systemd_unit(tmp_path, initialized_site)
    verify = subprocess.run(
        ["systemd-analyze", "verify", str(unit)], capture_output=True, text=True, check=False
    )
    # verify exits 0 even for unknown keys; any line it prints about our unit is a defect.
    said = [line for line in (verify.stdout + verify.stderr).splitlines() if unit.name in line]
    assert verify.returncode == 0, verify.stderr
    assert said == [], said
    security = subprocess.run(
        ["systemd-analyze", "security", "--offline=yes", "--no-pager", str(unit)],
        capture_output=True,
        text=True,
        check=False,
    )
    found = re.search(r"Overall exposure level for \S+: (\d+\.\d+)", security.stdout)
    assert found, security.stdout + security.stderr
    assert float(found.group(1)) <= 2.0, security.stdout


def test_systemd_exec_start_runs_the_intake_and_stops_on_sigterm(
    initialized_site: Path, tmp_path: Path
) -> None:
    unit, exec_start = systemd_unit(tmp_path, initialized_site)
    text = unit.read_text()
    config = re.search(r"^Environment=AFTERWORD_CONFIG=(.*)$", text, re.M)
    stop_timeout = re.search(r"^TimeoutStopSec=(\d+)s$", text, re.M)
    assert config, "the unit must set AFTERWORD_CONFIG"
    assert stop_timeout, "the unit must set TimeoutStopSec in seconds"
    port = free_port()
    argv = replace(exec_start, "--port 8000", f"--port {port}").split()
    env = afterword_env({"AFTERWORD_CONFIG": config.group(1)})
    process = subprocess.Popen(
        argv, cwd=initialized_site, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    try:
        deadline = time.monotonic() + 20
        healthy = False
        while time.monotonic() < deadline and process.poll() is None and not healthy:
            try:
                healthy = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).is_success
            except httpx.TransportError:
                time.sleep(0.05)
        assert healthy, process.communicate(timeout=5)
        answer = httpx.post(f"http://127.0.0.1:{port}/api/comments", json=comment_fields())
        assert answer.status_code == 202, answer.text
    finally:
        process.send_signal(signal.SIGTERM)
        started = time.monotonic()
        process.communicate(timeout=int(stop_timeout.group(1)))
    assert time.monotonic() - started < int(stop_timeout.group(1))
    assert process.returncode in (0, -signal.SIGTERM), process.returncode
