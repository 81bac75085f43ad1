"""Writing the output folder: only bytes that changed, atomically, mirrored in the manifest.

A file whose bytes are already on disk is left alone, so its mtime stays and tools that sync
by mtime (rsync, a local target) see no change. New bytes go to a temporary file that is
renamed over the old one (or into place for a new file), so a reader, a crash or a full disk
never leaves half a file under a final name. The manifest rows are recorded in batches, in
the same transaction as the page versions they came from; if the process dies between
writing files and recording them, the pages are still dirty and the next build finds the
bytes already in place and only records them.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import secrets
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

from afterword.errors import BuildError
from afterword.store import Store
from afterword.store.build import ObjectRow, get_object, record_batch

HTML = "text/html; charset=utf-8"
JSON = "application/json"
ATOM = "application/atom+xml; charset=utf-8"


@dataclass(frozen=True)
class Output:
    """One file the build produces, before it is compared with what is on disk."""

    key: str
    data: bytes
    content_type: str
    cache_class: str = "fragment"
    page_key: str | None = None


class Written(NamedTuple):
    """What writing one output did: its manifest row, and whether bytes hit the disk."""

    row: ObjectRow
    written: bool


class FileWriter:
    """Writes files only when their bytes differ; usable in worker processes (no database)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._dirs: dict[Path, bool] = {}

    def write(self, out: Output) -> Written:
        path = self.path(out.key)
        fresh = self._ensure_dir(path.parent)
        written = fresh or not _same_bytes(path, out.data)
        if written:
            _write_atomic(path, out.data)
        digest = hashlib.sha256(out.data).hexdigest()
        row = ObjectRow(
            out.key, digest, len(out.data), out.content_type, out.cache_class, out.page_key
        )
        return Written(row, written)

    def forget_dirs(self) -> None:
        self._dirs.clear()

    def path(self, key: str) -> Path:
        return self.root.joinpath(*key.split("/"))

    def _ensure_dir(self, folder: Path) -> bool:
        """mkdir once per folder; True if this build created it (so it is empty).

        On a slow disk metadata calls dominate a first build, and a file in a folder made a
        moment ago cannot already hold the right bytes, so it is not even looked at.
        """
        known = self._dirs.get(folder)
        if known is not None:
            return known
        try:
            try:
                folder.mkdir()
                fresh = True
            except FileExistsError:
                fresh = False
            except FileNotFoundError:
                folder.mkdir(parents=True, exist_ok=True)
                fresh = True
        except OSError as exc:
            raise BuildError(f"cannot create {folder}: {exc.strerror or exc}") from None
        if len(self._dirs) > 4096:
            self._dirs.clear()
        self._dirs[folder] = fresh
        return fresh


class OutputWriter:
    """Writes outputs into ``root``, records them in the manifest, keeps the report's counts."""

    def __init__(self, root: Path, store: Store, *, full: bool) -> None:
        self.root = root
        self.store = store
        self.full = full
        self.files = FileWriter(root)
        self.files_written = 0
        self.files_deleted = 0
        self.bytes_written = 0
        self.changed: list[str] = []
        self._rows: list[ObjectRow] = []
        self._removed: list[str] = []

    def put(self, out: Output) -> None:
        self.record(self.files.write(out))

    def record(self, result: Written) -> None:
        """Account for a file written here or by a worker process."""
        if result.written:
            self.files_written += 1
            self.bytes_written += result.row.size
            self.changed.append(result.row.key)
        self._rows.append(result.row)

    def remove(self, key: str) -> None:
        """Delete a file that no longer exists in the site (and its manifest row)."""
        path = self.files.path(key)
        try:
            path.unlink()
        except FileNotFoundError:
            pass
        except OSError as exc:
            raise BuildError(f"cannot delete {path}: {exc.strerror}") from None
        else:
            self.files_deleted += 1
            self.changed.append(key)
            _prune_empty_dirs(path.parent, self.root)
            self.files.forget_dirs()
        self._removed.append(key)

    def flush(self, built: Sequence[tuple[str, int]] = ()) -> None:
        """Record written/removed rows and the versions rendered, in one transaction."""
        if not (self._rows or self._removed or built):
            return
        record_batch(
            self.store, put=self._rows, removed=self._removed, built=built, produced=self.full
        )
        self._rows = []
        self._removed = []

    def read_verified(self, key: str) -> bytes | None:
        """The file's bytes if the manifest vouches for them, else None (missing or altered)."""
        row = get_object(self.store, key)
        if row is None:
            return None
        try:
            data = self.files.path(key).read_bytes()
        except OSError:
            return None
        return data if hashlib.sha256(data).hexdigest() == row.sha256 else None

    def has_object(self, key: str) -> bool:
        return get_object(self.store, key) is not None


def _same_bytes(path: Path, data: bytes) -> bool:
    try:
        if path.stat().st_size != len(data):
            return False
        return path.read_bytes() == data
    except OSError:
        return False


def _write_atomic(path: Path, data: bytes) -> None:
    """Write a uniquely named temporary sibling, then rename it over ``path``.

    Every file, new or replaced: a write cut short (disk full, file-size limit, a killed
    worker) leaves at most a stray temporary, never a truncated file under the final name
    that a later build would take for finished and a publish would ship. The temporary is
    removed when the write fails. There is no fsync per file: a full build writes tens of
    thousands, and what a power cut could still damage is caught later — publish re-hashes
    every file against the manifest before uploading it and refuses a mismatch.
    """
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    try:
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)  # umask applies
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
            os.replace(temporary, path)
        except BaseException:
            temporary.unlink(missing_ok=True)
            raise
    except OSError as exc:
        raise BuildError(f"cannot write {path}: {exc.strerror or exc}") from None


def _prune_empty_dirs(folder: Path, root: Path) -> None:
    while folder != root and root in folder.parents:
        try:
            folder.rmdir()
        except OSError:
            return
        folder = folder.parent


@contextmanager
def build_lock(database: Path) -> Iterator[None]:
    """One build at a time per database (``watch`` and a manual build must not interleave).

    The lock file sits beside the database, not in the output folder, which must hold exactly
    what the manifest describes.
    """
    path = database.with_name(database.name + ".build-lock")
    try:
        handle = open(path, "a+b")  # noqa: SIM115 (held for the whole build)
    except OSError as exc:
        raise BuildError(f"cannot create {path}: {exc.strerror or exc}") from None
    with handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise BuildError("another build of this site is running") from None
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def ensure_output_dir(root: Path) -> None:
    """Fail early, in one line, when the output folder cannot be created or written."""
    try:
        root.mkdir(parents=True, exist_ok=True)
        probe = root / ".afterword-write-test"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        raise BuildError(f"output folder {root} is not writable: {exc.strerror or exc}") from None
