"""Avatars: none, a locally made identicon, or Gravatar (opt-in).

The identicon is derived from ``hash_email(secret, email)``: an HMAC with the per-site secret,
so the picture is stable for a person on this site but says nothing that could be looked up
elsewhere (a plain e-mail hash, as Gravatar uses, can be reversed with a list of addresses —
hence Gravatar only when the site owner chooses it). The SVG is inline, so no avatar ever
costs a request or tells a third party who reads what.
"""

from __future__ import annotations

import colorsys
import hashlib
from dataclasses import dataclass
from functools import lru_cache
from urllib.parse import quote

from markupsafe import Markup

from afterword.privacy import hash_email

AVATAR_SIZE = 40
_GRID = 5


@dataclass(frozen=True)
class Avatar:
    """``svg`` is inline markup for HTML; ``url`` is what JSON and feeds carry."""

    svg: Markup | None
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
    color, path = _identicon_shape(digest)
    svg = (
        f'<svg class="afterword-avatar" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 5 5" '
        f'width="{AVATAR_SIZE}" height="{AVATAR_SIZE}" aria-hidden="true" focusable="false">'
        f'<rect width="5" height="5" fill="#f0f0f0"/><path fill="{color}" d="{path}"/></svg>'
    )
    # The URL form (JSON, feeds) drops what only inline markup needs, and is not base64:
    # a few hundred bytes per comment add up in every thread file.
    small = (
        "<svg xmlns='http://www.w3.org/2000/svg' viewBox='0 0 5 5'>"
        f"<rect width='5' height='5' fill='#f0f0f0'/><path fill='{color}' d='{path}'/></svg>"
    )
    url = "data:image/svg+xml," + quote(small, safe="/:=',.")
    return Avatar(Markup(svg), url)


def _identicon_shape(digest: str) -> tuple[str, str]:
    """A 5×5 mirrored grid coloured from the hash: (fill colour, path data)."""
    raw = bytes.fromhex(digest)
    hue = int.from_bytes(raw[:2], "big") % 360
    red, green, blue = colorsys.hls_to_rgb(hue / 360, 0.5, 0.55)
    color = f"#{round(red * 255):02x}{round(green * 255):02x}{round(blue * 255):02x}"
    runs: list[str] = []
    for row in range(_GRID):
        filled = [False] * _GRID
        for col in range((_GRID + 1) // 2):
            if raw[2 + row * 3 + col] & 1:
                filled[col] = filled[_GRID - 1 - col] = True
        col = 0
        while col < _GRID:  # one rectangle per run of filled cells keeps the path short
            if not filled[col]:
                col += 1
                continue
            start = col
            while col < _GRID and filled[col]:
                col += 1
            runs.append(f"M{start},{row}h{col - start}v1h-{col - start}z")
    return color, "".join(runs)
