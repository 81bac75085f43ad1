"""Templates: golden output, user overrides, strings, and template errors.

Regenerate the golden files on purpose (after a deliberate template change) with:

    AFTERWORD_REGEN_GOLDEN=1 pytest tests/test_templates.py

then review ``git diff tests/golden``. The widget's ``data-strings`` attribute is masked, so
the widget's own string changes do not touch these files.
"""

from __future__ import annotations

import os
import re
from dataclasses import replace
from pathlib import Path

import pytest
from test_build_support import SEED_SECRET, add, tree

from afterword.builder import build_site
from afterword.config import Config
from afterword.errors import BuildError, ConfigError
from afterword.store import Store, moderate, set_meta

GOLDEN = Path(__file__).parent / "golden"
# Read at import: the site_dir fixture clears AFTERWORD_* variables before each test runs.
REGENERATE = bool(os.environ.get("AFTERWORD_REGEN_GOLDEN"))
_STRINGS = re.compile(rb"data-strings='[^']*'")


def _seed_golden(store: Store) -> None:
    with store.write() as conn:
        set_meta(conn, "secret", SEED_SECRET)
    t = "2026-03-0{}T10:00:00.000000Z"
    first = add(store, "/blog/hello/", "Hello *world*", author="Zoë", website="https://zoe.example",
                created=t.format(1), title="Hello, world")  # fmt: skip
    reply = add(store, "/blog/hello/", "A reply with `code`", parent=first, author="李雷",
                email="", created=t.format(2))  # fmt: skip
    add(store, "/blog/hello/", "Deep reply", parent=reply, author="Ana", created=t.format(3))
    gone = add(store, "/blog/hello/", "will be removed", author="Bob", created=t.format(4))
    add(store, "/blog/hello/", "Reply to a removed comment", parent=gone, created=t.format(5))
    third = add(store, "/blog/hello/", "Third thread", author="Cy", created=t.format(6))
    moderate(store, [gone], "delete", actor="golden")
    with store.write() as conn:  # as an approved author's revision leaves it
        conn.execute("UPDATE comments SET edited = ? WHERE id = ?", (t.format(8), third))
    about = add(store, "/about/", "> quoted\n\nand a [link](https://example.org)",
                created=t.format(7))  # fmt: skip
    # the owner's reply: its badge and "owner": true
    add(store, "/about/", "Thanks!", parent=about, author="The Owner", email="",
        created=t.format(8), source="owner")  # fmt: skip


def _golden_config(config: Config) -> Config:
    return replace(config, build=replace(config.build, page_size=2, feed_size=5))


def test_templates_golden_output(config: Config, store: Store) -> None:
    _seed_golden(store)
    config = _golden_config(config)
    build_site(config, store)
    files = {
        key: _STRINGS.sub(b"data-strings='(widget strings)'", data)
        for key, data in tree(Path(config.output_dir)).items()
        if not key.startswith(("afterword.", "afterword-form.", "afterword-edit."))  # widget assets
    }
    if REGENERATE:
        for old in GOLDEN.rglob("*"):
            if old.is_file():
                old.unlink()
        for key, data in files.items():
            path = GOLDEN / key
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
    expected = tree(GOLDEN)
    assert sorted(files) == sorted(expected)
    for key, data in files.items():
        assert data == expected[key], f"{key} differs from tests/golden (see module docstring)"


def test_templates_user_override_extends_builtin(config: Config, store: Store) -> None:
    templates = Path(config.root) / "my-templates"
    templates.mkdir()
    (templates / "thread.html").write_text(
        '{% extends "!afterword/thread.html" %}'
        '{% block heading %}<h3 class="mine">{{ heading }}!</h3>{% endblock %}'
    )
    config = replace(config, build=replace(config.build, templates_dir=str(templates)))
    add(store, "/p/")
    build_site(config, store)
    html = (Path(config.output_dir) / "threads/p/comments.html").read_text()
    assert '<h3 class="mine">1 comment!</h3>' in html
    assert "afterword-form" in html


def test_templates_user_strings_override(config: Config, store: Store) -> None:
    templates = Path(config.root) / "my-templates"
    (templates / "locales").mkdir(parents=True)
    (templates / "locales" / "en.json").write_text('{"heading_one": "One lonely remark"}')
    config = replace(config, build=replace(config.build, templates_dir=str(templates)))
    add(store, "/p/")
    build_site(config, store)
    assert "One lonely remark" in (Path(config.output_dir) / "threads/p/comments.html").read_text()


@pytest.mark.parametrize("language", ["de", "fr", "es", "zh"])
def test_templates_builtin_languages(config: Config, store: Store, language: str) -> None:
    config = replace(config, site=replace(config.site, language=language))
    add(store, "/p/")
    build_site(config, store)
    html = (Path(config.output_dir) / "threads/p/comments.html").read_text()
    assert f'lang="{language}"' in html
    assert "1 comment<" not in html


@pytest.mark.parametrize(
    ("template", "message"),
    [
        ("{{ no_such_name }}", "no_such_name"),
        ("{% if %}", "template thread.html"),
    ],
)
def test_templates_errors_are_one_line_build_errors(
    config: Config, store: Store, template: str, message: str
) -> None:
    templates = Path(config.root) / "bad"
    templates.mkdir()
    (templates / "thread.html").write_text(template)
    config = replace(config, build=replace(config.build, templates_dir=str(templates)))
    add(store, "/p/")
    with pytest.raises(BuildError, match=message) as info:
        build_site(config, store)
    assert "\n" not in str(info.value)


def test_templates_bad_user_strings_file(config: Config, store: Store) -> None:
    templates = Path(config.root) / "t"
    (templates / "locales").mkdir(parents=True)
    (templates / "locales" / "en.json").write_text("[1, 2]")
    config = replace(config, build=replace(config.build, templates_dir=str(templates)))
    with pytest.raises(ConfigError, match="JSON object of strings"):
        build_site(config, store)
