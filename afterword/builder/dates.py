"""Comment dates as readers read them: localized text and a full date-and-time for the title.

The fragments carry ``<time class="afterword-time" datetime="<ISO>" title="<long>">
<short></time>``. The text is what a reader without JavaScript sees (the widget may replace
it with a relative "3 days ago"); the title keeps the absolute date and time on hover.
Formats come from the template strings (``date_format``, ``date_title_format`` in
``afterword/locales/<lang>.json``, overridable like any string): a CLDR pattern such as
``d. MMMM y`` or one of Babel's named styles (``short``, ``medium``, ``long``, ``full``).
Babel holds the month names and orderings of every language, so a site in a language we
ship no strings for still gets its own month names.

Times are shown in UTC (the store's clock), and the title says so.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from functools import lru_cache

import jinja2
from babel import Locale, UnknownLocaleError
from babel.dates import format_date, format_datetime

from afterword.errors import BuildError

__all__ = ["DateText", "install_date_filters"]


def _locale(language: str) -> Locale:
    """The site's language as Babel knows it; English for a tag Babel cannot read."""
    try:
        return Locale.parse(language.replace("-", "_"))
    except (ValueError, UnknownLocaleError):
        return Locale.parse("en")


def _parse(created: str) -> datetime:
    """The store's timestamps (``2026-03-01T10:00:00.000000Z``) as an aware datetime."""
    when = datetime.fromisoformat(created.replace("Z", "+00:00"))
    return when if when.tzinfo else when.replace(tzinfo=UTC)


class DateText:
    """Formats one build's dates; each distinct timestamp is formatted once."""

    def __init__(self, language: str, text_format: str, title_format: str) -> None:
        self.locale = _locale(language)
        self.text_format = text_format
        self.title_format = title_format
        self.text = lru_cache(maxsize=4096)(self._text)
        self.title = lru_cache(maxsize=4096)(self._title)
        for key, probe in (("date_format", self._text), ("date_title_format", self._title)):
            _check(key, probe)

    def _text(self, created: str) -> str:
        if not created:
            return ""
        return format_date(_parse(created), self.text_format, locale=self.locale)

    def _title(self, created: str) -> str:
        if not created:
            return ""
        return format_datetime(_parse(created), self.title_format, tzinfo=UTC, locale=self.locale)


def _check(key: str, probe: Callable[[str], str]) -> None:
    """A bad pattern in a user's locale file stops the build naming the string, before any
    page is written with an empty or broken date."""
    try:
        text = probe("2000-01-01T00:00:00Z")
    except (ValueError, TypeError, KeyError, AttributeError) as exc:
        raise BuildError(f"{key} is not a date pattern Babel can use: {exc}") from None
    if not text.strip():
        raise BuildError(f"{key} makes no text (an empty pattern?)")


def install_date_filters(env: jinja2.Environment, language: str, strings: dict[str, str]) -> None:
    """``{{ c.created|date_text }}`` and ``{{ c.created|date_title }}`` for every template,
    including imported macros (filters belong to the environment, not to a context)."""
    dates = DateText(language, strings["date_format"], strings["date_title_format"])
    env.filters["date_text"] = dates.text
    env.filters["date_title"] = dates.title
