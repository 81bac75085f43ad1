"""Dates in the fragments: ``<time datetime>`` with localized text, and a localized title
on the "edited" mark (whose text is not a date; the widget titles the others itself).

Formats are template strings (``date_format``, ``date_title_format``); Babel supplies month
names, so a language we ship no strings for still reads in its own words.
"""

from __future__ import annotations

import json
import re
from dataclasses import replace
from pathlib import Path

import pytest
from conftest import run_afterword
from test_build_support import add

from afterword.builder import build_site
from afterword.config import Config
from afterword.errors import BuildError
from afterword.store import Store

CREATED = "2026-03-01T10:05:00.000000Z"
ISO = "2026-03-01T10:05:00Z"  # the datetime attribute: UTC to the second
TIME = re.compile(r'<a href="#c\d+"><time datetime="([^"]+)">([^<]+)</time>')
EDITED = re.compile(r'<time class="afterword-edited" datetime="([^"]+)" title="([^"]+)">')


def mark_edited(store: Store, when: str) -> None:
    """As an approved revision by the author would (store/revisions.py sets it)."""
    with store.write() as conn:
        conn.execute("UPDATE comments SET edited = ?", (when,))


def built_time(config: Config, store: Store) -> tuple[str, str, str]:
    """(datetime, title of the "edited" mark, text) of one comment edited when it was made."""
    add(store, "/p/", "Hello", created=CREATED)
    mark_edited(store, CREATED)
    build_site(config, store)
    html = (Path(config.output_dir) / "threads" / "p" / "comments.html").read_text("utf-8")
    found, edited = TIME.findall(html), EDITED.findall(html)
    assert len(found) == len(edited) == 1, html
    (datetime_attr, text), (edited_attr, title) = found[0], edited[0]
    assert edited_attr == datetime_attr
    return datetime_attr, title, text


def in_language(config: Config, language: str) -> Config:
    return replace(config, site=replace(config.site, language=language))


@pytest.mark.parametrize(
    ("language", "text", "title"),
    [
        ("en", "Mar 1, 2026", "March 1, 2026, 10:05\u202fAM UTC"),
        ("de", "1. März 2026", "1. März 2026, 10:05 UTC"),
        ("fr", "1 mars 2026", "1 mars 2026, 10:05 TU"),
        ("es", "1 mar 2026", "1 de marzo de 2026, 10:05 UTC"),
        ("zh", "2026年3月1日", "2026年3月1日 UTC 10:05"),
        ("pt", "1 de mar. de 2026", "1 de março de 2026 10:05 UTC"),  # Babel's words only
        ("xx", "Mar 1, 2026", "March 1, 2026, 10:05\u202fAM UTC"),  # unknown: English
    ],
)
def test_dates_localized_text_and_title(
    config: Config, store: Store, language: str, text: str, title: str
) -> None:
    assert built_time(in_language(config, language), store) == (ISO, title, text)


def user_strings(config: Config, strings: dict[str, str]) -> Config:
    templates = Path(config.root) / "my-templates"
    (templates / "locales").mkdir(parents=True)
    (templates / "locales" / "en.json").write_text(json.dumps(strings), encoding="utf-8")
    return replace(config, build=replace(config.build, templates_dir=str(templates)))


def test_dates_pattern_overridden_by_site_strings(config: Config, store: Store) -> None:
    config = user_strings(config, {"date_format": "y-MM-dd", "date_title_format": "full"})
    _, title, text = built_time(config, store)
    assert text == "2026-03-01"
    assert title.startswith("Sunday, March 1, 2026")


@pytest.mark.parametrize(
    ("strings", "key"),
    [
        ({"date_format": "GGGGGG"}, "date_format"),  # Babel: invalid field length
        ({"date_title_format": ""}, "date_title_format"),  # no text at all
        ({"date_format": "'quoted only'"}, None),  # a literal is a (strange) valid pattern
    ],
)
def test_dates_bad_pattern_stops_the_build(
    config: Config, store: Store, strings: dict[str, str], key: str | None
) -> None:
    config = user_strings(config, strings)
    if key is None:
        assert built_time(config, store)[2] == "quoted only"
        return
    with pytest.raises(BuildError, match=key):
        built_time(config, store)


def test_dates_bad_pattern_is_one_cli_line(site_dir: Path) -> None:
    templates = site_dir / "my-templates" / "locales"
    templates.mkdir(parents=True)
    (templates / "en.json").write_text('{"date_format": "GGGGGG"}', encoding="utf-8")
    env = {"AFTERWORD_BUILD_TEMPLATES_DIR": str(site_dir / "my-templates")}
    result = run_afterword("build", cwd=site_dir, env=env)
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("Error:")
    assert "date_format" in lines[0]
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    ("title_format", "titles"),
    [
        ("long", ["March 1, 2026, 10:05\u202fAM UTC", "March 1, 2026, 10:06\u202fAM UTC",
                  "March 2, 2026, 10:05\u202fAM UTC"]),
        ("y-MM-dd HH:mm:ss", ["2026-03-01 10:05:07", "2026-03-01 10:06:59",
                              "2026-03-02 10:05:08"]),
        ("d MMM", ["1 Mar", "1 Mar", "2 Mar"]),
    ],
)  # fmt: skip
def test_dates_cached_per_day_and_minute_never_mixed(
    config: Config, store: Store, title_format: str, titles: list[str]
) -> None:
    """Formats are cached by what they show (day, minute, second): nearby times sharing a
    day or a minute of the day still get their own text."""
    config = user_strings(config, {"date_title_format": title_format})
    for created in ("2026-03-01T10:05:07.1Z", "2026-03-01T10:06:59.9Z", "2026-03-02T10:05:08.0Z"):
        comment = add(store, "/p/", f"At {created}", created=created)
        with store.write() as conn:
            conn.execute("UPDATE comments SET edited = created WHERE id = ?", (comment,))
    build_site(config, store)
    html = (Path(config.output_dir) / "threads" / "p" / "comments.html").read_text("utf-8")
    assert [title for _, title in EDITED.findall(html)] == titles
