"""One exception hierarchy for every stage.

The CLI turns any ``AfterwordError`` into a one-line message and its ``exit_code``; the intake
turns ``CommentRejected`` into a JSON error. Nothing else needs to know how errors are shown::

    AfterwordError
    ├── ConfigError              bad afterword.toml or AFTERWORD_* value (exit 2)
    ├── StorageError             the database cannot be opened, migrated or written
    ├── InvalidPageKey           a page URL or path that cannot name a page (also a ValueError)
    ├── ModerationError          unknown comment id, or an action that does not apply
    ├── CommentRejected          a submission the intake refuses (carries HTTP status + fields)
    ├── BuildError               rendering or writing the output failed
    ├── PublishError             a target refused or failed (botocore errors mapped once)
    ├── AfterCommandFailed       a target's ``after`` command failed (its publish stands)
    └── ImportFailed             an export file that cannot be read or imported
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
    """The database cannot be opened, migrated or written."""


class InvalidPageKey(AfterwordError, ValueError):
    """A URL or path that does not normalize to a page key."""


class ModerationError(AfterwordError):
    """A moderation action names an unknown comment or does not apply to its status."""


class CommentRejected(AfterwordError):
    """A submission refused by the intake; ``status`` and ``code`` become the HTTP answer."""

    def __init__(
        self,
        message: str,
        *,
        code: str = "invalid",
        status: int = 422,
        fields: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.status = status
        self.fields: dict[str, str] = dict(fields or {})
        self.headers: dict[str, str] = dict(headers or {})


class BuildError(AfterwordError):
    """Rendering or writing the static output failed."""


class PublishError(AfterwordError):
    """Uploading to a target or invalidating its CDN failed."""


class AfterCommandFailed(AfterwordError):
    """A target's ``after`` command failed or timed out; the publish before it still counts."""


class ImportFailed(AfterwordError):
    """An export file cannot be parsed or imported; nothing was written."""
