"""The browser widget's files, handed to the builder as plain bytes.

The builder knows nothing of JavaScript: it asks ``widget_assets()`` for what to publish and
``widget_strings(language)`` for the strings to embed in each thread fragment.

Publishing scheme (documented in docs/embedding.md):

- ``afterword.<hash>.js`` / ``afterword.<hash>.css``: immutable copies, cached for a year.
- ``afterword.js`` / ``afterword.css``: the same bytes under stable names with a short cache
  lifetime, so an embed snippet written once keeps working across releases. The stable script
  is the whole widget (not a loader that fetches the hashed one): a loader would add a round
  trip to every first view, which costs more than the short cache lifetime saves.
- The script loads its stylesheet by the *hashed* name (the literal ``"afterword.css"`` in the
  source is rewritten here), so the stylesheet is always the one that matches the script.

The published script is the source with indentation and whole-line ``//`` comments removed:
a line-level transform that cannot change meaning because the source never continues a string
or template literal over a line break (``tests/test_widget_assets.py`` checks both). The
source in this folder works unchanged too: no build step is needed to use or hack on it.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from importlib import resources

__all__ = ["LANGUAGES", "Asset", "compact_source", "widget_assets", "widget_strings"]

LANGUAGES = ("en", "de", "fr", "es", "zh")
JS_TYPE = "text/javascript; charset=utf-8"
CSS_TYPE = "text/css; charset=utf-8"
CSS_REFERENCE = b'"afterword.css"'


@dataclass(frozen=True)
class Asset:
    """One published file: its key under the output root, bytes, type and cache class."""

    key: str
    data: bytes
    content_type: str
    cache_class: str  # "immutable" (hashed name) or "short" (stable entry point)


def compact_source(text: str) -> str:
    """Drop indentation, blank lines and whole-line ``//`` comments (JS and CSS alike).

    Only safe for sources whose lines never start inside a string, template literal or
    block comment; the widget's tests assert that of ``afterword.js`` and ``afterword.css``.
    """
    lines = (line.strip() for line in text.splitlines())
    return "\n".join(line for line in lines if line and not line.startswith("//")) + "\n"


def hashed_name(name: str, data: bytes) -> str:
    """``afterword.js`` → ``afterword.<12 hex of sha256>.js``."""
    stem, ext = name.rsplit(".", 1)
    return f"{stem}.{hashlib.sha256(data).hexdigest()[:12]}.{ext}"


def widget_assets() -> list[Asset]:
    """Hashed, immutable copies plus stable entry names for the embed snippet."""
    folder = resources.files(__package__)
    css = compact_source(folder.joinpath("afterword.css").read_text("utf-8")).encode("utf-8")
    css_key = hashed_name("afterword.css", css)
    js_text = compact_source(folder.joinpath("afterword.js").read_text("utf-8"))
    js = js_text.encode("utf-8").replace(CSS_REFERENCE, f'"{css_key}"'.encode("ascii"))
    js_key = hashed_name("afterword.js", js)
    return [
        Asset(js_key, js, JS_TYPE, "immutable"),
        Asset("afterword.js", js, JS_TYPE, "short"),
        Asset(css_key, css, CSS_TYPE, "immutable"),
        Asset("afterword.css", css, CSS_TYPE, "short"),
    ]


def widget_strings(language: str) -> dict[str, str]:
    """The widget's and templates' strings in ``language`` (English for unknown languages).

    A locale file may leave keys out; English fills the gaps, so adding a string never
    breaks a translation that has not caught up yet.
    """
    folder = resources.files(__package__).joinpath("locales")
    english: dict[str, str] = json.loads(folder.joinpath("en.json").read_text("utf-8"))
    chosen = language.lower().replace("_", "-").split("-")[0]
    if chosen == "en" or chosen not in LANGUAGES:
        return english
    return {**english, **json.loads(folder.joinpath(f"{chosen}.json").read_text("utf-8"))}
