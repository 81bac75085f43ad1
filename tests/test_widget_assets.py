"""The widget's published files: size budgets, minified output, hashing scheme, strings."""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import re
import subprocess
import sys
from importlib import resources
from pathlib import Path

import pytest

from afterword.widget import LANGUAGES, compact_source, widget_assets, widget_strings

# Issue 13's budgets on the shipped bytes, gzipped (KB = 1024 B).
CORE_BUDGET = 2560
FORM_BUDGET = 4096
CSS_BUDGET = 2560
# Edit and Delete, the third step: fetched only by a visitor who may still change a comment
# of theirs on the page, so it is kept apart from the form module's budget.
EDIT_BUDGET = 2048
WIDGET = resources.files("afterword.widget")
ROOT = Path(__file__).resolve().parent.parent
SOURCES = ("afterword.js", "afterword-form.js", "afterword-edit.js")


def gzip_size(data: bytes) -> int:
    """What a CDN sends with gzip at its best level (mtime fixed so the size is stable)."""
    return len(gzip.compress(data, compresslevel=9, mtime=0))


def assets_by_key() -> dict[str, bytes]:
    return {asset.key: asset.data for asset in widget_assets()}


def module(data: dict[str, bytes], name: str) -> bytes:
    """The hashed copy of ``afterword-<name>.js`` (the only name it is published under)."""
    return next(
        v for k, v in data.items() if re.fullmatch(rf"afterword-{name}\.[0-9a-f]{{12}}\.js", k)
    )


def form_module(data: dict[str, bytes]) -> bytes:
    return module(data, "form")


def module_key(data: dict[str, bytes], name: str) -> str:
    return next(k for k in data if re.fullmatch(rf"afterword-{name}\.[0-9a-f]{{12}}\.js", k))


def test_widget_budget_form_and_css_gzipped() -> None:
    assets = assets_by_key()
    assert gzip_size(form_module(assets)) <= FORM_BUDGET
    assert gzip_size(assets["afterword.css"]) <= CSS_BUDGET


def test_widget_budget_edit_module_gzipped() -> None:
    assert gzip_size(module(assets_by_key(), "edit")) <= EDIT_BUDGET


def test_widget_budget_core_gzipped() -> None:
    assert gzip_size(assets_by_key()["afterword.js"]) <= CORE_BUDGET


def test_widget_assets_hashed_and_stable_names() -> None:
    assets = widget_assets()
    classes = {asset.key: asset.cache_class for asset in assets}
    pattern = r"afterword(-form|-edit)?\.[0-9a-f]{12}\.(js|css)"
    hashed = [k for k in classes if re.fullmatch(pattern, k)]
    assert len(hashed) == 4
    assert len(classes) == 6
    assert all(classes[key] == "immutable" for key in hashed)
    assert classes["afterword.js"] == "short"
    assert classes["afterword.css"] == "short"
    assert "afterword-form.js" not in classes  # only the core loads it, by its hashed name
    assert "afterword-edit.js" not in classes  # only the form module loads it, likewise
    data = assets_by_key()
    for key in hashed:
        if not key.startswith(("afterword-form", "afterword-edit")):
            assert data[key] == data[f"afterword.{key.rsplit('.', 1)[1]}"]


def test_widget_assets_core_loads_hashed_stylesheet_and_module() -> None:
    data = assets_by_key()
    css_key = next(k for k in data if k.endswith(".css") and k != "afterword.css")
    form_key = next(k for k in data if k.startswith("afterword-form."))
    assert f'"{css_key}"'.encode() in data["afterword.js"]
    assert f'"{form_key}"'.encode() in data["afterword.js"]
    assert b'"afterword.css"' not in data["afterword.js"]
    assert b'"afterword-form.js"' not in data["afterword.js"]


def test_widget_assets_form_module_loads_hashed_edit_module() -> None:
    """The form module names the edit module by its hashed key, and the core names that
    form module: every hash covers the names it points to."""
    data = assets_by_key()
    form_key, edit_key = module_key(data, "form"), module_key(data, "edit")
    assert data[form_key].count(f'"{edit_key}"'.encode()) == 1
    assert b'"afterword-edit.js"' not in data[form_key]
    assert b"afterword-edit" not in data["afterword.js"]  # the core never loads it
    assert f'"{form_key}"'.encode() in data["afterword.js"]


ASSET_DIGESTS = (
    "import hashlib; from afterword.widget import widget_assets; "
    "print(*(f'{a.key} {hashlib.sha256(a.data).hexdigest()}' for a in widget_assets()))"
)


