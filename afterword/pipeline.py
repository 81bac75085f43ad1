"""``rebuild`` and ``watch``: build, then publish every target, then its ``after`` command.

This is the only module that knows both the builder and the output stage; each of them
only knows the store and plain data. ``watch`` itself (events, debounce, retries, signals)
lives in ``afterword/watch.py`` and is handed ``rebuild`` as a plain function.

A target's ``after`` command (``afterword/after.py``) runs right after *that* target's publish
uploaded or deleted something, before the next target is published: a later target failing
must not leave an earlier one's generator unrun. A failed command is remembered by ``watch``
and run again after its next rebuild, changes or not, so one broken site build does not leave
the site stale until the next comment arrives.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import MutableSet, Sequence
from dataclasses import dataclass
from typing import Any

from afterword.after import AfterResult, run_after
from afterword.builder import BuildReport, build_site
from afterword.config import Config
from afterword.errors import AfterCommandFailed
from afterword.output import target_config
from afterword.output.publish import PublishReport, publish_changes
from afterword.store import Store
from afterword.watch import Watcher

log = logging.getLogger("afterword.pipeline")
PULLER_STOP_SECONDS = 10.0  # a long poll in flight ends within WATCH_WAIT_SECONDS


@dataclass(frozen=True)
class RebuildReport:
    """The build, what each target's publish did, and how the after commands went."""

    build: BuildReport
    publishes: tuple[PublishReport, ...]
    after: tuple[AfterResult, ...] = ()

    @property
    def after_failures(self) -> tuple[AfterResult, ...]:
        return tuple(result for result in self.after if not result.ok)

    def to_dict(self) -> dict[str, Any]:
        return {
            "build": self.build.to_dict(),
            "publish": {report.target: report.to_dict() for report in self.publishes},
            "after": {result.target: result.to_dict() for result in self.after},
        }

    def summary(self) -> str:
        ran = {result.target: result for result in self.after}
        parts = [f"built {self.build.pages_rendered} page(s), wrote {self.build.files_written}"]
        for report in self.publishes:
            part = (
                f"{report.target}: {report.uploaded} up, {report.deleted} deleted, "
                f"{len(report.invalidated)} invalidated"
            )
            if report.target in ran:
                part += f", {ran[report.target].summary()}"
            parts.append(part)
        return "; ".join(parts)


def rebuild(
    config: Config, store: Store, *, full: bool = False, targets: Sequence[str] | None = None
) -> RebuildReport:
    """Build what changed, publish it to ``targets`` (default: every configured one).

    Each target's ``after`` command runs once its publish changed something. A failing one
    raises ``AfterCommandFailed`` once every target is published: the publishes stand.
    """
    report = run_once(config, store, full=full, targets=targets)
    if report.after_failures:
        raise AfterCommandFailed("; ".join(r.message for r in report.after_failures))
    return report


def run_once(
    config: Config,
    store: Store,
    *,
    full: bool = False,
    targets: Sequence[str] | None = None,
    failed_after: MutableSet[str] | None = None,
) -> RebuildReport:
    """``rebuild`` without raising for after commands: their failures are in the report.

    ``failed_after`` names the targets whose after command failed last time: theirs runs
    again even if nothing changed; the set is updated in place as commands run.
    """
    names = tuple(config.targets) if targets is None else tuple(targets)
    for name in names:
        target_config(config, name)  # unknown names fail before anything is built
    retry = failed_after if failed_after is not None else set()
    build = build_site(config, store, full=full)
    publishes: list[PublishReport] = []
    after: list[AfterResult] = []
    for name in names:
        publish = publish_changes(config, store, name)
        publishes.append(publish)
        settings = config.targets[name]
        if settings.after and (publish.uploaded or publish.deleted or name in retry):
            result = run_after(
                name, settings.after, cwd=config.root, timeout=settings.after_timeout_seconds
            )
            after.append(result)
            (retry.discard if result.ok else retry.add)(name)
    return RebuildReport(build, tuple(publishes), tuple(after))


def watch(
    config: Config,
    store: Store,
    *,
    stop: threading.Event | None = None,
    poll: bool | None = None,
) -> None:
    """Rebuild whenever the database, the templates or the config change, until stopped.

    A failing after command is logged (one line) and watching goes on: the publish worked.
    With ``intake.queue`` set to an SQS queue, a thread also pulls what the intakes queued
    (``intake.pull``); what it stores changes the database, which the watcher notices.
    """
    failed_after: set[str] = set()

    def run(current: Config) -> str:
        report = run_once(current, store, failed_after=failed_after)
        for failure in report.after_failures:
            log.error(
                "after command failed (runs again after the next rebuild): %s", failure.message
            )
        return report.summary()

    stopping = stop or threading.Event()
    puller = None
    if config.intake.queue != "sqlite":  # intakes elsewhere queue in SQS: store what comes
        from afterword.intake.pull import pull_in_background  # boto3 only in SQS mode

        puller = pull_in_background(config, stopping)
    watcher = Watcher(config, run, store=store, poll=config.watch.poll if poll is None else poll)
    try:
        watcher.run(stopping)
    finally:
        stopping.set()
        if puller is not None:
            puller.join(PULLER_STOP_SECONDS)
