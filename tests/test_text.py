"""The shared text and URL rules (afterword/text.py, afterword/urls.py), as properties."""

from __future__ import annotations

import xml.parsers.expat

import pytest
from hypothesis import given
from hypothesis import strategies as st

from afterword.builder.view import safe_website
from afterword.config import LimitsConfig
from afterword.errors import CommentRejected
from afterword.intake.validate import validate_submission
from afterword.text import has_forbidden, is_invisible, strip_forbidden
from afterword.urls import publishable_url

ANY_TEXT = st.text(st.characters(codec=None, exclude_categories=()), max_size=40)


def parses_as_xml(text: str) -> str:
    """The text content expat (a real XML parser) reads back from ``<a>text</a>``."""
    parser = xml.parsers.expat.ParserCreate("utf-8")
    seen: list[str] = []
    parser.CharacterDataHandler = seen.append
    escaped = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    parser.Parse(f"<a>{escaped}</a>".encode(), True)
    return "".join(seen)


@given(ANY_TEXT)
def test_text_strip_forbidden_output_is_well_formed_xml(text: str) -> None:
    cleaned = strip_forbidden(text).replace("\r", "")
    assert not has_forbidden(cleaned)
    assert parses_as_xml(cleaned) == cleaned


@given(ANY_TEXT)
def test_text_strip_forbidden_keeps_every_allowed_character(text: str) -> None:
    kept = [ch for ch in text if not has_forbidden(ch)]
    assert strip_forbidden(text) == "".join(kept)


NONCHARACTERS = [chr(p * 0x10000 + low) for p in range(17) for low in (0xFFFE, 0xFFFF)]


@pytest.mark.parametrize("char", ["\x01", "\x0b", "\x1f", "\ud800", "\ufffe", "\uffff"], ids=ascii)
def test_text_expat_refuses_what_is_stripped(char: str) -> None:
    with pytest.raises((xml.parsers.expat.ExpatError, UnicodeEncodeError)):
        parses_as_xml(f"x{char}y")


@pytest.mark.parametrize(
    "char",
    ["\x00", "\x01", "\x0b", "\x1f", "\ud800", chr(0xDFFF), "\ufdd0", "\ufdef", *NONCHARACTERS],
    ids=ascii,
)
def test_text_forbidden_characters_are_stripped(char: str) -> None:
    assert has_forbidden(char)
    assert strip_forbidden(f"x{char}y") == "xy"


@pytest.mark.parametrize("char", ["\t", "\n", "\r", "\x7f", "\ufdcf", "\ufdf0", "\ufffd"])
def test_text_allowed_characters_are_kept(char: str) -> None:
    assert strip_forbidden(f"x{char}y") == f"x{char}y"


@given(st.text(st.sampled_from("\u200b\u2060\ufeff\u3164\u2800 \u0301\u00ad\U000e0020")))
def test_text_only_invisible_characters_are_invisible(text: str) -> None:
    assert is_invisible(text)
    assert not is_invisible(text + "a")


@given(st.text(max_size=60))
def test_text_intake_accepts_a_website_only_if_the_builder_links_it(url: str) -> None:
    """The one URL policy: whatever the intake stores as a website is published unchanged."""
    fields = {"page": "/p/", "author": "Ada", "body": "Hi", "website": "https://" + url}
    refused: dict[str, str] = {}
    try:
        accepted = validate_submission(fields, LimitsConfig()).website
    except CommentRejected as exc:
        refused, accepted = exc.fields, ""
    if refused:
        assert set(refused) == {"website"}
    else:
        assert safe_website(accepted) == accepted == publishable_url(accepted)
