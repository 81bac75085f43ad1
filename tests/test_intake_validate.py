"""The pure rules: field validation, body parsing, origins and the rate limiter, without HTTP."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from fixtures_intake import comment_fields

from afterword.config import LimitsConfig
from afterword.errors import CommentRejected
from afterword.intake.cors import OriginPolicy, origin_of
from afterword.intake.limits import RateLimiter, client_address, parse_networks
from afterword.intake.parse import parse_content_type, parse_fields, read_capped
from afterword.intake.validate import (
    Submission,
    body_hash,
    clean_body,
    clean_line,
    honeypot_filled,
    page_allowed,
    validate_submission,
)
from afterword.text import FORBIDDEN_IN_PAGE
from afterword.urls import WEBSITE_RULE

LIMITS = LimitsConfig()


def rejected(fields: dict[str, Any], pages: tuple[str, ...] = ()) -> CommentRejected:
    with pytest.raises(CommentRejected) as caught:
        validate_submission(fields, LIMITS, pages)
    return caught.value


def test_validate_submission_returns_clean_fields() -> None:
    result = validate_submission(
        comment_fields(page="https://blog.example.com/blog/hello/index.html?x=1", parent="7"),
        LIMITS,
    )
    assert result == Submission(
        page_key="/blog/hello/",
        author="Ada",
        body="Nice *post*, thanks.",
        parent_id=7,
        email="ada@example.org",
        website="https://ada.example.org/",
        honeypot=False,
    )


def test_validate_submission_optional_fields_may_be_missing_or_null() -> None:
    result = validate_submission(
        comment_fields(email=None, website=None, parent=None) | {"email": None}, LIMITS
    )
    assert (result.email, result.website, result.parent_id) == ("", "", None)


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("body", "", "is required"),
        ("body", " \n\t ", "is required"),
        ("body", "\u202e\u2066", "is required"),
        ("body", "x" * 10_001, "is longer than 10000 characters"),
        ("body", "a\x00b", "must not contain NUL characters"),
        ("body", "\u200b\u2060\ufeff", "has no visible text (only spaces or invisible characters)"),
        ("body", "\ud800\ufffe\x01", "is required"),
        ("body", 12, "must be a string"),
        ("author", "", "is required"),
        ("author", "x" * 101, "is longer than 100 characters"),
        ("author", ["Ada"], "must be a string"),
        ("email", "not-an-address", "is not an e-mail address"),
        ("email", "a@b", "is not an e-mail address"),
        ("email", "two@@example.org", "is not an e-mail address"),
        ("email", "x" * 250 + "@example.org", "is not an e-mail address"),
        ("website", "ftp://example.org/", WEBSITE_RULE),
        ("website", "javascript:alert(1)", WEBSITE_RULE),
        ("website", "example.org", WEBSITE_RULE),
        ("website", "https://", WEBSITE_RULE),
        ("website", "https://[::1", WEBSITE_RULE),
        ("website", "https://example.org/" + "x" * 500, "is longer than 500 characters"),
        ("parent", "abc", "must be a comment id"),
        ("parent", "-3", "must be a comment id"),
        ("parent", 0, "must be a comment id"),
        ("parent", True, "must be a comment id"),
        ("parent", 3.0, "must be a comment id"),
        ("parent", "٣", "must be a comment id"),
        ("parent", 2**63, "must be a comment id"),
        ("page", "", "is required"),
        ("page", "/a\x01b/", "page URL contains a control character"),
        ("page", "/%FF/", "page URL is not valid UTF-8 once percent-decoded"),
        ("page", "/a\ufffe/", FORBIDDEN_IN_PAGE),
        ("page", "/a%EF%B7%90/", FORBIDDEN_IN_PAGE),
    ],
)
def test_validate_submission_rejects_bad_field(field: str, value: object, message: str) -> None:
    error = rejected(comment_fields(**{field: value}))
    assert (error.status, error.code, error.fields) == (422, "invalid", {field: message})


def test_validate_submission_reports_every_bad_field_at_once() -> None:
    error = rejected({"page": "/p/", "body": "", "email": "nope", "website": "ftp://x"})
    assert sorted(error.fields) == ["author", "body", "email", "website"]
    assert error.message == "invalid fields: author, body, email, website"


def test_validate_submission_body_at_the_limit_is_accepted() -> None:
    body = "é" * 10_000
    assert validate_submission(comment_fields(body=f"  {body}\n"), LIMITS).body == body


def test_validate_submission_page_outside_allowlist_is_404() -> None:
    error = rejected(comment_fields(page="/shop/cart/"), pages=("/blog/*",))
    assert (error.status, error.code) == (404, "unknown_page")
    assert validate_submission(comment_fields(), LIMITS, ("/blog/*",)).page_key == "/blog/hello/"


def test_validate_submission_closed_page_glob_is_403() -> None:
    with pytest.raises(CommentRejected) as caught:
        validate_submission(comment_fields(page="/old/post/"), LIMITS, (), ("/old/*",))
    assert (caught.value.status, caught.value.code) == (403, "closed")


def test_validate_submission_honeypot_is_flagged_not_refused() -> None:
    assert validate_submission(comment_fields(aw_x9k="555-1234"), LIMITS).honeypot
    assert not validate_submission(comment_fields(aw_x9k="  "), LIMITS).honeypot


@pytest.mark.parametrize("value", [1, 0, False, "a\x00", "\x00", ["x"], [], {}, "\ud800", "x"])
def test_honeypot_filled_by_any_non_string_or_non_blank_value(value: object) -> None:
    assert honeypot_filled(value)
    assert validate_submission(comment_fields(aw_x9k=value), LIMITS).honeypot


@pytest.mark.parametrize("value", [None, "", "  \t"])
def test_honeypot_filled_not_by_missing_or_blank(value: object) -> None:
    assert not honeypot_filled(value)


def test_clean_body_strips_controls_and_bidi_but_keeps_lines() -> None:
    text = "\r\n line one\r\nline\ttwo\x07\x1b[31m\u202eevil\u2069\u0085\rend  "
    assert clean_body(text) == "line one\nline\ttwo[31mevil\nend"


def test_clean_line_turns_whitespace_controls_into_spaces() -> None:
    assert clean_line("\tAda\nLovelace\x7f\u202d ") == "Ada Lovelace"


def test_body_hash_ignores_spacing_and_unicode_form() -> None:
    assert body_hash("caf\u00e9  is\n good") == body_hash("cafe\u0301 is good")
    assert body_hash("one") != body_hash("two")


@pytest.mark.parametrize(
    ("key", "pages", "allowed"),
    [
        ("/blog/a/", (), True),
        ("/blog/a/", ("/blog/*",), True),
        ("/blog/a/b/", ("/blog/*",), True),
        ("/Blog/a/", ("/blog/*",), False),
        ("/about/", ("/blog/*", "/about/"), True),
    ],
)
def test_page_allowed_matches_globs(key: str, pages: tuple[str, ...], allowed: bool) -> None:
    assert page_allowed(key, pages) is allowed


@pytest.mark.parametrize(
    ("header", "media_type"),
    [
        ("application/json", "application/json"),
        ("Application/JSON; charset=UTF-8", "application/json"),
        ("application/x-www-form-urlencoded", "application/x-www-form-urlencoded"),
        ("multipart/form-data; boundary=xyz", "multipart/form-data"),
    ],
)
def test_parse_content_type_accepts_our_types(header: str, media_type: str) -> None:
    assert parse_content_type(header).media_type == media_type


@pytest.mark.parametrize(
    "header", [None, "", "text/plain", "application/xml", "application/json; charset=latin-1"]
)
def test_parse_content_type_refuses_others_with_415(header: str | None) -> None:
    with pytest.raises(CommentRejected) as caught:
        parse_content_type(header)
    assert (caught.value.status, caught.value.code) == (415, "unsupported_media_type")


async def _chunks(*parts: bytes) -> AsyncIterator[bytes]:
    for part in parts:
        yield part


@pytest.mark.parametrize(
    ("parts", "declared", "status"),
    [
        ((b"x" * 10,), "11", None),
        ((b"x" * 10, b"y" * 10), None, 413),
        ((b"x",), "100", 413),
        ((b"x",), "ten", 400),
    ],
)
def test_read_capped_refuses_before_reading_too_much(
    parts: tuple[bytes, ...], declared: str | None, status: int | None
) -> None:
    coroutine = read_capped(_chunks(*parts), declared, limit=15)
    if status is None:
        assert asyncio.run(coroutine) == b"".join(parts)
        return
    with pytest.raises(CommentRejected) as caught:
        asyncio.run(coroutine)
    assert caught.value.status == status


def test_parse_fields_first_repeated_form_field_wins() -> None:
    fields = parse_fields(
        parse_content_type("application/x-www-form-urlencoded"), b"a=1&a=2&b=caf%C3%A9"
    )
    assert fields == {"a": "1", "b": "café"}


@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        ("application/json", b"{not json"),
        ("application/json", b"[1, 2]"),
        ("application/json", b"[" * 30_000 + b"]" * 30_000),
        ("application/json", b'{"a": ' * 30_000 + b"1" + b"}" * 30_000),
        ("application/json", b'{"body": "\xff"}'),
        ("application/x-www-form-urlencoded", b"body=%FF%FE"),
        ("application/x-www-form-urlencoded", b"body=\xff"),
        ("application/x-www-form-urlencoded", b"&".join([b"a=1"] * 40)),
        ("multipart/form-data", b"--x\r\n"),
        ("multipart/form-data; boundary=x", b"garbage"),
        ("multipart/form-data; boundary=x", b"--x\r\nContent-Disposition: form-data"),
    ],
)
def test_parse_fields_malformed_is_400(content_type: str, body: bytes) -> None:
    with pytest.raises(CommentRejected) as caught:
        parse_fields(parse_content_type(content_type), body)
    assert (caught.value.status, caught.value.code) == (400, "malformed")


@pytest.mark.parametrize(
    ("peer", "forwarded", "trusted", "client"),
    [
        ("127.0.0.1", "203.0.113.9", [], "127.0.0.1"),
        ("127.0.0.1", "203.0.113.9", ["127.0.0.1"], "203.0.113.9"),
        ("10.1.2.3", "203.0.113.9", ["10.0.0.0/8"], "203.0.113.9"),
        ("192.0.2.1", "203.0.113.9", ["10.0.0.0/8"], "192.0.2.1"),
        ("127.0.0.1", "6.6.6.6, 203.0.113.9, 10.0.0.2", ["127.0.0.1", "10.0.0.0/8"], "203.0.113.9"),
        ("127.0.0.1", "10.0.0.3, 10.0.0.2", ["127.0.0.1", "10.0.0.0/8"], "10.0.0.3"),
        ("127.0.0.1", None, ["127.0.0.1"], "127.0.0.1"),
        ("::1", "2001:db8::1", ["::1"], "2001:db8::1"),
    ],
)
def test_client_address_believes_only_trusted_proxies(
    peer: str, forwarded: str | None, trusted: list[str], client: str
) -> None:
    assert client_address(peer, forwarded, parse_networks(trusted)) == client


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_rate_limiter_minute_window_with_retry_after() -> None:
    clock = FakeClock()
    limiter = RateLimiter(LimitsConfig(per_minute=2, per_hour=10), clock)
    limiter.hit("a")
    clock.now += 10
    limiter.hit("a")
    limiter.hit("b")
    with pytest.raises(CommentRejected) as caught:
        limiter.hit("a")
    assert (caught.value.status, caught.value.code) == (429, "rate_limited")
    assert caught.value.headers == {"Retry-After": "50"}
    clock.now += 50
    limiter.hit("a")


def test_rate_limiter_hour_window_retry_after() -> None:
    clock = FakeClock()
    limiter = RateLimiter(LimitsConfig(per_minute=0, per_hour=3), clock)
    for _ in range(3):
        limiter.hit("a")
        clock.now += 100
    with pytest.raises(CommentRejected) as caught:
        limiter.hit("a")
    assert caught.value.headers == {"Retry-After": str(3600 - 300)}
    clock.now += 3600 - 300
    limiter.hit("a")


def test_rate_limiter_zero_limits_never_refuse() -> None:
    limiter = RateLimiter(LimitsConfig(per_minute=0, per_hour=0))
    for _ in range(100):
        limiter.hit("a")
    assert not limiter.enabled


@pytest.mark.parametrize(
    ("url", "origin"),
    [
        ("https://Blog.Example.com/a/b?c#d", "https://blog.example.com"),
        ("https://blog.example.com:443/", "https://blog.example.com"),
        ("http://localhost:8080", "http://localhost:8080"),
        ("http://[::1]:8000/x", "http://[::1]:8000"),
        ("javascript:alert(1)", None),
        ("//evil.example/", None),
        ("https://x:99999/", None),
        ("null", None),
    ],
)
def test_origin_of_canonicalizes(url: str, origin: str | None) -> None:
    assert origin_of(url) == origin


POLICY = OriginPolicy("https://blog.example.com/base", ["http://localhost:1313"])


@pytest.mark.parametrize(
    ("origin", "allowed"),
    [
        ("https://blog.example.com", True),
        ("http://localhost:1313", True),
        ("https://evil.example", False),
        ("https://blog.example.com/path", False),
        ("null", False),
        (None, False),
    ],
)
def test_origin_policy_allows_listed_origins(origin: str | None, allowed: bool) -> None:
    assert POLICY.allows(origin) is allowed


@pytest.mark.parametrize(
    ("redirect", "target"),
    [
        ("https://blog.example.com/blog/a/?x=1#frag", "https://blog.example.com/blog/a/?x=1"),
        ("http://localhost:1313/p/", "http://localhost:1313/p/"),
        ("https://evil.example/phish", "https://blog.example.com/blog/hello/"),
        ("https://blog.example.com@evil.example/", "https://blog.example.com/blog/hello/"),
        ("https://user@blog.example.com/a b", "https://blog.example.com/a%20b"),
        ("//evil.example/", "https://blog.example.com/blog/hello/"),
        (None, "https://blog.example.com/blog/hello/"),
    ],
)
def test_origin_policy_redirect_target_is_never_open(redirect: str | None, target: str) -> None:
    assert POLICY.redirect_target(redirect, "/blog/hello/") == target
