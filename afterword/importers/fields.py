"""Reading the damaged values real exports are full of: dates, mojibake, stray whitespace.

Each helper either returns a clean value (and says when it had to guess) or raises
``BadValue`` with a reason short enough for the fidelity report.
"""

from __future__ import annotations

import contextlib
import re
from datetime import UTC, date, datetime
from email.utils import parsedate_to_datetime
from functools import lru_cache

from afterword.store.models import format_time

ASSUMED_UTC = "date without time zone, assumed UTC"
REPAIRED_MOJIBAKE = "double-encoded UTF-8 repaired"


class BadValue(ValueError):
    """A field that cannot be read; the message is the reason shown in the report."""


def parse_date(value: object) -> tuple[str, bool]:
    """Return (afterword timestamp, assumed_utc) for the date shapes exports use.

    Accepts ISO 8601 with or without zone, ``YYYY-MM-DD HH:MM:SS``, RFC 2822, Unix seconds and
    the ``datetime``/``date`` objects YAML produces. A zone-less date is taken as UTC and the
    caller is told, because guessing silently would shift a whole archive by hours unnoticed.
    """
    if isinstance(value, datetime):
        return _finish(value)
    if isinstance(value, date):
        return _finish(datetime(value.year, value.month, value.day))
    if isinstance(value, int | float) and not isinstance(value, bool):
        return _from_timestamp(float(value))
    if not isinstance(value, str) or not value.strip():
        raise BadValue("missing date")
    text = value.strip()
    if re.fullmatch(r"\d{9,10}(\.\d+)?", text):
        return _from_timestamp(float(text))
    moment = _parse_text(text)
    if moment is None or moment.year < 1970:
        raise BadValue(f"bad date {text[:40]!r}")
    return _finish(moment)


def _parse_text(text: str) -> datetime | None:
    """ISO 8601 (what most exports use), else RFC 2822 (RSS dates)."""
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        pass
    try:
        return parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None


def _from_timestamp(seconds: float) -> tuple[str, bool]:
    try:
        return format_time(datetime.fromtimestamp(seconds, UTC)), False
    except (OverflowError, OSError, ValueError):
        raise BadValue(f"bad date {seconds!r}") from None


def _finish(moment: datetime) -> tuple[str, bool]:
    if moment.year < 1970:
        raise BadValue(f"bad date {moment.isoformat()!r}")
    if moment.tzinfo is None:
        return format_time(moment.replace(tzinfo=UTC)), True
    return format_time(moment), False


def _continuation_chars() -> str:
    """Characters that stand for bytes 0x80-0xBF once UTF-8 was misread as cp1252 or latin-1."""
    chars = set()
    for byte in range(0x80, 0xC0):
        chars.add(chr(byte))
        with contextlib.suppress(UnicodeDecodeError):
            chars.add(bytes([byte]).decode("cp1252"))
    return "".join(sorted(chars))


_CONT = "[" + re.escape(_continuation_chars()) + "]"
_BLOCK = re.compile(r"<(p|div|ul|ol|pre|blockquote|table|h[1-6])[\s>]", re.IGNORECASE)
_MOJIBAKE = re.compile(
    f"[\u00c2-\u00df]{_CONT}|[\u00e0-\u00ef]{_CONT}{{2}}|[\u00f0-\u00f4]{_CONT}{{3}}"
)


def _as_byte(char: str) -> bytes:
    try:
        return char.encode("cp1252")
    except UnicodeEncodeError:
        return bytes([ord(char)])


def _repair(match: re.Match[str]) -> str:
    run = match.group(0)
    try:
        return b"".join(_as_byte(c) for c in run).decode("utf-8")
    except UnicodeDecodeError:
        return run


def repair_mojibake(text: str) -> tuple[str, bool]:
    """Undo UTF-8 that was decoded as cp1252/latin-1 and encoded again (``â€œ`` → ``“``).

    Only runs that form a valid UTF-8 sequence when mapped back to bytes are touched, so
    correctly encoded accented text is left alone. A targeted fix instead of a dependency
    (ftfy): the damage in real exports is this one kind.
    """
    if not _MOJIBAKE.search(text):
        return text, False
    fixed = _MOJIBAKE.sub(_repair, text)
    return fixed, fixed != text


def clean_text(value: object, notes: list[str] | None = None) -> str:
    """A text field: ``None`` → "", CRLF → LF, mojibake repaired (noted), ends stripped."""
    if value is None:
        return ""
    text = str(value).replace("\r\n", "\n").replace("\r", "\n").strip()
    text, repaired = repair_mojibake(text)
    if repaired and notes is not None:
        notes.append(REPAIRED_MOJIBAKE)
    return text


@lru_cache(maxsize=4096)
def local_name(tag: object) -> str:
    """``{namespace}name`` → ``name``: export namespaces change between versions.

    Cached: it runs for every element of exports with millions of them, over a few dozen tags.
    """
    text = tag if isinstance(tag, str) else ""
    return text.rsplit("}", 1)[-1]


def autop(text: str) -> str:
    """Blank lines → paragraphs, single newlines → ``<br>``, unless it already has blocks.

    This is how WordPress shows comment text (``wpautop``); applied when rendering, so the
    stored body stays exactly what the commenter wrote.
    """
    if not text or _BLOCK.search(text):
        return text
    paragraphs = [p.strip() for p in re.split(r"\n\s*\n", text) if p.strip()]
    return "".join(f"<p>{p.replace(chr(10), '<br>' + chr(10))}</p>" for p in paragraphs)
