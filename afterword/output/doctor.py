"""``afterword doctor``: check everything a rebuild needs, and say how to fix what is wrong.

Each check returns a ``Check``; one failure never hides the others, so a person sees every
problem at once. The bucket check really writes and deletes a probe object (a bucket you can
list but not write to is the classic half-working setup); the CloudFront check asks for an
invalidation that cannot exist, which needs only the permission publishing uses anyway.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from afterword.config import Config, load_config
from afterword.errors import AfterwordError
from afterword.output import open_target
from afterword.output.cdn import open_cdn
from afterword.output.local import write_atomic
from afterword.store import open_store
from afterword.store.migrations import migrations
from afterword.store.publish import read_manifest


@dataclass(frozen=True)
class Check:
    """One finding: what was checked, whether it is fine, and what to do if not."""

    name: str
    ok: bool
    detail: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def run_doctor(config_path: str | None) -> list[Check]:
    """All checks, in the order a person would fix them."""
    try:
        config = load_config(config_path, required=True)
    except AfterwordError as exc:
        return [Check("config", False, str(exc))]
    checks = [Check("config", True, f"{config.source} is valid")]
    checks.extend(check_database(config))
    checks.append(check_output(config))
    checks.extend(check_notify(config))
    if not config.targets:
        checks.append(
            Check("targets", False, "no [targets.NAME] in the config: add one to publish")
        )
    for name in sorted(config.targets):
        checks.extend(check_target(config, name))
    return checks


def check_database(config: Config) -> Iterator[Check]:
    path = config.database_path
    if not path.exists():
        yield Check("database", False, f"{path} does not exist: run `afterword init` here")
        return
    try:
        with open_store(path, migrate=False) as store:
            pending = [m.name for m in migrations.pending(store.db)]
            keys = sorted(read_manifest(store)) if not pending else []
    except AfterwordError as exc:
        yield Check("database", False, f"{exc}: restore it from a backup")
        return
    if pending:
        yield Check("database", False, f"{path} needs migrations: run `afterword migrate`")
        return
    yield Check("database", True, f"{path} is up to date ({len(keys)} built objects)")
    missing = missing_outputs(config, keys)
    if missing:
        yield Check(
            "output files",
            False,
            f"{len(missing)} built file(s) missing from {config.output_dir} (e.g. {missing[0]}): "
            "run `afterword build --full`",
        )
    if stat.S_IMODE(path.stat().st_mode) & 0o077:
        yield Check(
            "database permissions",
            False,
            f"{path} is readable by other users and holds e-mail addresses: chmod 600 {path}",
        )


def check_notify(config: Config) -> Iterator[Check]:
    """The outbox: failures for good, retries pending, a bad smtp_url (nothing when off)."""
    from afterword.notify.channels import sends_anything
    from afterword.notify.status import describe, problems, read_status

    if not sends_anything(config) or not config.database_path.exists():
        return
    try:
        status = read_status(config)
    except AfterwordError as exc:
        yield Check("notifications", False, str(exc))
        return
    found = problems(config, status)
    if found:
        yield Check("notifications", False, "; ".join(found) + ": see `afterword notify --status`")
    else:
        yield Check("notifications", True, describe(config, status))


def check_output(config: Config) -> Check:
    folder = config.output_dir
    probe = folder / ".afterword-doctor-probe"
    try:
        folder.mkdir(parents=True, exist_ok=True)
        write_atomic(probe, b"probe\n")
        probe.unlink()
    except OSError as exc:
        return Check(
            "output",
            False,
            f"cannot write to {folder}: {exc.strerror}: fix its permissions or build.output_dir",
        )
    return Check("output", True, f"{folder} is writable")


def check_target(config: Config, name: str) -> Iterator[Check]:
    settings = config.targets[name]
    try:
        target = open_target(name, settings)
        try:
            yield Check(f"targets.{name}", True, target.probe())
        finally:
            target.close()
    except AfterwordError as exc:
        yield failed(f"targets.{name}", exc, name)
    cdn = open_cdn(name, settings)
    if cdn is None:
        return
    try:
        yield Check(f"targets.{name} CDN", True, cdn.probe())
    except AfterwordError as exc:
        yield failed(f"targets.{name} CDN", exc, name)


def failed(check: str, exc: AfterwordError, target: str) -> Check:
    """A failed target check whose detail does not repeat the target's name.

    Publish errors start with "targets.NAME: " so a publish log says which target failed;
    next to a check already named after the target, that would print the name twice.
    """
    return Check(check, False, str(exc).removeprefix(f"targets.{target}: "))


def missing_outputs(config: Config, keys: list[str]) -> list[str]:
    """Manifest keys whose file is gone from the output folder."""
    return [k for k in keys if not os.path.exists(Path(config.output_dir, *k.split("/")))]
