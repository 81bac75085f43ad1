"""`afterword demo`, run as a user would: a subprocess, with and without serving."""

from __future__ import annotations

import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit
from urllib.request import urlopen

import pytest
from conftest import afterword_env, run_afterword
from playwright.sync_api import Page

from afterword.config import load_config
from afterword.store import open_store

POST = "blog/hello-world/"
DEMO_ENV = {"PYTHONUNBUFFERED": "1"}  # on top of the environment minus AFTERWORD_*


def run_demo(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return run_afterword("demo", *args, cwd=cwd, env=DEMO_ENV)


def comment_count(folder: Path) -> int:
    config = load_config(folder / "afterword.toml", environ={})
    with open_store(config.database_path) as store:
        count: int = store.scalar("SELECT COUNT(*) FROM comments WHERE status = 'approved'")
    return count


def test_demo_no_serve_builds_the_loop(tmp_path: Path) -> None:
    result = run_demo(tmp_path, "site", "--no-serve")
    assert result.returncode == 0, result.stderr
    assert "Posted and approved 3 comments" in result.stdout
    public = tmp_path / "site" / "public"
    fragment = (public / "comments/threads/blog/hello-world/comments.html").read_text("utf-8")
    assert fragment.count('class="afterword-comment"') == 3
    assert re.search(r'<ol class="afterword-replies">\s*<li class="afterword-comment"', fragment)
    assert "<strong>Markdown</strong>" in fragment
    post = (public / POST / "index.html").read_text("utf-8")
    assert '<div data-afterword><section class="afterword-thread"' in post
    assert '<script src="/comments/afterword.js" defer></script>' in post
    assert (public / "comments" / "afterword.js").is_file()
    assert (public / "comments" / "empty.html").is_file()
    assert 'data-afterword-count="/blog/hello-world/"' in (public / "index.html").read_text()


def test_demo_rerun_reuses_folder_without_duplicates(tmp_path: Path) -> None:
    assert run_demo(tmp_path, "site", "--no-serve").returncode == 0
    again = run_demo(tmp_path, "site", "--no-serve")
    assert again.returncode == 0, again.stderr
    assert "Posted and approved 0 comments" in again.stdout
    assert comment_count(tmp_path / "site") == 3


def test_demo_default_folder_in_cwd(tmp_path: Path) -> None:
    result = run_demo(tmp_path, "--no-serve")
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "afterword-demo" / "afterword.toml").is_file()


def test_demo_refuses_foreign_folder(tmp_path: Path) -> None:
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("keep me")
    result = run_demo(tmp_path, "mine", "--no-serve")
    assert result.returncode == 2
    assert result.stderr.startswith("Error: ")
    assert "not empty and not an afterword demo folder" in result.stderr
    assert "Traceback" not in result.stderr
    assert sorted(p.name for p in (tmp_path / "mine").iterdir()) == ["notes.txt"]


def read_until(process: subprocess.Popen[str], pattern: str, seconds: float = 60) -> re.Match[str]:
    """Read the demo's output line by line until ``pattern`` matches (or fail)."""
    assert process.stdout is not None
    deadline = time.monotonic() + seconds
    seen = []
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line and process.poll() is not None:
            break
        seen.append(line)
        found = re.search(pattern, line)
        if found:
            return found
    raise AssertionError(f"no {pattern!r} in demo output: {''.join(seen)}")


def port_closed(url: str) -> bool:
    parts = urlsplit(url)
    try:
        with socket.create_connection((parts.hostname, parts.port), timeout=2):
            return False
    except OSError:
        return True


@pytest.mark.slow
@pytest.mark.browser
def test_demo_serves_until_ctrl_c(tmp_path: Path, browser_page: Page) -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "afterword", "demo", "site"],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=afterword_env(DEMO_ENV),
    )
    try:
        site = read_until(process, r"Demo site: (http://127\.0\.0\.1:\d+/)")[1]
        intake = read_until(process, r"Intake: +(http://127\.0\.0\.1:\d+)/api/comments")[1]
        read_until(process, r"Ctrl-C stops it")
        with urlopen(site + POST, timeout=10) as response:
            assert b"data-afterword" in response.read()
        with urlopen(site + "comments/threads/blog/hello-world/comments.html") as response:
            assert b"afterword-thread" in response.read()

        browser_page.goto(site + "blog/second-post/")
        browser_page.fill(".afterword-form [name=body]", "Posted from the demo page")
        browser_page.fill(".afterword-form [name=author]", "Visitor")
        browser_page.locator(".afterword-form [type=submit]").click()
        browser_page.locator(".afterword-pending").wait_for()
    finally:
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=30)
    assert process.returncode == 0, err
    assert "Stopping the demo." in out
    assert "Traceback" not in err
    assert port_closed(site)
    assert port_closed(intake)
