"""``rebuild`` and ``watch``: build, then publish every target.

This is the only module that knows both the builder and the output stage; each of them
only knows the store and plain data. ``watch`` itself (events, debounce, retries, signals)
lives in ``afterword/watch.py`` and is handed ``rebuild`` as a plain function.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from afterword.builder import BuildReport, build_site
from afterword.config import Config
from afterword.output import target_config
from afterword.output.publish import PublishReport, publish_changes
from afterword.store import Store
from afterword.watch import Watcher

log = logging.getLogger("afterword.pipeline")


@dataclass(frozen=True)
class RebuildReport:
    """The build and what each target's publish did."""

    build: BuildReport
    publishes: tuple[PublishReport, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "build": self.build.to_dict(),
            "publish": {report.target: report.to_dict() for report in self.publishes},
        }

    def summary(self) -> str:
        parts = [f"built {self.build.pages_rendered} page(s), wrote {self.build.files_written}"]
        for report in self.publishes:
            parts.append(
                f"{report.target}: {report.uploaded} up, {report.deleted} deleted, "
                f"{len(report.invalidated)} invalidated"
            )
        return "; ".join(parts)


def rebuild(
    config: Config, store: Store, *, full: bool = False, targets: Sequence[str] | None = None
) -> RebuildReport:
    """Build what changed, then publish it to ``targets`` (default: every configured one)."""
    names = tuple(config.targets) if targets is None else tuple(targets)
    for name in names:
        target_config(config, name)  # unknown names fail before anything is built
    build = build_site(config, store, full=full)
    publishes = tuple(publish_changes(config, store, name) for name in names)
    return RebuildReport(build, publishes)


def watch(
    config: Config,
    store: Store,
    *,
    stop: threading.Event | None = None,
    poll: bool | None = None,
) -> None:
    """Rebuild whenever the database, the templates or the config change, until stopped."""

    def run(current: Config) -> str:
        return rebuild(current, store).summary()

    watcher = Watcher(config, run, store=store, poll=config.watch.poll if poll is None else poll)
    watcher.run(stop or threading.Event())
