"""The Lambda deployment zip: afterword plus the intake's runtime dependencies, for Linux.

``pip install --target`` with ``--platform manylinux2014_x86_64`` (or ``_aarch64``),
``--implementation cp``, ``--python-version`` and ``--only-binary=:all:`` fetches the wheels
the Lambda runtime can load — compiled ones (nh3) built for Amazon Linux's glibc and that
Python, not for the machine running this — so the zip can be built on any OS. afterword
itself is copied from the package that is running, so the zip holds exactly this code.

Only what the intake imports is installed (``REQUIREMENTS``, the same lower bounds as
pyproject.toml): no uvicorn, watchdog or Jinja, which a Lambda never runs. boto3 is
included rather than taken from the runtime, whose copy AWS updates on its own schedule.

The zip is deterministic: entries sorted, timestamps fixed, no ``__pycache__`` or scripts,
so the same inputs give the same bytes (and CloudFormation sees no change when nothing did).
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import afterword
from afterword.errors import AfterwordError

REQUIREMENTS = (  # what ``afterword.intake`` imports; jinja2 for the /moderate pages' module
    "boto3>=1.34",
    "jinja2>=3.1",
    "mangum>=0.19",
    "markdown-it-py>=3.0",
    "nh3>=0.2.17",
    "prometheus-client>=0.20",
    "python-multipart>=0.0.9",
    "sqlite-utils>=4.0",
    "starlette>=0.40",
)
PLATFORMS = {"x86_64": "manylinux2014_x86_64", "arm64": "manylinux2014_aarch64"}
PYTHON_VERSIONS = ("3.11", "3.12", "3.13")
HANDLER = "afterword.intake.lambda_handler.handler"
ZIP_TIME = (1980, 1, 1, 0, 0, 0)
PIP_TIMEOUT_SECONDS = 900


@dataclass(frozen=True)
class LambdaPackage:
    """What ``build_lambda_zip`` wrote."""

    path: Path
    files: int
    size: int
    python_version: str
    architecture: str


def build_lambda_zip(
    output: Path, *, python_version: str = "3.11", architecture: str = "x86_64"
) -> LambdaPackage:
    """Install the dependencies for the Lambda platform, add afterword, write ``output``."""
    if architecture not in PLATFORMS:
        raise AfterwordError(f"unknown Lambda architecture {architecture!r}")
    output = output.absolute()
    package = Path(afterword.__file__).parent
    with tempfile.TemporaryDirectory(prefix="afterword-lambda-") as scratch:
        target = Path(scratch) / "site"
        _pip_install(target, python_version, PLATFORMS[architecture])
        entries = sorted(
            [*_files(target, target), *_files(package, package.parent)],
            key=lambda pair: pair[0],
        )
        partial = output.with_name(f".{output.name}.partial")
        try:
            output.parent.mkdir(parents=True, exist_ok=True)
            with zipfile.ZipFile(partial, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as bundle:
                for name, path in entries:
                    _add(bundle, name, path)
            os.replace(partial, output)
        except OSError as exc:
            partial.unlink(missing_ok=True)
            raise AfterwordError(f"cannot write {output}: {exc.strerror}") from None
    return LambdaPackage(output, len(entries), output.stat().st_size, python_version, architecture)


def _pip_install(target: Path, python_version: str, platform: str) -> None:
    command = [
        sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
        "--no-compile", "--target", str(target), "--platform", platform,
        "--implementation", "cp", "--python-version", python_version,
        "--only-binary=:all:", *REQUIREMENTS,
    ]  # fmt: skip
    try:
        done = subprocess.run(
            command, capture_output=True, text=True, timeout=PIP_TIMEOUT_SECONDS, check=False
        )
    except subprocess.TimeoutExpired:
        raise AfterwordError(f"pip took over {PIP_TIMEOUT_SECONDS} s; nothing written") from None
    if done.returncode != 0:
        errors = [line for line in done.stderr.splitlines() if line.startswith("ERROR")]
        why = errors[-1] if errors else (done.stderr.strip().splitlines() or ["no output"])[-1]
        raise AfterwordError(f"pip could not install the Lambda's dependencies: {why}")


def _files(root: Path, base: Path) -> Iterator[tuple[str, Path]]:
    """Every file under ``root`` as (name in the zip, path): no caches, no ``bin`` scripts."""
    for folder, dirs, names in os.walk(root):
        here = Path(folder)
        dirs[:] = [d for d in dirs if d != "__pycache__" and not (here == root and d == "bin")]
        for name in names:
            if name.endswith((".pyc", ".pyo")):
                continue
            path = here / name
            yield path.relative_to(base).as_posix(), path


def _add(bundle: zipfile.ZipFile, name: str, path: Path) -> None:
    info = zipfile.ZipInfo(name, ZIP_TIME)
    executable = os.access(path, os.X_OK) and path.suffix in {".so", ""}
    info.external_attr = (0o755 if executable else 0o644) << 16
    info.compress_type = zipfile.ZIP_DEFLATED
    bundle.writestr(info, path.read_bytes(), compresslevel=9)
