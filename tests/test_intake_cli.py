"""`afterword serve` and `uvicorn --factory` as real processes, and the README's first loop:
a comment posted over HTTP shows up in `afterword queue`, `afterword approve` publishes it."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner
from fixtures_intake import comment_fields

from afterword.cli import main
from afterword.config import Config

AFTERWORD = [sys.executable, "-m", "afterword"]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_healthy(url: str, process: subprocess.Popen[str], timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"server exited: {process.communicate()}")
        try:
            if httpx.get(url + "/healthz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(0.05)
    raise AssertionError(f"{url} did not become healthy")


@contextmanager
def _running(
    command: list[str], env: dict[str, str] | None = None
) -> Iterator[subprocess.Popen[str]]:
    process = subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, **(env or {})},
    )
    try:
        yield process
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
        process.communicate(timeout=20)


def _cli(config: Config, *args: str) -> subprocess.CompletedProcess[str]:
    command = [*AFTERWORD, "--config", str(config.source), *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=60)


@pytest.mark.slow
def test_serve_command_posted_comment_reaches_queue_and_approval(config: Config) -> None:
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    command = [*AFTERWORD, "serve", "--port", str(port), "--config", str(config.source)]
    with _running(command) as process:
        _wait_healthy(url, process)
        response = httpx.post(url + "/api/comments", json=comment_fields(), timeout=10)
        assert response.status_code == 202
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=20) == 0
    comment_id = response.json()["data"]["id"]
    queue = json.loads(_cli(config, "queue", "--json").stdout)
    assert [c["id"] for c in queue["comments"]] == [comment_id]
    assert _cli(config, "approve", str(comment_id)).returncode == 0
    approved = json.loads(_cli(config, "queue", "--status", "approved", "--json").stdout)
    assert [c["id"] for c in approved["comments"]] == [comment_id]


@pytest.mark.parametrize(
    "command",
    [["serve"], ["serve", "--workers", "2"], ["demo", "DEMO"]],
    ids=["serve", "serve-workers", "demo"],
)
def test_port_in_use_is_one_line_error_suggesting_port(
    config: Config, tmp_path: Path, command: list[str]
) -> None:
    """Each command that listens says the port is taken and how to choose another; exit 2."""
    args = [str(tmp_path / "demo") if arg == "DEMO" else arg for arg in command]
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = _cli(config, *args, "--port", str(port))
    assert result.returncode == 2, result.stderr
    assert result.stderr == (
        f"Error: port {port} is already in use on 127.0.0.1: stop what holds it, "
        "or choose another port with --port\n"
    )
    assert result.stdout == ""


def test_serve_on_an_address_not_of_this_machine_is_one_line_error(config: Config) -> None:
    result = _cli(config, "serve", "--host", "192.0.2.1", "--port", "8000")
    assert result.returncode == 2
    assert result.stderr == (
        "Error: cannot listen on 192.0.2.1:8000: Cannot assign requested address "
        "(check --host and --port)\n"
    )


def test_uvicorn_factory_reads_afterword_config(config: Config, tmp_path: Path) -> None:
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    command = [
        sys.executable, "-m", "uvicorn", "--factory", "afterword.intake:create_app",
        "--port", str(port), "--no-access-log",
    ]  # fmt: skip
    env = {"AFTERWORD_CONFIG": str(config.source), "AFTERWORD_LIMITS_PER_MINUTE": "1"}
    with _running(command, env) as process:
        _wait_healthy(url, process)
        posts = [
            httpx.post(url + "/api/comments", json=comment_fields(body=f"n{n}"), timeout=10)
            for n in range(2)
        ]
        assert [p.status_code for p in posts] == [202, 429]
    assert config.database_path.exists()


def test_serve_command_unusable_database_is_one_line_error(config: Config) -> None:
    unusable = config.root / "a-folder.db"  # exists, so it is not "missing", but no database
    unusable.mkdir()
    result = CliRunner().invoke(
        main,
        ["serve", "--config", str(config.source)],
        env={"AFTERWORD_DATABASE_PATH": str(unusable)},
    )
    assert result.exit_code == 1
    assert result.output.startswith(f"Error: {unusable}: cannot open database")
    assert len(result.output.strip().splitlines()) == 1


def test_serve_command_help_names_its_options() -> None:
    result = CliRunner().invoke(main, ["serve", "--help"])
    assert result.exit_code == 0
    for option in ("--host", "--port", "--config"):
        assert option in result.output
