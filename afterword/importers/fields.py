"""Reading the damaged values real exports are full of: dates, mojibake, stray whitespace,
characters XML forbids.

Each helper either returns a clean value (and says when it had to guess) or raises
``BadValue`` with a reason short enough for the fidelity report.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from email.utils import parsedate_to_datetime
from functools import lru_cache

import ftfy
from ftfy.badness import is_bad
from ftfy.chardata import UTF8_DETECTOR_RE

from afterword.store.models import format_time
from afterword.text import strip_forbidden

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


_BLOCK = re.compile(r"<(p|div|ul|ol|pre|blockquote|table|h[1-6])[\s>]", re.IGNORECASE)


_MOJIBAKE_ONLY = ftfy.TextFixerConfig(
    restore_byte_a0=False, decode_inconsistent_utf8=False, replace_lossy_sequences=False
)


def repair_mojibake(text: str) -> tuple[str, bool]:
    """Undo UTF-8 that was decoded as cp1252/latin-1 and encoded again (``â€œ`` → ``“``).

    ftfy rather than a hand-made pattern: a pattern that repairs every run that *could* be
    double-encoded also "repairs" correct text — all-caps Turkish ``ÖZGÜ’NÜN`` holds ``Ü’``,
    the cp1252 spelling of the bytes of ``ܒ`` — while ftfy weighs how likely text is to be
    mojibake at all and leaves correct text alone. Only its encoding fixes run (no HTML
    unescaping, no quote or width changes), so markup and entities stay as exported.

    First the whole field, as ftfy judges it. If that changes nothing, runs inside otherwise
    correct text (a WordPress title whose ``&#233;`` was fine while the quotes were not) are
    repaired one by one, each only when ftfy finds it bad *and* it provably round-trips: the
    run's cp1252 bytes are exactly the UTF-8 of the repair. ftfy's guesses that rewrite correct
    text are off: a space taken for a lost U+00A0 (``Â is`` → ``\xa0is``), U+FFFD for what does
    not decode. One ambiguity is inherent: ``Ã”`` *is* the double encoding of ``Ô``.
    """
    if text.isascii():  # nothing to repair; most fields of most exports, skipped in C
        return text, False
    fixed = ftfy.fix_encoding(text, config=_MOJIBAKE_ONLY)
    if fixed == text:
        fixed = UTF8_DETECTOR_RE.sub(_repair_run, text)
    return fixed, fixed != text


def _repair_run(match: re.Match[str]) -> str:
    run = match.group(0)
    if not is_bad(run):
        return run
    fixed = ftfy.fix_encoding(run, config=_MOJIBAKE_ONLY)
    return fixed if _as_bytes(run) == fixed.encode("utf-8") else run


def _as_bytes(run: str) -> bytes | None:
    """The bytes a cp1252 reader saw (latin-1 for the five bytes cp1252 leaves undefined)."""
    out = bytearray()
    for char in run:
        try:
            out += char.encode("cp1252")
        except UnicodeEncodeError:
            if ord(char) > 0xFF:
                return None
            out.append(ord(char))
    return bytes(out)


def clean_text(value: object, notes: list[str] | None = None) -> str:
    """A text field: ``None`` → "", CRLF → LF, mojibake repaired (noted), the characters XML
    forbids removed (``afterword.text``, the intake's rule too), ends stripped."""
    if value is None:
        return ""
    text = str(value).replace("\r\n", "\n").replace("\r", "\n").strip()
    text, repaired = repair_mojibake(text)
    if repaired and notes is not None:
        notes.append(REPAIRED_MOJIBAKE)
    return strip_forbidden(text).strip()


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
