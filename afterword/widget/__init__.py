"""The browser widget's files, handed to the builder as plain bytes.

The builder knows nothing of JavaScript: it asks ``widget_assets()`` for what to publish and
``widget_strings(language)`` for the strings to embed in each thread fragment.

The widget loads in up to three steps (docs/embedding.md): ``afterword.js``, the reader core,
finds threads, renders them and fills count badges; ``afterword-form.js``, the form module
(posting, replies, pending receipts, relative dates, identicons), follows when the browser is
idle or at the first focus of a form; ``afterword-edit.js``, Edit and Delete of one's own
comment, is fetched by the form module only on a page where this browser holds a receipt whose
capability is still live, so readers who never post never download it.

Publishing scheme:

- ``afterword.<hash>.js``, ``afterword-form.<hash>.js``, ``afterword-edit.<hash>.js``,
  ``afterword.<hash>.css``: immutable copies, cached for a year.
- ``afterword.js`` / ``afterword.css``: the core and stylesheet again under stable names with
  a short cache lifetime, so an embed snippet written once keeps working across releases. The
  stable script is the whole core (not a loader that fetches the hashed one): a loader would
  add a round trip to every first view, which costs more than the short cache lifetime saves.
- Each script loads its siblings by their *hashed* names (the literals ``"afterword.css"`` and
  ``"afterword-form.js"`` in the core, ``"afterword-edit.js"`` in the form module are
  rewritten here), so the files always match. The order matters: the edit module is hashed
  first, then the form module that names it, then the core that names the form module, so
  every hash covers the names it points to.

The scripts published are the minified output (esbuild, then terser) of the readable
sources in this folder, committed in ``dist/`` by ``scripts/build_widget.py`` (a test fails
when they are stale), so neither installing nor building needs Node. The CSS is published
with indentation, blank lines and whole-line comments dropped.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from functools import cache
from importlib import resources

__all__ = ["LANGUAGES", "Asset", "compact_source", "widget_assets", "widget_strings"]

LANGUAGES = ("en", "de", "fr", "es", "zh")
JS_TYPE = "text/javascript; charset=utf-8"
CSS_TYPE = "text/css; charset=utf-8"
CSS_REFERENCE = b'"afterword.css"'
FORM_REFERENCE = b'"afterword-form.js"'
EDIT_REFERENCE = b'"afterword-edit.js"'


@dataclass(frozen=True)
class Asset:
    """One published file: its key under the output root, bytes, type and cache class."""

    key: str
    data: bytes
    content_type: str
    cache_class: str  # "immutable" (hashed name) or "short" (stable entry point)


def compact_source(text: str) -> str:
    """Drop indentation, blank lines and whole-line ``//`` comments (used for the CSS).

    Only safe for sources whose lines never start inside a string or block comment;
    ``tests/test_widget_assets.py`` asserts that of ``afterword.css``.
    """
    lines = (line.strip() for line in text.splitlines())
    return "\n".join(line for line in lines if line and not line.startswith("//")) + "\n"


def hashed_name(name: str, data: bytes) -> str:
    """``afterword.js`` → ``afterword.<12 hex of sha256>.js``."""
    stem, ext = name.rsplit(".", 1)
    return f"{stem}.{hashlib.sha256(data).hexdigest()[:12]}.{ext}"


def _point(script: bytes, literal: bytes, key: str) -> bytes:
    """Rewrite the one string literal naming a sibling file to that file's hashed key."""
    if script.count(literal) != 1:
        raise RuntimeError(f"widget script must name {literal.decode()} exactly once")
    return script.replace(literal, f'"{key}"'.encode("ascii"))


@cache
def widget_assets() -> tuple[Asset, ...]:
    """Hashed, immutable copies plus stable entry names for the embed snippet."""
    folder = resources.files(__package__)
    dist = folder.joinpath("dist")
    css = compact_source(folder.joinpath("afterword.css").read_text("utf-8")).encode("utf-8")
    css_key = hashed_name("afterword.css", css)
    edit = dist.joinpath("afterword-edit.min.js").read_bytes()
    edit_key = hashed_name("afterword-edit.js", edit)
    form = _point(dist.joinpath("afterword-form.min.js").read_bytes(), EDIT_REFERENCE, edit_key)
    form_key = hashed_name("afterword-form.js", form)
    core = dist.joinpath("afterword.min.js").read_bytes()
    core = _point(_point(core, CSS_REFERENCE, css_key), FORM_REFERENCE, form_key)
    core_key = hashed_name("afterword.js", core)
    return (
        Asset(core_key, core, JS_TYPE, "immutable"),
        Asset("afterword.js", core, JS_TYPE, "short"),
        Asset(form_key, form, JS_TYPE, "immutable"),
        Asset(edit_key, edit, JS_TYPE, "immutable"),
        Asset(css_key, css, CSS_TYPE, "immutable"),
        Asset("afterword.css", css, CSS_TYPE, "short"),
    )


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
