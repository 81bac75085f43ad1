"""CI's pins cover every dependency, and a pinned run really runs on the pinned versions.

A dependency added to ``pyproject.toml`` without a pin would let CI resolve whatever is newest
on the day, which is how a click release once broke every fresh machine.
"""

from __future__ import annotations

import importlib.metadata
import os
import tomllib
from pathlib import Path

from conftest import require
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parent.parent
PINS = ROOT / "constraints" / "ci.txt"
CI_EXTRAS = ("test", "dev")  # what .ci/run installs; `bench` tools live in a venv of their own


def read_pins() -> dict[str, str]:
    pins: dict[str, str] = {}
    for line in PINS.read_text(encoding="utf-8").splitlines():
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        name, sep, version = line.partition("==")
        assert sep, f"constraints/ci.txt: {line!r} is not an exact pin (name==version)"
        pins[canonicalize_name(name)] = version.strip()
    return pins


def declared_requirements() -> list[Requirement]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    specs = list(project["project"]["dependencies"])
    for extra in CI_EXTRAS:
        specs.extend(project["project"]["optional-dependencies"][extra])
    specs.extend(project["build-system"]["requires"])
    return [Requirement(spec) for spec in specs]


def test_every_declared_dependency_is_pinned_within_its_bounds() -> None:
    pins = read_pins()
    for requirement in declared_requirements():
        name = canonicalize_name(requirement.name)
        if name == "afterword":  # the dev extra pulls in the test extra by name
            continue
        assert name in pins, (
            f"{requirement.name} is not pinned: run bash scripts/refresh-pins --keep"
        )
        assert requirement.specifier.contains(pins[name], prereleases=True), (
            f"{requirement.name}=={pins[name]} is outside pyproject's {requirement.specifier}"
        )


def test_a_pinned_run_uses_the_pinned_versions() -> None:
    pinned = Path(os.environ.get("PIP_CONSTRAINT", "")).resolve() == PINS.resolve()
    newest = os.environ.get("AFTERWORD_NEWEST") == "1"  # bash .ci/run --newest: no pins
    require(pinned or newest, "a pinned run (bash .ci/run sets PIP_CONSTRAINT)")
    if newest:
        return
    wrong = []
    for name, version in read_pins().items():
        try:
            installed = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            continue  # pinned for a platform or extra this run did not install
        if installed != version:
            wrong.append(f"{name} {installed} (pinned {version})")
    assert not wrong, "installed versions differ from constraints/ci.txt: " + ", ".join(wrong)
