"""The widget's published files: size budget, safe compaction, hashing scheme, strings."""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import re
import subprocess
import sys
from importlib import resources

import pytest

from afterword.widget import LANGUAGES, compact_source, widget_assets, widget_strings

JS_BUDGET = 4096
CSS_BUDGET = 2560
WIDGET = resources.files("afterword.widget")


def gzip_size(data: bytes) -> int:
    """What a CDN sends with gzip at its best level (mtime fixed so the size is stable)."""
    return len(gzip.compress(data, compresslevel=9, mtime=0))


def assets_by_key() -> dict[str, bytes]:
    return {asset.key: asset.data for asset in widget_assets()}


def test_widget_budget_js_and_css_gzipped() -> None:
    assets = assets_by_key()
    assert gzip_size(assets["afterword.js"]) <= JS_BUDGET
    assert gzip_size(assets["afterword.css"]) <= CSS_BUDGET


def test_widget_assets_hashed_and_stable_names() -> None:
    assets = widget_assets()
    classes = {asset.key: asset.cache_class for asset in assets}
    hashed = [key for key in classes if re.fullmatch(r"afterword\.[0-9a-f]{12}\.(js|css)", key)]
    assert len(hashed) == 2
    assert all(classes[key] == "immutable" for key in hashed)
    assert classes["afterword.js"] == "short"
    assert classes["afterword.css"] == "short"
    data = assets_by_key()
    for key in hashed:
        assert data[key] == data[f"afterword.{key.rsplit('.', 1)[1]}"]


def test_widget_assets_script_loads_hashed_stylesheet() -> None:
    data = assets_by_key()
    css_key = next(k for k in data if k.endswith(".css") and k != "afterword.css")
    assert f'"{css_key}"'.encode() in data["afterword.js"]
    assert b'"afterword.css"' not in data["afterword.js"]


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


@pytest.mark.parametrize("name", ["afterword.js", "afterword.css"])
def test_widget_source_safe_to_compact(name: str) -> None:
    """No line may begin inside a string or template literal, so stripping lines is safe."""
    text = WIDGET.joinpath(name).read_text("utf-8")
    for number, line in enumerate(text.splitlines(), 1):
        assert line.count("`") % 2 == 0, f"{name}:{number} template literal spans lines"
        assert not line.rstrip().endswith("\\"), f"{name}:{number} continues a string"


def test_widget_compacted_script_parses() -> None:
    """node --check on exactly the bytes that get published."""
    script = assets_by_key()["afterword.js"]
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
    """Every ``S.name`` / ``S[...]`` the script reads is shipped in en.json."""
    script = WIDGET.joinpath("afterword.js").read_text("utf-8")
    used = set(re.findall(r"\bS\.(\w+)", script))
    used |= set(re.findall(r'"(count_\w+|pending|approved)"', script))
    english = widget_strings("en")
    assert used
    assert used <= set(english)
