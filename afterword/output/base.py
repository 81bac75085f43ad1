"""What a target and a CDN must do, and the headers every object is served with.

A target only puts and deletes: it never lists what it holds, because the ``published`` table
is the truth (listing a bucket costs requests and time that grow with the site, which is what
made a no-change publish expensive). A CDN only submits invalidations and reports whether one
has completed. Both are created lazily and make no request until asked to.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

# Fragments: browsers revalidate after a minute; the CDN keeps them until invalidated.
FRAGMENT_CACHE = "public, max-age=60, s-maxage=31536000, stale-while-revalidate=86400"
# Hashed asset names never change content.
IMMUTABLE_CACHE = "public, max-age=31536000, immutable"
# Stable widget entry names (afterword.js): browsers check every five minutes; a CDN that is
# invalidated keeps them like fragments, one that is not gets the short shared lifetime.
SHORT_BROWSER_MAX_AGE = 300

TEXT_TYPES = ("application/json", "application/javascript", "application/xml", "image/svg+xml")


@dataclass(frozen=True)
class Upload:
    """One object to put: where its bytes are and the headers it is served with."""

    key: str
    path: Path
    sha256: str
    size: int
    content_type: str
    cache_control: str


class Target(Protocol):
    """Where the output goes: a folder, a bucket, … One module per kind in ``output/``."""

    name: str
    max_workers: int

    def put(self, upload: Upload, data: bytes) -> None:
        """Store ``data`` under ``upload.key`` with its headers; raise PublishError on failure."""

    def delete(self, key: str) -> None:
        """Remove ``key``; deleting a key that is already gone is not an error."""

    def probe(self) -> str:
        """Write and delete a probe object (``afterword doctor``); return what was checked."""

    def sweep(self, keys: Iterable[str], *, everywhere: bool, alone: bool) -> int:
        """Remove what a killed publish left near ``keys`` (everywhere: anywhere) and that no
        running one may still use (``alone``: none runs); return how many objects went."""

    def close(self) -> None:
        """Release connections."""


class Cdn(Protocol):
    """Something in front of a target that caches objects until told to forget them."""

    def url_paths(self, keys: list[str]) -> list[str]:
        """The request paths that serve ``keys`` (what the CDN needs to forget)."""

    def wildcard(self) -> str:
        """One path that covers everything the target holds."""

    def submit(self, paths: list[str]) -> tuple[str, bool]:
        """Start forgetting ``paths``; returns (reference, already completed)."""

    def is_complete(self, reference: str) -> bool:
        """Whether the invalidation ``reference`` has completed."""

    def probe(self) -> str:
        """Check access without changing anything (``afterword doctor``)."""


def cache_control(cache_class: str, *, invalidated: bool, shared_max_age: int) -> str:
    """The Cache-Control header for a manifest cache class (see docs/publishing.md)."""
    if cache_class == "immutable":
        return IMMUTABLE_CACHE
    if cache_class == "short":
        if invalidated:
            return f"public, max-age={SHORT_BROWSER_MAX_AGE}, s-maxage=31536000"
        return f"public, max-age={SHORT_BROWSER_MAX_AGE}"
    if invalidated:
        return FRAGMENT_CACHE
    return f"public, max-age=60, s-maxage={shared_max_age}, stale-while-revalidate=86400"


def with_charset(content_type: str) -> str:
    """Text types always say they are UTF-8, so no browser has to guess."""
    main = content_type.split(";", 1)[0].strip().lower()
    is_text = main.startswith("text/") or main in TEXT_TYPES or main.endswith(("+json", "+xml"))
    if is_text and "charset=" not in content_type.lower():
        return f"{content_type}; charset=utf-8"
    return content_type
