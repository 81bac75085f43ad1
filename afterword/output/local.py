"""Target kind ``local``: mirror the output into a folder (a site's static dir or repository).

Each file is written to a temporary name in its destination folder and renamed into place,
so a web server or a static-site generator reading the folder never sees half a file.
Empty folders left by deletions are removed, so the mirror matches the output exactly.
"""

from __future__ import annotations

import os
import tempfile
import uuid
from pathlib import Path

from afterword.config import TargetConfig
from afterword.errors import PublishError
from afterword.output.base import Upload
from afterword.output.errors import Where, os_error

PROBE_NAME = ".afterword-doctor-probe-"


class LocalTarget:
    """Writes objects as files below ``root``; keys are "/"-separated relative paths."""

    def __init__(self, name: str, config: TargetConfig) -> None:
        self.name = name
        self.root = Path(config.path)
        self.max_workers = max(1, config.max_workers)
        self.where = Where(name)

    def put(self, upload: Upload, data: bytes) -> None:
        """Uploads and deletes run on a thread pool: a delete emptying a folder prunes it, and
        that may happen between our ``mkdir`` and the temporary file appearing in it. The
        temporary file keeps the folder from being pruned, so making the folder again and
        retrying is enough."""
        destination = self._path(upload.key)
        try:
            for attempt in range(PRUNE_RACE_ATTEMPTS):
                destination.parent.mkdir(parents=True, exist_ok=True)
                try:
                    write_atomic(destination, data)
                    return
                except FileNotFoundError:
                    if attempt == PRUNE_RACE_ATTEMPTS - 1:
                        raise
        except OSError as exc:
            raise os_error(exc, str(destination), self.where) from None

    def delete(self, key: str) -> None:
        destination = self._path(key)
        try:
            destination.unlink(missing_ok=True)
            self._prune(destination.parent)
        except OSError as exc:
            raise os_error(exc, str(destination), self.where) from None

    def probe(self) -> str:
        probe = self.root / f"{PROBE_NAME}{uuid.uuid4().hex}"
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            write_atomic(probe, b"afterword doctor probe\n")
            probe.unlink()
        except OSError as exc:
            raise os_error(exc, str(probe), self.where) from None
        return f"wrote and removed a file in {self.root}"

    def close(self) -> None:
        """Nothing to release."""

    def _path(self, key: str) -> Path:
        parts = key.split("/")
        if not key or any(part in ("", ".", "..") for part in parts):
            raise PublishError(f"targets.{self.name}: refusing unsafe output key {key!r}")
        return self.root.joinpath(*parts)

    def _prune(self, folder: Path) -> None:
        """Remove folders emptied by a delete, up to (not including) the root."""
        while folder != self.root and self.root in folder.parents:
            try:
                folder.rmdir()
            except OSError:
                return
            folder = folder.parent


PRUNE_RACE_ATTEMPTS = 5


def write_atomic(path: Path, data: bytes) -> None:
    """Write to a temporary sibling, flush, and rename over ``path``."""
    fd, temporary = tempfile.mkstemp(prefix=".afterword-", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(temporary, 0o644)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def open_target(name: str, config: TargetConfig) -> LocalTarget:
    return LocalTarget(name, config)
