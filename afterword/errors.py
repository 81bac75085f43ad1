"""One exception hierarchy for every stage.

The CLI turns any ``AfterwordError`` into a one-line message and its ``exit_code``; the intake
turns ``CommentRejected`` into a JSON error. Nothing else needs to know how errors are shown::

    AfterwordError
    ├── ConfigError              bad afterword.toml or AFTERWORD_* value (exit 2)
    ├── StorageError             the database cannot be opened, migrated or written
    │   ├── StorageFull          the disk (or the database's size limit) is full
    │   ├── StorageBusy          another writer held the lock past the busy timeout
    │   ├── StorageReadOnly      the file or its folder cannot be written
    │   ├── StorageCorrupt       the file is damaged or is not a database
    │   └── DatabaseMissing      the database does not exist yet: only init creates it (exit 2)
    ├── InvalidPageKey           a page URL or path that cannot name a page (also a ValueError)
    ├── ModerationError          unknown comment id, or an action that does not apply
    ├── CommentRejected          a submission the intake refuses (a 4xx: status + fields)
    ├── CommentNotStored         a valid submission the intake could not store now (503)
    ├── InternalError            a bug, already logged where it happened (500)
    ├── BuildError               rendering or writing the output failed
    ├── PublishError             a target refused or failed (botocore errors mapped once)
    ├── AfterCommandFailed       a target's ``after`` command failed (its publish stands)
    ├── ImportFailed             an export file that cannot be read or imported
    └── QueueError               the SQS queue between intake and store failed
"""

from __future__ import annotations

from collections.abc import Mapping


class AfterwordError(Exception):
    """Base class: a failure we can explain to a person in one line."""

    exit_code: int = 1


class ConfigError(AfterwordError):
    """A setting is missing, unknown or has a bad value."""

    exit_code = 2


class StorageError(AfterwordError):
    """The database cannot be opened, migrated or written.

    ``store.errors.storage_error`` is the one place that turns sqlite3's exceptions into this
    class or one of its subclasses, by SQLite's result code.
    """


class StorageFull(StorageError):
    """SQLITE_FULL: the disk, or the database's ``max_page_count``, has no room left."""


class StorageBusy(StorageError):
    """SQLITE_BUSY / SQLITE_LOCKED: another connection held the lock past the busy timeout."""


class StorageReadOnly(StorageError):
    """SQLITE_READONLY / SQLITE_PERM / SQLITE_CANTOPEN: the file or its folder is not writable."""


class StorageCorrupt(StorageError):
    """SQLITE_CORRUPT / SQLITE_NOTADB: the file is damaged or is not an SQLite database."""


class DatabaseMissing(StorageError):
    """The database does not exist and this caller may not create it.

    A command run in the wrong folder would otherwise create an empty database and work on
    it: ``queue`` would say "No pending comments." and ``serve`` would collect comments that
    ``review`` elsewhere never sees. Exit 2, like a bad configuration: the fix is the
    invocation (``--config``) or ``afterword init``.
    """

    exit_code = 2


class InvalidPageKey(AfterwordError, ValueError):
    """A URL or path that does not normalize to a page key."""


class ModerationError(AfterwordError):
    """A moderation action names an unknown comment or does not apply to its status.

    ``code`` names the refusal in one word where a page must say it in the site's language
    (the reply box of a moderation link: ``empty_reply``, ``reply_too_long``).
    """

    def __init__(self, message: str, *, code: str = "moderation") -> None:
        super().__init__(message)
        self.code = code


class CommentRejected(AfterwordError):
    """A submission refused by the intake; ``status`` (a 4xx) and ``code`` become the answer.

    Only the client can fix what it names, so it never carries a 5xx: "we could not store it"
    is ``CommentNotStored``, a bug is ``InternalError``.
    """

    def __init__(
        self,
        message: str,
        *,
        code: str = "invalid",
        status: int = 422,
        fields: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        if not 400 <= status < 500:
            raise ValueError(f"CommentRejected is a client error (4xx), not {status}")
        super().__init__(message)
        self.message = message
        self.code = code
        self.status = status
        self.fields: dict[str, str] = dict(fields or {})
        self.headers: dict[str, str] = dict(headers or {})


class CommentNotStored(AfterwordError):
    """A valid submission that could not be stored now: the store failed or the intake stops.

    The client may send it again later (HTTP 503 with Retry-After). The message is for the
    operator's log; clients get a fixed text, since the reason names files on the server.
    ``cause`` is the storage failure, if that was the reason (None: the intake is stopping).
    """

    def __init__(self, message: str, *, cause: StorageError | None = None) -> None:
        super().__init__(message)
        self.cause = cause


class InternalError(AfterwordError):
    """A bug, logged with its traceback where it happened; the client sees a bare 500."""


class BuildError(AfterwordError):
    """Rendering or writing the static output failed."""


class PublishError(AfterwordError):
    """Uploading to a target or invalidating its CDN failed."""


class AfterCommandFailed(AfterwordError):
    """A target's ``after`` command failed or timed out; the publish before it still counts."""


class ImportFailed(AfterwordError):
    """An export file cannot be parsed or imported; nothing was written."""


class QueueError(AfterwordError):
    """The SQS queue between intake and store refused or could not be reached."""


class NotifyError(AfterwordError):
    """A notification could not be delivered (mail server or webhook); it stays queued."""
