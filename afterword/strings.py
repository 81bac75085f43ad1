"""The words afterword shows people: built-in locale strings and the site owner's overrides.

Every stage that writes text for a person reads them here — the builder (fragments, feeds),
the notifications (mails) and the intake (the pages behind moderation links) — so no stage
reaches into another for them. Only the standard library: the intake, a Lambda among them,
must not import the builder or Babel to say "Approve" in German. Date formatting, which needs
Babel's calendars, stays in ``builder/dates.py``.

Strings come from ``afterword/locales/<lang>.json`` (English first, so a key missing from a
translation still reads), then, key by key, from the owner's
``<build.templates_dir>/locales/<lang>.json``. A broken override is a ``ConfigError``: it is
a file the configuration points at, and it stops a build, a sender or an intake alike.
"""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path

from afterword.errors import ConfigError

LANGUAGES = ("en", "de", "fr", "es", "zh")


def load_strings(language: str, templates_dir: str) -> dict[str, str]:
    """English, then the built-in ``language``, then the user's ``locales/<language>.json``.

    Every string can be overridden without touching a template: drop a JSON file with just
    the keys to change into ``<templates_dir>/locales/``.
    """
    strings = builtin_strings("en")
    if language in LANGUAGES and language != "en":
        strings.update(builtin_strings(language))
    user = _user_file(language, templates_dir)
    if user is not None:
        strings.update(_read_user_strings(user))
    return strings


def strings_language(language: str, templates_dir: str) -> str:
    """The language ``load_strings`` answers in: the setting when it is built in or the owner
    supplied its strings, else English (a page's ``lang`` must name the words it shows)."""
    if language in LANGUAGES or _user_file(language, templates_dir) is not None:
        return language
    return "en"


def builtin_strings(language: str) -> dict[str, str]:
    """One built-in locale file exactly as shipped (no fallback): ``language`` must be one of
    ``LANGUAGES``."""
    folder = resources.files("afterword").joinpath("locales")
    data: dict[str, str] = json.loads(folder.joinpath(f"{language}.json").read_text("utf-8"))
    return data


def fill(text: str, **values: str) -> str:
    """Substitute ``{name}`` placeholders literally (user text is never a format string)."""
    for name, value in values.items():
        text = text.replace("{" + name + "}", value)
    return text


def _user_file(language: str, templates_dir: str) -> Path | None:
    if not templates_dir:
        return None
    path = Path(templates_dir) / "locales" / f"{language}.json"
    return path if path.is_file() else None


def _read_user_strings(path: Path) -> dict[str, str]:
    try:
        data = json.loads(path.read_text("utf-8"))
    except (OSError, ValueError) as exc:
        raise ConfigError(f"{path}: not a readable JSON file: {exc}") from None
    if not isinstance(data, dict) or not all(isinstance(v, str) for v in data.values()):
        raise ConfigError(f"{path}: must be a JSON object of strings")
    return {str(k): v for k, v in data.items()}
