"""Shared fixtures: a real site folder with a config file and a real SQLite database."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from afterword.config import Config, load_config
from afterword.scaffold import write_config
from afterword.store import Store, open_store

# boto3 against moto on loopback only: never reach for credentials or instance metadata.
os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
os.environ["AWS_EC2_METADATA_DISABLED"] = "true"


@pytest.fixture
def site_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh site folder holding afterword.toml; the working directory for the test."""
    for name in list(os.environ):
        if name.startswith("AFTERWORD_"):
            monkeypatch.delenv(name)
    write_config(tmp_path, site_url="https://blog.example.com")
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.fixture
def config(site_dir: Path) -> Config:
    return load_config(site_dir / "afterword.toml")


@pytest.fixture
def store(config: Config) -> Iterator[Store]:
    with open_store(config.database_path) as opened:
        yield opened


pytest_plugins = ["fixtures_intake", "fixtures_s3", "fixtures_browser"]
