"""Fixtures for tests that need the intake; registered in conftest.py.

``intake_server``   the intake for the test's ``config``, on an ephemeral loopback port.
``start_intake``    a factory for intakes with changed settings, e.g.
                    ``start_intake(limits={"per_minute": 0}, site={"pages": ["/blog/*"]})``
                    (``workers=2``: as ``afterword serve --workers 2``, in processes);
                    every server it started is stopped after the test.
``comment_fields``  a valid submission as a dict, with any field replaced.
``configured``      the same settings override as a plain function, for tests without HTTP.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from afterword.config import Config
from afterword.intake.server import BackgroundServer

UNLIMITED = {"per_minute": 0, "per_hour": 0}


@dataclass
class RunningIntake:
    """A started intake: where it listens, the config it runs with, and a JSON poster."""

    server: BackgroundServer
    config: Config

    @property
    def url(self) -> str:
        return self.server.url

    @property
    def api(self) -> str:
        return self.server.url + "/api/comments"

    def post(self, headers: Mapping[str, str] | None = None, **fields: Any) -> httpx.Response:
        """POST ``comment_fields(**fields)`` as JSON; extra headers as given."""
        return httpx.post(self.api, json=comment_fields(**fields), headers=headers, timeout=10)

    def server_metrics(self) -> str:
        """The Prometheus text of this intake's ``/metrics``."""
        response = httpx.get(self.url + "/metrics", timeout=10)
        response.raise_for_status()
        return response.text

    def stop(self) -> None:
        self.server.stop()


def comment_fields(**fields: Any) -> dict[str, Any]:
    """A valid submission; ``None`` removes a field."""
    base: dict[str, Any] = {
        "page": "/blog/hello/",
        "author": "Ada",
        "email": "ada@example.org",
        "website": "https://ada.example.org/",
        "body": "Nice *post*, thanks.",
    }
    base.update(fields)
    return {k: v for k, v in base.items() if v is not None}


def configured(config: Config, **sections: Mapping[str, Any]) -> Config:
    """``config`` with some settings replaced: ``configured(c, limits={"per_minute": 0})``."""
    changes = {
        name: dataclasses.replace(getattr(config, name), **values)
        for name, values in sections.items()
    }
    return dataclasses.replace(config, **changes)


@pytest.fixture
def start_intake(config: Config) -> Iterator[Callable[..., RunningIntake]]:
    started: list[RunningIntake] = []

    def start(
        base: Config | None = None, workers: int = 1, **sections: Mapping[str, Any]
    ) -> RunningIntake:
        chosen = configured(base or config, **sections)
        running = RunningIntake(BackgroundServer(chosen, workers=workers).start(), chosen)
        started.append(running)
        return running

    yield start
    for running in started:
        running.stop()


@pytest.fixture
def intake_server(start_intake: Callable[..., RunningIntake]) -> RunningIntake:
    """The intake exactly as the test's ``config`` says (default limits: 5/minute)."""
    return start_intake()
