"""The browser widget's files, handed to the builder as plain bytes.

The builder knows nothing of JavaScript: it asks ``widget_assets()`` for what to publish and
``widget_strings(language)`` for the strings to embed in each thread fragment.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from importlib import resources


@dataclass(frozen=True)
class Asset:
    """One published file: its key under the output root, bytes, type and cache class."""

    key: str
    data: bytes
    content_type: str
    cache_class: str  # "immutable" (hashed name) or "short" (stable entry point)


def widget_assets() -> list[Asset]:
    """Hashed, immutable copies plus stable entry names for the embed snippet."""
    assets: list[Asset] = []
    for name, content_type in (
        ("afterword.js", "text/javascript; charset=utf-8"),
        ("afterword.css", "text/css; charset=utf-8"),
    ):
        data = resources.files(__package__).joinpath(name).read_bytes()
        stem, ext = name.rsplit(".", 1)
        digest = hashlib.sha256(data).hexdigest()[:12]
        assets.append(Asset(f"{stem}.{digest}.{ext}", data, content_type, "immutable"))
        assets.append(Asset(name, data, content_type, "short"))
    return assets


def widget_strings(language: str) -> dict[str, str]:
    """The widget's user-facing strings in ``language`` (English for unknown languages)."""
    folder = resources.files(__package__).joinpath("locales")
    english: dict[str, str] = json.loads(folder.joinpath("en.json").read_text("utf-8"))
    chosen = folder.joinpath(f"{language}.json")
    if language == "en" or not chosen.is_file():
        return english
    return {**english, **json.loads(chosen.read_text("utf-8"))}
