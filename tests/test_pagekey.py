"""Page keys: the shared vectors, plus properties the vectors cannot enumerate."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from afterword.errors import AfterwordError, InvalidPageKey
from afterword.pagekey import (
    MAX_ENCODED_LENGTH,
    MAX_ENCODED_SEGMENT_LENGTH,
    MAX_KEY_LENGTH,
    encode_page_path,
    normalize_page_key,
    page_folder,
)

VECTORS_PATH = Path(__file__).parent / "vectors" / "page_keys.json"
VECTORS: list[dict[str, Any]] = json.loads(VECTORS_PATH.read_text(encoding="utf-8"))


def _vector_id(vector: dict[str, Any]) -> str:
    return str(vector["why"])[:60]


# --- the shared contract -------------------------------------------------------------------


def test_vector_file_shape() -> None:
    assert len(VECTORS) >= 50
    inputs = [vector["input"] for vector in VECTORS]
    assert len(set(inputs)) == len(inputs), "duplicate inputs make a failing case ambiguous"
    for vector in VECTORS:
        assert isinstance(vector["input"], str)
        assert isinstance(vector["why"], str)
        assert vector["why"]
        if "error" in vector:
            assert vector["error"] is True
            assert set(vector) == {"input", "error", "why"}
        else:
            assert set(vector) == {"input", "key", "encoded", "why"}
    assert sum("error" in vector for vector in VECTORS) >= 15
    # The file is ASCII with \u escapes so no editor can silently NFC-normalize the NFD cases.
    VECTORS_PATH.read_bytes().decode("ascii")


@pytest.mark.parametrize("vector", VECTORS, ids=_vector_id)
def test_vector(vector: dict[str, Any]) -> None:
    if vector.get("error"):
        with pytest.raises(InvalidPageKey):
            normalize_page_key(vector["input"])
        return
    key = normalize_page_key(vector["input"])
    assert key == vector["key"]
    assert encode_page_path(key) == vector["encoded"]
    assert page_folder(key) == ("threads/" + vector["encoded"]).rstrip("/")


@pytest.mark.parametrize("vector", [v for v in VECTORS if not v.get("error")], ids=_vector_id)
def test_vector_keys_are_fixed_points(vector: dict[str, Any]) -> None:
    assert normalize_page_key(vector["key"]) == vector["key"]


# --- API details ---------------------------------------------------------------------------


def test_invalid_page_key_is_a_value_error_and_an_afterword_error() -> None:
    with pytest.raises(ValueError, match="empty"):
        normalize_page_key(" ")
    assert issubclass(InvalidPageKey, AfterwordError)


@pytest.mark.parametrize(
    "raw",
    [
        "/blog",  # not canonical: the key is /blog/
        "blog/",
        "/a/../b/",
        "/a//b/",
        "/about.html/",
        "/caf%C3%A9/",
        "/cafe\u0301/",
        "/index.html",
        "/my page/",
        "https://example.com/",
        "",
    ],
)
def test_encode_refuses_non_canonical_keys(raw: str) -> None:
    with pytest.raises(InvalidPageKey):
        encode_page_path(raw)
    with pytest.raises(InvalidPageKey):
        page_folder(raw)


def test_page_folder() -> None:
    assert page_folder("/") == "threads"
    assert page_folder("/blog/post/") == "threads/blog/post"
    assert page_folder("/comments/feed.atom") == "threads/%63omments/%66eed.atom"
    assert page_folder("/café/") == "threads/caf%C3%A9"


def test_reserved_names_cannot_collide_with_a_pages_own_files() -> None:
    parent = page_folder("/blog/")
    for child in ("/blog/comments.json", "/blog/comments-2.html", "/blog/feed.atom"):
        own_file = parent + "/" + child.rsplit("/", 1)[1]
        assert page_folder(child) != own_file
        assert not page_folder(child).startswith(own_file)


def test_limits_are_consistent() -> None:
    # The encoded limit is the binding one; the key limit is a cheap early bound.
    assert MAX_ENCODED_SEGMENT_LENGTH <= MAX_ENCODED_LENGTH < MAX_KEY_LENGTH


# --- properties ----------------------------------------------------------------------------

# Pieces that exercise every rule, so random concatenations hit the interesting interactions
# (an escape split by a slash, an index file after dot-dot, a scheme followed by junk...).
_PIECES = [
    "/",
    "//",
    "\\",
    ".",
    "..",
    "./",
    "../",
    "%",
    "%2",
    "%2F",
    "%2f",
    "%2E",
    "%25",
    "%3F",
    "%23",
    "%5C",
    "%20",
    "%C3%A9",
    "%c3",
    "%A9",
    "%FF",
    "%E2%80%AE",
    "?",
    "#",
    " ",
    "\t",
    "\u00a0",
    "a",
    "B",
    "z9",
    "-_~",
    "!'()*",
    ":",
    "@",
    "é",
    "e\u0301",
    "\u0301",
    "中文",
    "😀",
    "index.html",
    "index.htm",
    "comments",
    "comments.json",
    "feed",
    "feed.atom",
    "x.y",
    "https://",
    "HTTP://h:1",
    "//host",
    "user@",
    "\ufeff",
    "<script>",
    "\"'",
]
_URLISH = st.lists(st.sampled_from(_PIECES), max_size=25).map("".join)
_ANY_TEXT = st.text(max_size=60)
_INPUTS = st.one_of(_URLISH, _ANY_TEXT)


def _key_or_none(value: str) -> str | None:
    try:
        return normalize_page_key(value)
    except InvalidPageKey:
        return None


_KEYS = _INPUTS.map(_key_or_none).filter(lambda key: key is not None).map(str)


def _decode_folder(encoded: str) -> str:
    """Invert ``encode_page_path`` independently, which proves it injective on keys."""
    segments = [unquote(part, errors="strict") for part in encoded.split("/") if part]
    if not segments:
        return "/"
    key = "/" + "/".join(segments)
    return key if "." in segments[-1] else key + "/"


@settings(max_examples=500)
@given(_INPUTS)
@example("/index.html/index.html")
@example("/%2541/")
@example("/a.%20")
@example("/tags/c%23/")
@example("//a//b")
def test_normalize_is_idempotent(value: str) -> None:
    key = _key_or_none(value)
    if key is None:
        return
    assert key.startswith("/")
    assert normalize_page_key(key) == key


@settings(max_examples=300)
@given(_KEYS)
def test_key_survives_being_put_back_in_a_url(key: str) -> None:
    # The widget may be handed location.href: the same page must come back.
    assert normalize_page_key(f"https://u:p@example.com:8080{key}?q=1#frag") == key
    assert normalize_page_key(f"  {key}  ") == key


_SAFE_FOLDER = re.compile(
    r"(?:[A-Za-z0-9\-._~]|%[0-9A-F]{2})*(?:/(?:[A-Za-z0-9\-._~]|%[0-9A-F]{2})+)*"
)


@settings(max_examples=500)
@given(_KEYS)
def test_encoded_folder_is_safe_and_invertible(key: str) -> None:
    encoded = encode_page_path(key)
    assert _SAFE_FOLDER.fullmatch(encoded)
    assert "//" not in encoded
    assert not encoded.startswith("/")
    assert not encoded.endswith("/")
    parts = encoded.split("/") if encoded else []
    assert all(part not in ("", ".", "..") for part in parts)
    assert not any(part.startswith(("comments", "feed")) for part in parts)
    assert len(encoded) <= MAX_ENCODED_LENGTH
    assert all(len(part) <= MAX_ENCODED_SEGMENT_LENGTH for part in parts)
    assert _decode_folder(encoded) == key


@settings(max_examples=200)
@given(st.lists(_KEYS, min_size=2, max_size=20, unique=True))
def test_distinct_keys_get_distinct_folders(keys: list[str]) -> None:
    folders = [page_folder(key) for key in keys]
    assert len(set(folders)) == len(folders)
