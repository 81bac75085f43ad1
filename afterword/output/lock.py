"""Which publishes of a site are running: a shared ``flock`` on ``<database>.publish-lock``.

Every publish holds the lock shared for as long as it runs, so publishes never wait for each
other (``watch`` and a manual ``publish`` may overlap, as before). A publish that starts by
getting it *exclusively* knows that no other publish of the site is running: every temporary
file of ours that a target holds is then a leftover of one that was killed, whatever its age
(``LocalTarget.sweep``). It sweeps, then turns the lock shared for the rest of its run.

The file sits beside the database, like the build lock, and never in a target folder, which
must hold exactly what the manifest describes.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from afterword.errors import PublishError

LOCK_SUFFIX = ".publish-lock"


@contextmanager
def publish_lock(database: Path, first: Callable[[bool], None]) -> Iterator[None]:
    """Hold the publish lock shared; call ``first(alone)`` before turning it shared, with
    ``alone`` true when the lock could be had exclusively (no other publish is running)."""
    path = database.with_name(database.name + LOCK_SUFFIX)
    try:  # private, like the intake's and the sender's lock files beside the database
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    except OSError as exc:
        raise PublishError(f"cannot create {path}: {exc.strerror or exc}") from None
    try:
        alone = _try_exclusive(fd)
        first(alone)
        if alone:
            fcntl.flock(fd, fcntl.LOCK_SH)
        yield
    finally:
        os.close(fd)  # releases the lock


def _try_exclusive(fd: int) -> bool:
    """Exclusive if no publish holds the lock; else shared (waiting only while another
    publish is sweeping) and False."""
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        fcntl.flock(fd, fcntl.LOCK_SH)
        return False
    return True
