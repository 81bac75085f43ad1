"""Shared fixtures: a real site folder with a config file and a real SQLite database."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
from hypothesis import settings

from afterword.config import Config, load_config
from afterword.markup import RENDERER_VERSION, render_markdown
from afterword.scaffold import write_config
from afterword.store import Comment, NewComment, Store, add_comment, get_comment, open_store

# Property tests judge behaviour, not speed: a loaded 2-core CI machine must not fail them on
# hypothesis's 200 ms per-example deadline. Speed is measured in bench/.
settings.register_profile("afterword", deadline=None, print_blob=True)
settings.load_profile("afterword")

# boto3 against moto on loopback only: never reach for credentials or instance metadata.
os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
os.environ["AWS_EC2_METADATA_DISABLED"] = "true"


@pytest.fixture
def site_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh site folder as ``afterword init`` leaves it: afterword.toml and an empty
    database; the working directory for the test. (Commands refuse a missing database.)"""
    for name in list(os.environ):
        if name.startswith("AFTERWORD_"):
            monkeypatch.delenv(name)
    config_file = write_config(tmp_path, site_url="https://blog.example.com")
    open_store(load_config(config_file).database_path).close()
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.fixture
def config(site_dir: Path) -> Config:
    return load_config(site_dir / "afterword.toml")


@pytest.fixture
def store(config: Config) -> Iterator[Store]:
    with open_store(config.database_path) as opened:
        yield opened


def require(condition: bool, reason: str) -> None:
    """Skip a test whose real part is missing here, but fail it in CI (``CI=true``), where
    every part is installed: a skip there would prove nothing."""
    if condition:
        return
    if os.environ.get("CI"):
        pytest.fail(f"CI must provide this: {reason}")
    pytest.skip(reason)


def afterword_env(overrides: Mapping[str, str] | None = None) -> dict[str, str]:
    """This process's environment without any AFTERWORD_* variable, then ``overrides`` on top."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AFTERWORD_")}
    env.update(overrides or {})
    return env


def run_afterword(
    *args: str,
    cwd: Path,
    env: Mapping[str, str] | None = None,
    input: str | None = None,
    timeout: float = 60,
    encoding: str | None = None,
) -> subprocess.CompletedProcess[str]:
    """``python -m afterword *args`` as a user would run it: a real subprocess in ``cwd``.

    The child inherits this environment minus every AFTERWORD_* variable, with ``env``
    applied on top. Output is text (the locale's encoding unless ``encoding`` is given);
    the exit status is left for the test to check.
    """
    return subprocess.run(
        [sys.executable, "-m", "afterword", *args],
        input=input,
        capture_output=True,
        text=True,
        encoding=encoding,
        cwd=cwd,
        env=afterword_env(env),
        timeout=timeout,
        check=False,
    )


def add_rendered(store: Store, body: str = "Hello there", **fields: Any) -> Comment:
    """Store a comment by Alice on /blog/post/ (unless ``fields`` say otherwise), body rendered."""
    fields.setdefault("page_key", "/blog/post/")
    fields.setdefault("author", "Alice")
    html = render_markdown(body)
    return add_comment(
        store, NewComment(body=body, body_html=html, renderer=RENDERER_VERSION, **fields)
    )


def status_of(store: Store, comment: Comment) -> str:
    """The comment's status as stored now."""
    found = get_comment(store, comment.id)
    assert found is not None
    return found.status


pytest_plugins = ["fixtures_intake", "fixtures_s3", "fixtures_browser", "fixtures_notify"]
