"""Text a stranger typed, made safe to store and publish: one rule for intake and importers.

Two questions, answered once for every stage:

* Which characters may never be published? Those XML 1.0 forbids — C0 controls other than
  TAB, LF and CR, and the surrogate code points (which also cannot be encoded as UTF-8) — and
  the Unicode noncharacters (U+FDD0–U+FDEF and the last two code points of every plane,
  U+FFFE/U+FFFF … U+10FFFE/U+10FFFF), which XML discourages and which feed readers reject.
  One such character in one comment would make the site's Atom feed unparseable for everyone,
  so ``strip_forbidden`` removes them; the intake, every importer and the feed writer call it.
* Does a name show anything? A name made only of spaces, format characters (zero-width
  space, word joiner, BOM), default-ignorable fillers (HANGUL FILLER) or combining marks with
  nothing to combine with publishes as nothing — an anonymous comment that looks signed.
  ``is_invisible`` says so; the intake refuses such a name, importers store ``ANONYMOUS``
  instead, and the builder shows ``ANONYMOUS`` for one already in the store.
"""

from __future__ import annotations

import re
import unicodedata

__all__ = ["ANONYMOUS", "FORBIDDEN_IN_PAGE", "has_forbidden", "is_invisible", "strip_forbidden"]

# The name shown for a comment whose name shows nothing (the same word erasure uses).
ANONYMOUS = "Anonymous"

# Page keys are identifiers, so they are refused rather than stripped (same words everywhere).
FORBIDDEN_IN_PAGE = "page URL contains a character XML forbids (a noncharacter such as U+FFFE)"

_NONCHARACTERS = "".join(
    f"{chr(plane * 0x10000 + 0xFFFE)}{chr(plane * 0x10000 + 0xFFFF)}" for plane in range(17)
)
_FORBIDDEN = re.compile(
    "[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufdd0-\ufdef" + re.escape(_NONCHARACTERS) + "]+"
)

# Unicode's Default_Ignorable_Code_Point property (DerivedCoreProperties.txt): characters a
# renderer shows as nothing at all. Python's unicodedata does not expose it, and most of these
# are Cf (format), but the Hangul fillers are letters (Lo) and U+034F/U+17B4 are marks.
_DEFAULT_IGNORABLE = (
    (0x00AD, 0x00AD), (0x034F, 0x034F), (0x061C, 0x061C), (0x115F, 0x1160),
    (0x17B4, 0x17B5), (0x180B, 0x180F), (0x200B, 0x200F), (0x202A, 0x202E),
    (0x2060, 0x206F), (0x3164, 0x3164), (0xFE00, 0xFE0F), (0xFEFF, 0xFEFF),
    (0xFFA0, 0xFFA0), (0xFFF0, 0xFFF8), (0x1BCA0, 0x1BCA3), (0x1D173, 0x1D17A),
    (0xE0000, 0xE0FFF),
)  # fmt: skip
# Drawn as blank although they are ordinary symbols; a favourite for "invisible" names.
_BLANK_SYMBOLS = frozenset({"\u2800"})  # BRAILLE PATTERN BLANK
# Controls, format characters, surrogates, separators (all spaces), and marks: none of them
# is something a reader can see on its own. Private-use (Co) and unassigned (Cn) characters
# count as visible — a font may draw them, and a newer Unicode may have assigned them.
_UNSEEN_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Zs", "Zl", "Zp", "Mn", "Mc", "Me"})
# Printable ASCII other than space: most names hold one, and then nothing else needs looking at.
_PLAIN_VISIBLE = re.compile("[!-~]")


def has_forbidden(text: str) -> bool:
    """Whether ``text`` holds a character that ``strip_forbidden`` would remove."""
    return _FORBIDDEN.search(text) is not None


def strip_forbidden(text: str) -> str:
    """``text`` without the characters XML forbids, lone surrogates and noncharacters.

    TAB, LF and CR stay (they are legal XML; callers decide about line breaks). Cheap when there
    is nothing to remove, which is nearly always: one regex scan in C.
    """
    if _FORBIDDEN.search(text) is None:
        return text
    return _FORBIDDEN.sub("", text)


def _is_unseen(char: str) -> bool:
    if char in _BLANK_SYMBOLS or unicodedata.category(char) in _UNSEEN_CATEGORIES:
        return True
    point = ord(char)
    return any(low <= point <= high for low, high in _DEFAULT_IGNORABLE)


def is_invisible(text: str) -> bool:
    """True when no character of ``text`` would show: empty, blank, zero-width, fillers, marks.

    A name like "Zoë" or "👍" is visible; "\\u200b", "\\u3164", "\\u2800" or a lone combining
    acute accent is not. A visible character anywhere makes the whole text visible.
    """
    if _PLAIN_VISIBLE.search(text) is not None:
        return False
    return all(_is_unseen(char) for char in text)