def test_widget_assets_deterministic_across_processes() -> None:
    """Names and bytes depend on the sources only: two interpreters with different hash
    seeds (the usual source of run-to-run drift) publish the very same files, and every
    hashed name is the digest of its own bytes."""
    outputs = [
        subprocess.run(
            [sys.executable, "-c", ASSET_DIGESTS],
            capture_output=True,
            text=True,
            check=True,
            env={**os.environ, "PYTHONHASHSEED": seed},
        ).stdout
        for seed in ("1", "2")
    ]
    assert outputs[0] == outputs[1]
    listed = outputs[0].split()
    assert listed[::2] == [asset.key for asset in widget_assets()]
    for asset in widget_assets():
        if asset.cache_class == "immutable":
            digest = hashlib.sha256(asset.data).hexdigest()
            assert asset.key.split(".")[1] == digest[:12]


def test_widget_css_safe_to_compact() -> None:
    """No line may begin inside a string, so stripping the CSS's lines is safe."""
    text = WIDGET.joinpath("afterword.css").read_text("utf-8")
    for number, line in enumerate(text.splitlines(), 1):
        assert not line.rstrip().endswith("\\"), f"afterword.css:{number} continues a string"


def test_widget_dist_is_minified_source() -> None:
    """dist/ holds the minifiers' output of the current sources: no edit ships stale."""
    result = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "build_widget.py"), "--check"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("name", SOURCES)
def test_widget_source_readable(name: str) -> None:
    """The source is written to be read: indented lines, no comma-operator statements."""
    text = WIDGET.joinpath(name).read_text("utf-8")
    lines = text.splitlines()
    assert max(len(line) for line in lines) <= 130
    assert sum(1 for line in lines if line.startswith("  ")) > len(lines) / 2
    # `(a = 1), b()` or `x && (y(), z)`: statements chained with the comma operator
    assert not re.search(r"\)\s*,\s*\(?[\w.]+\s*=[^=>]", text), "comma-operator statements"
    assert not re.search(r"&&\s*\([^()]*\([^()]*\)\s*,", text), "comma-operator statements"


@pytest.mark.parametrize("which", ["core", "form", "edit"])
def test_widget_shipped_scripts_parse(which: str) -> None:
    """node --check on exactly the bytes that get published."""
    data = assets_by_key()
    script = data["afterword.js"] if which == "core" else module(data, which)
    result = subprocess.run(
        ["node", "--check", "--input-type=commonjs"],
        input=script,
        capture_output=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr.decode()


def test_widget_compact_source_drops_comments_and_indent() -> None:
    text = "a {\n  // note\n    b: 1;\n\n}\n"
    assert compact_source(text) == "a {\nb: 1;\n}\n"


def test_widget_css_scoped_to_afterword_classes() -> None:
    """No global style leaks: every selector names one of afterword's own classes."""
    text = re.sub(r"/\*.*?\*/", "", WIDGET.joinpath("afterword.css").read_text("utf-8"), flags=re.S)
    text = re.sub(r"@keyframes[^{]*\{(?:[^{}]*\{[^{}]*\})*[^{}]*\}", "", text)
    selectors = re.findall(r"([^{}]+)\{[^{}]*\}", re.sub(r"@media[^{]*\{", "", text))
    assert selectors
    for group in selectors:
        for selector in re.split(r",(?![^()]*\))", group):
            if selector.strip() in ("from", "to", ""):
                continue
            assert "afterword-" in selector, f"unscoped selector: {selector.strip()!r}"


def test_widget_css_themes_dark_and_reduced_motion() -> None:
    text = WIDGET.joinpath("afterword.css").read_text("utf-8")
    assert "prefers-color-scheme: dark" in text
    assert "prefers-reduced-motion: reduce" in text
    assert "--afterword-accent" in text


@pytest.mark.parametrize("language", LANGUAGES)
def test_widget_strings_complete_in_every_language(language: str) -> None:
    english = json.loads(WIDGET.joinpath("locales/en.json").read_text("utf-8"))
    own = json.loads(WIDGET.joinpath(f"locales/{language}.json").read_text("utf-8"))
    assert set(own) == set(english)
    assert all(isinstance(value, str) and value.strip() for value in own.values())
    for key, value in english.items():
        assert re.findall(r"\{\w+\}", own[key]) == re.findall(r"\{\w+\}", value), key


def test_widget_strings_fall_back_to_english() -> None:
    assert widget_strings("xx") == widget_strings("en")
    assert widget_strings("../../etc/passwd") == widget_strings("en")
    assert widget_strings("de-AT")["retry"] == widget_strings("de")["retry"] != "Try again"


def test_widget_strings_used_by_script_exist() -> None:
    """Every ``strings.name`` the scripts read is shipped in en.json."""
    script = "".join(WIDGET.joinpath(name).read_text("utf-8") for name in SOURCES)
    used = set(re.findall(r"\bstrings\.(\w+)", script))
    used |= set(re.findall(r'"(count_\w+|pending|approved)"', script))
    assert {"heading_pending_one", "heading_pending_other", "load_error"} <= used
    english = widget_strings("en")
    assert used
    assert used <= set(english)
