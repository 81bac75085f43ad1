"""Comment dates as readers read them: localized text and a full date-and-time for the title.

The fragments carry ``<time datetime="<ISO to the second>"><short></time>``. The text is
what a reader without JavaScript sees (the widget replaces it with a relative "3 days ago"
and puts the absolute date and time in its title); ``date_title`` makes such a title at
build time where a template wants one (the "edited" mark, whose text is not a date).
Formats come from the template strings (``date_format``, ``date_title_format`` in
``afterword/locales/<lang>.json``, overridable like any string): a CLDR pattern such as
``d. MMMM y`` or one of Babel's named styles (``short``, ``medium``, ``long``, ``full``).
Babel holds the month names and orderings of every language, so a site in a language we
ship no strings for still gets its own month names.

Times are shown in UTC (the store's clock), to the minute, and the title says so.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime
from functools import lru_cache
from typing import Literal

import jinja2
from babel import Locale, UnknownLocaleError
from babel.dates import (
    get_date_format,
    get_datetime_format,
    get_time_format,
    parse_pattern,
    tokenize_pattern,
)

from afterword.errors import BuildError

__all__ = ["DateText", "date_iso", "install_date_filters"]

Style = Literal["short", "medium", "long", "full"]
STYLES: dict[str, Style] = {"short": "short", "medium": "medium", "long": "long", "full": "full"}
# Pattern letters by what they need (CLDR): the time of day, and seconds or finer.
TIME_FIELDS = frozenset("ahHkKmsSAzZvVOxXbB")
SECOND_FIELDS = frozenset("sSA")
Format = Callable[[str], str]


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


def _fields(pattern: str) -> set[str]:
    return {value[0] for kind, value in tokenize_pattern(pattern) if kind == "field"}


def _pattern(pattern: str, locale: Locale) -> Format:
    """One CLDR pattern, cached by what it shows: a date-only pattern formats each day once,
    a pattern with the time each minute (or second) of the day once. A full build formats
    hundreds of thousands of comments, and Babel takes 10-30 µs a call."""
    compiled = parse_pattern(pattern)
    fields = _fields(pattern)
    if fields & SECOND_FIELDS:
        key: Callable[[str], str] = lambda created: created[:19]  # noqa: E731
    elif fields & TIME_FIELDS:
        key = lambda created: created[:16]  # noqa: E731
    else:
        key = lambda created: created[:10]  # noqa: E731

    @lru_cache(maxsize=8192)
    def by_key(part: str) -> str:
        return str(compiled.apply(_parse(part + "Z" if len(part) > 10 else part), locale))

    return lambda created: by_key(key(created)) if created else ""


def _style(style: Style, locale: Locale, with_time: bool) -> Format:
    """A named style, split as Babel's format_datetime joins it ("{1}, {0}"): the date part
    cached by day and the time of day, without seconds, cached by minute."""
    date = _pattern(get_date_format(style, locale).pattern, locale)
    if not with_time:
        return date
    time_pattern = re.sub(r"[:.]ss\b", "", get_time_format(style, locale).pattern)
    time_of_day = _pattern(time_pattern, locale)
    joined = str(get_datetime_format(style, locale)).replace("'", "")

    def both(created: str) -> str:
        if not created:
            return ""
        # The time depends only on the time of day (always UTC): one day stands for all.
        clock = time_of_day("2000-01-01" + created[10:])
        return joined.replace("{0}", clock).replace("{1}", date(created))

    return both


def _format(key: str, pattern: str, locale: Locale, with_time: bool) -> Format:
    """A pattern Babel cannot use stops the build naming the string, before any page is
    written with an empty or broken date."""
    try:
        style = STYLES.get(pattern)
        made = _pattern(pattern, locale) if style is None else _style(style, locale, with_time)
        text = made("2000-01-01T00:00:00.000000Z")
    except (ValueError, TypeError, KeyError, AttributeError) as exc:
        raise BuildError(f"{key} is not a date pattern Babel can use: {exc}") from None
    if not text.strip():
        raise BuildError(f"{key} makes no text (an empty pattern?)")
    return made


class DateText:
    """One build's date formats: ``text`` for the element, ``title`` for its title."""

    def __init__(self, language: str, text_format: str, title_format: str) -> None:
        locale = _locale(language)
        self.text = _format("date_format", text_format, locale, with_time=False)
        self.title = _format("date_title_format", title_format, locale, with_time=True)


@lru_cache(maxsize=4096)
def date_iso(created: str) -> str:
    """``datetime`` for ``<time>``: UTC to the second (``2026-03-01T10:00:00Z``). The store's
    microseconds would cost 7 bytes a comment in every fragment and no reader sees them."""
    return _parse(created).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def install_date_filters(env: jinja2.Environment, language: str, strings: dict[str, str]) -> None:
    """``{{ c.created|date_text }}``, ``|date_title`` and ``|date_iso`` for every template,
    including imported macros (filters belong to the environment, not to a context)."""
    dates = DateText(language, strings["date_format"], strings["date_title_format"])
    env.filters["date_text"] = dates.text
    env.filters["date_title"] = dates.title
    env.filters["date_iso"] = date_iso
