"""Avatars: none, a locally made identicon, or Gravatar (opt-in).

The identicon is derived from ``hash_email(secret, email)``: an HMAC with the per-site secret,
so the picture is stable for a person on this site but says nothing that could be looked up
elsewhere (a plain e-mail hash, as Gravatar uses, can be reversed with a list of addresses —
hence Gravatar only when the site owner chooses it). No avatar ever costs a request or tells
a third party who reads what.

In HTML fragments an identicon is only its seed, ``data-identicon="<rgb hex><cell bits>"``
(6 + 4 hex digits) on the commenter's name: 27 bytes instead of ~450 for inline SVG (the
widget still reads the older ``<rgb>-<bits>`` form on its own span). The widget draws the
same picture from it
(``identicon()`` in afterword/widget/afterword-form.js) as SVG attributes, never inline
styles, so a page with a strict Content-Security-Policy shows it too. JSON and feeds carry the
picture itself as a ``data:`` URL.
"""

from __future__ import annotations

import colorsys
import hashlib
from dataclasses import dataclass
from functools import lru_cache
from urllib.parse import quote

from afterword.privacy import hash_email

AVATAR_SIZE = 40
_GRID = 5


@dataclass(frozen=True)
class Avatar:
    """``seed``: what HTML carries for the widget to draw; ``url``: what JSON and feeds carry."""

    seed: str | None
    url: str | None


NO_AVATAR = Avatar(None, None)


class AvatarMaker:
    """One per build: the style and secret are fixed, results are memoized per person."""

    def __init__(self, style: str, secret: bytes) -> None:
        self.style = style
        self.secret = secret
        self._made: dict[str, Avatar] = {}

    def make(self, key: str) -> Avatar:
        found = self._made.get(key)
        if found is None:
            if len(self._made) > 65536:
                self._made.clear()
            found = self._made[key] = self._make(key)
        return found

    def _make(self, key: str) -> Avatar:
        if self.style == "none" or not key:
            return NO_AVATAR
        if self.style == "gravatar" and not key.startswith("name:"):
            return _gravatar(key)
        return _identicon(hash_email(self.secret, key))


def _gravatar(email: str) -> Avatar:
    digest = hashlib.md5(email.strip().lower().encode(), usedforsecurity=False).hexdigest()
    url = f"https://www.gravatar.com/avatar/{digest}?s={AVATAR_SIZE * 2}&d=identicon"
    return Avatar(None, url)


@lru_cache(maxsize=8192)
def _identicon(digest: str) -> Avatar:
    hue, cells = _identicon_seed(digest)
    color = _identicon_color(hue)
    path = _identicon_path(cells)
    # The URL form (JSON, feeds) is not base64: a few hundred bytes per comment add up.
    small = (
        "<svg xmlns='http://www.w3.org/2000/svg' viewBox='0 0 5 5'>"
        f"<rect width='5' height='5' fill='#f0f0f0'/><path fill='{color}' d='{path}'/></svg>"
    )
    url = "data:image/svg+xml," + quote(small, safe="/:=',.")
    return Avatar(f"{color[1:]}{cells:04x}", url)


def _identicon_seed(digest: str) -> tuple[int, int]:
    """(hue 0-359, 15 cell bits): bit ``row * 3 + col`` fills column ``col`` and its mirror."""
    raw = bytes.fromhex(digest)
    hue = int.from_bytes(raw[:2], "big") % 360
    cells = 0
    for cell in range(_GRID * 3):
        cells |= (raw[2 + cell] & 1) << cell
    return hue, cells


def _identicon_color(hue: int) -> str:
    """The fill: the hue at 50 % lightness, 55 % saturation, as ``#rrggbb``."""
    red, green, blue = colorsys.hls_to_rgb(hue / 360, 0.5, 0.55)
    return f"#{round(red * 255):02x}{round(green * 255):02x}{round(blue * 255):02x}"


def _identicon_path(cells: int) -> str:
    """A 5×5 mirrored grid as path data, one rectangle per run of filled cells in a row."""
    runs: list[str] = []
    for row in range(_GRID):
        filled = [bool(cells >> (row * 3 + min(col, _GRID - 1 - col)) & 1) for col in range(_GRID)]
        col = 0
        while col < _GRID:
            if not filled[col]:
                col += 1
                continue
            start = col
            while col < _GRID and filled[col]:
                col += 1
            runs.append(f"M{start},{row}h{col - start}v1h-{col - start}z")
    return "".join(runs)
