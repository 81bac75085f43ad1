"""Target kind ``local``: mirror the output into a folder (a site's static dir or repository).

Each file is written to a temporary name in its destination folder and renamed into place,
so a web server or a static-site generator reading the folder never sees half a file.
Empty folders left by deletions are removed, so the mirror matches the output exactly.

A publisher killed mid-write (SIGKILL, a power cut) leaves its temporary file behind, and the
folder is served or copied by a site generator as it is. So each publish first sweeps
(``sweep``) the temporaries of *our* naming (``TEMPORARY``: ``.<name>.afterword-<16 hex>.tmp``,
which no user file looks like) from the folders it is about to write in — the folders of an
interrupted publish among them, since what was not recorded as landed is put again — and
``--full`` sweeps the whole tree. One that may belong to a publish running right now is left
unless it is older than ``STALE_SECONDS``; ``publish_changes`` knows from the publish lock
(``output.lock``) whether any other publish of the site is running.
"""

from __future__ import annotations

import os
import re
import secrets
import time
import uuid
from collections.abc import Iterable
from pathlib import Path

from afterword.config import TargetConfig
from afterword.errors import PublishError
from afterword.output.base import Upload
from afterword.output.errors import Where, os_error

PROBE_NAME = ".afterword-doctor-probe-"
TEMPORARY = re.compile(r"\..+\.afterword-[0-9a-f]{16}\.tmp")
STALE_SECONDS = 600  # no single file's write takes this long; a younger one may be in flight


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

    def sweep(self, keys: Iterable[str], *, everywhere: bool, alone: bool) -> int:
        """Remove our stale temporaries from the root and the folders of ``keys`` (the whole
        tree when ``everywhere``); any age when ``alone`` (no other publish of the site runs),
        else only those older than ``STALE_SECONDS``. Returns how many went."""
        folders = {self.root, *(self._path(key).parent for key in keys)}
        if everywhere:
            folders.update(Path(top) for top, _, _ in os.walk(self.root))
        cutoff = time.time() - STALE_SECONDS
        removed = 0
        for folder in sorted(folders):
            try:
                removed += _sweep_folder(folder, None if alone else cutoff)
            except OSError as exc:
                raise os_error(exc, str(folder), self.where) from None
        return removed

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


def temporary_name(path: Path) -> Path:
    """A fresh temporary sibling of ``path``, named so that ``sweep`` knows it for ours."""
    return path.with_name(f".{path.name}.afterword-{secrets.token_hex(8)}.tmp")


def write_atomic(path: Path, data: bytes) -> None:
    """Write to a temporary sibling (created exclusively, private until complete), flush,
    and rename over ``path``."""
    temporary = temporary_name(path)
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(temporary, 0o644)
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


def _sweep_folder(folder: Path, cutoff: float | None) -> int:
    """Unlink our temporaries in ``folder`` (not below it) last changed before ``cutoff``
    (None: any). A folder that is gone has nothing to sweep."""
    removed = 0
    try:
        entries = list(os.scandir(folder))
    except (FileNotFoundError, NotADirectoryError):
        return 0
    for entry in entries:
        if not TEMPORARY.fullmatch(entry.name) or not entry.is_file(follow_symlinks=False):
            continue
        try:
            if cutoff is None or entry.stat(follow_symlinks=False).st_mtime < cutoff:
                os.unlink(entry.path)
                removed += 1
        except FileNotFoundError:  # renamed into place, or swept by another publish
            continue
    return removed


def open_target(name: str, config: TargetConfig) -> LocalTarget:
    return LocalTarget(name, config)
