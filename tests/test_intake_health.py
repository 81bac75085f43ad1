"""/healthz against a disk that is really full: SQLite still opens, reads and locks the file,
only commits fail — health must say 503 then, and 200 again once there is room.

The database lives on a 2 MiB tmpfs mounted in a private mount namespace (``unshare --user
--map-root-user --mount``: no privileges needed), and the intake runs inside it as
``afterword serve``. The test fills that filesystem through ``/proc/<pid>/root``, which shows
the server's view of the mounts, until the kernel says ENOSPC.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

import httpx
import pytest
from conftest import afterword_env, require
from fixtures_intake import comment_fields

from afterword.config import Config
from afterword.intake.answers import STORAGE_MESSAGE
from afterword.intake.health import TTL_SECONDS
from afterword.store import open_store

DISK_SIZE = "2m"
TIMEOUT = 20.0


def _can_unshare() -> bool:
    if shutil.which("unshare") is None:
        return False
    probe = ["unshare", "--user", "--map-root-user", "--mount", "true"]
    return subprocess.run(probe, capture_output=True, check=False).returncode == 0


@pytest.fixture(autouse=True)
def namespaces() -> None:
    require(_can_unshare(), "unprivileged user and mount namespaces (unshare)")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class FullDiskIntake:
    """``afterword serve`` with its database on a small tmpfs only it can see.

    The database is made outside first (``serve`` never creates one) and copied onto the
    fresh tmpfs before the server starts.
    """

    def __init__(self, config: Config, disk: Path) -> None:
        self.disk = disk
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        made = disk.parent / "made.db"
        open_store(made).close()
        mount = 'mount -t tmpfs -o size=$1 tmpfs "$0" && cp "$2" "$0/afterword.db" && shift 2'
        mount += ' && exec "$@"'
        serve = [sys.executable, "-m", "afterword", "serve", "--port", str(self.port)]
        command = ["unshare", "--user", "--map-root-user", "--mount", "sh", "-c", mount]
        command += [str(disk), DISK_SIZE, str(made), *serve, "--config", str(config.source)]
        env = afterword_env({"AFTERWORD_DATABASE_PATH": str(disk / "afterword.db")})
        self.process = subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
        )

    @property
    def seen_disk(self) -> Path:
        """The tmpfs as the server sees it."""
        return Path(f"/proc/{self.process.pid}/root{self.disk}")

    def health(self) -> httpx.Response:
        return httpx.get(self.url + "/healthz", timeout=5)

    def wait_for_health(self, status: int) -> httpx.Response:
        deadline = time.monotonic() + TIMEOUT
        while True:
            assert self.process.poll() is None, self.process.communicate()
            try:
                response = self.health()
            except httpx.TransportError:
                response = None
            if response is not None and response.status_code == status:
                return response
            assert time.monotonic() < deadline, response.text if response else "no answer"
            time.sleep(0.1)

    def fill(self) -> Path:
        """Write a filler file until the filesystem is full; returns it."""
        filler = self.seen_disk / "filler"
        with filler.open("wb") as out, pytest.raises(OSError, match="No space left"):
            _write_forever(out)
        return filler

    def stop(self) -> str:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        _, stderr = self.process.communicate(timeout=TIMEOUT)
        return stderr


def _write_forever(out: BinaryIO) -> None:
    block = b"\0" * 65536
    while True:
        out.write(block)
        out.flush()


@pytest.fixture
def full_disk_intake(config: Config, tmp_path: Path) -> Iterator[FullDiskIntake]:
    disk = tmp_path / "disk"
    disk.mkdir()
    intake = FullDiskIntake(config, disk)
    try:
        yield intake
    finally:
        intake.stop()


def _post(intake: FullDiskIntake, body: str) -> httpx.Response:
    return httpx.post(intake.url + "/api/comments", json=comment_fields(body=body), timeout=10)


def test_healthz_is_503_while_the_disk_is_full_and_200_once_there_is_room(
    full_disk_intake: FullDiskIntake,
) -> None:
    intake = full_disk_intake
    intake.wait_for_health(200)
    assert _post(intake, "before the disk filled up").status_code == 202
    assert intake.health().status_code == 200  # an "ok" now cached for a second
    filler = intake.fill()

    refused = _post(intake, "while the disk is full")
    assert refused.status_code == 503
    assert refused.json()["error"]["reason"] == "full"
    sick = intake.health()  # at once: the failed commit dropped the cached "ok"
    assert sick.status_code == 503
    assert sick.json()["error"] == {
        "code": "unavailable",
        "message": STORAGE_MESSAGE,
        "fields": {},
        "reason": "full",
    }
    assert sick.headers["retry-after"] == "5"
    assert str(intake.disk) not in sick.text

    os.unlink(filler)
    recovered = intake.wait_for_health(200)
    assert recovered.json()["status"] == "ok"
    assert _post(intake, "after the disk was freed").status_code == 202
    stderr = intake.stop()
    assert "Traceback" not in stderr
    assert "storage unavailable" in stderr  # the reason is logged for the operator


def test_healthz_turns_503_without_any_post_when_the_disk_fills(
    full_disk_intake: FullDiskIntake,
) -> None:
    """No submission has to fail first: the probe itself writes, so it finds the full disk
    within its cache time."""
    intake = full_disk_intake
    intake.wait_for_health(200)
    intake.fill()
    started = time.monotonic()
    sick = intake.wait_for_health(503)
    assert time.monotonic() - started < TTL_SECONDS + 5
    assert sick.json()["error"]["reason"] == "full"
