"""sqlite3's exceptions, mapped once into ``StorageError`` and its subclasses.

sqlite3 raises a handful of classes (``OperationalError`` for a full disk, a lock timeout and
a read-only file alike) whose meaning is in the result code, not the class. Callers need the
meaning: the intake answers 503 to all of them but names the kind of failure (``reason``), the
CLI prints one line. So the store's entry points — ``open_store``, ``Store.write()`` (its BEGIN,
its COMMIT and every statement inside it), ``submissions.probe`` and the intake's health probe
— pass their errors through ``sqlite_errors`` / ``storage_error``, and code above the store
catches ``StorageError``, not ``sqlite3.Error``.

``IntegrityError`` (a constraint refused a row) is a fact about the data, not the store's
health: ``Store.write()`` lets it through unchanged for the caller to explain (an import names
the row); given to ``storage_error`` it becomes a plain ``StorageError``, never one of the
"try again later" subclasses.
"""

from __future__ import annotations

import errno
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from os import PathLike

from afterword.errors import (
    StorageBusy,
    StorageCorrupt,
    StorageError,
    StorageFull,
    StorageReadOnly,
)

PRIMARY_CODE_MASK = 0xFF  # extended result codes keep the primary code in the low byte
BY_CODE: dict[int, type[StorageError]] = {
    sqlite3.SQLITE_FULL: StorageFull,
    sqlite3.SQLITE_BUSY: StorageBusy,
    sqlite3.SQLITE_LOCKED: StorageBusy,
    sqlite3.SQLITE_READONLY: StorageReadOnly,
    sqlite3.SQLITE_PERM: StorageReadOnly,
    sqlite3.SQLITE_CANTOPEN: StorageReadOnly,
    sqlite3.SQLITE_CORRUPT: StorageCorrupt,
    sqlite3.SQLITE_NOTADB: StorageCorrupt,
}
BY_ERRNO: dict[int, type[StorageError]] = {
    errno.ENOSPC: StorageFull,
    errno.EDQUOT: StorageFull,
    errno.EROFS: StorageReadOnly,
    errno.EACCES: StorageReadOnly,
    errno.EPERM: StorageReadOnly,
}


def storage_error(
    exc: sqlite3.Error | OSError, path: str | PathLike[str], doing: str
) -> StorageError:
    """The ``StorageError`` for ``exc``: ``"<path>: <doing>: <sqlite's words>"``."""
    if isinstance(exc, OSError):
        kind = BY_ERRNO.get(exc.errno or 0, StorageError)
    else:
        code = getattr(exc, "sqlite_errorcode", None)
        kind = BY_CODE.get(code & PRIMARY_CODE_MASK, StorageError) if code else StorageError
    return kind(f"{path}: {doing}: {exc}")


@contextmanager
def sqlite_errors(path: str | PathLike[str], doing: str) -> Iterator[None]:
    """Run the block; an ``sqlite3.Error`` or ``OSError`` leaves it as a ``StorageError``.

    ``doing`` completes the message ``"<path>: <doing>: …"``, e.g. ``"cannot commit"``.
    """
    try:
        yield
    except (sqlite3.Error, OSError) as exc:
        raise storage_error(exc, path, doing) from exc
