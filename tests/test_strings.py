"""``afterword.strings``: one locale loader below every stage, complete translations, and an
intake that never imports the builder (nor Babel) to find its words."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from importlib import resources
from pathlib import Path

import pytest
from conftest import afterword_env, run_afterword
from fixtures_notify import write_settings

from afterword.errors import ConfigError
from afterword.strings import LANGUAGES, builtin_strings, load_strings, strings_language

PLACEHOLDER = re.compile(r"\{(\w+)\}")

# What an intake process loads: the ASGI app and its lifespan's sender (``build_app``'s
# ``BackgroundSender``), the Lambda handler, and the pieces of the /moderate pages.
INTAKE_MODULES = (
    "afterword.intake.app",
    "afterword.intake.lambda_handler",
    "afterword.intake.moderate",
    "afterword.notify.runner",
    "afterword.notify.sender",
)
IMPORT_GRAPH = """
import importlib, json, sys
for name in sys.argv[1:]:
    importlib.import_module(name)
print(json.dumps(sorted(sys.modules)))
"""


def _loaded(*modules: str) -> list[str]:
    done = subprocess.run(
        [sys.executable, "-c", IMPORT_GRAPH, *modules],
        capture_output=True,
        text=True,
        env=afterword_env(),
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    loaded: list[str] = json.loads(done.stdout)
    return loaded


def test_the_intake_imports_neither_the_builder_nor_babel() -> None:
    loaded = _loaded(*INTAKE_MODULES)
    assert set(INTAKE_MODULES) | {"afterword.strings"} <= set(loaded)  # really imported
    assert [m for m in loaded if m == "babel" or m.startswith("babel.")] == []
    assert [m for m in loaded if m.startswith("afterword.builder")] == []


def test_the_import_graph_check_sees_the_builder_when_it_is_there() -> None:
    """The check above can fail: importing the builder does load Babel."""
    loaded = _loaded("afterword.builder")
    assert "babel" in loaded
    assert "afterword.builder.render" in loaded


def test_every_locale_has_the_english_keys_and_placeholders() -> None:
    folder = resources.files("afterword").joinpath("locales")
    shipped = sorted(p.name.removesuffix(".json") for p in folder.iterdir() if p.is_file())
    assert shipped == sorted(LANGUAGES)
    english = builtin_strings("en")
    for language in LANGUAGES:
        own = builtin_strings(language)
        assert sorted(own) == sorted(english), language
        for key, text in english.items():
            assert set(PLACEHOLDER.findall(own[key])) == set(PLACEHOLDER.findall(text)), (
                language,
                key,
            )
            if language != "en" and key.startswith("page_") and len(text) > 12:
                assert own[key] != text, (language, key)  # translated, not copied


def test_a_user_file_overrides_key_by_key_and_names_the_language(tmp_path: Path) -> None:
    (tmp_path / "locales").mkdir()
    (tmp_path / "locales" / "pt.json").write_text('{"page_title_approve": "Aprovar?"}', "utf-8")
    strings = load_strings("pt", str(tmp_path))
    assert strings["page_title_approve"] == "Aprovar?"
    assert strings["page_title_reject"] == builtin_strings("en")["page_title_reject"]
    assert strings_language("pt", str(tmp_path)) == "pt"
    assert strings_language("pt", "") == "en"  # English words: the page says so
    assert strings_language("de", "") == "de"


@pytest.mark.parametrize(
    ("content", "message"),
    [("[1, 2]", "JSON object of strings"), ('{"a": 1}', "JSON object of strings"), ("{", "JSON")],
)
def test_a_broken_user_file_is_a_config_error(tmp_path: Path, content: str, message: str) -> None:
    (tmp_path / "locales").mkdir()
    (tmp_path / "locales" / "en.json").write_text(content, "utf-8")
    with pytest.raises(ConfigError, match=message):
        load_strings("en", str(tmp_path))


def test_serve_with_a_broken_strings_file_stops_in_one_line(site_dir: Path) -> None:
    """The intake reads the pages' words when it starts: a broken override stops it there."""
    (site_dir / "t" / "locales").mkdir(parents=True)
    (site_dir / "t" / "locales" / "en.json").write_text("[1, 2]", "utf-8")
    write_settings(site_dir / "afterword.toml", {"build": {"templates_dir": "t"}})
    done = run_afterword("serve", "--port", "0", cwd=site_dir, timeout=30)
    assert done.returncode == 2
    [line] = done.stderr.strip().splitlines()
    assert line.startswith("Error: ")
    assert "en.json: must be a JSON object of strings" in line
