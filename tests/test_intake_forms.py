"""Browsers: CORS for the widget's fetch, and 303 answers for a plain HTML form post."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest
from fixtures_intake import UNLIMITED, RunningIntake, comment_fields

SITE = "https://blog.example.com"
PREVIEW = "http://localhost:1313"


@pytest.fixture
def web_intake(start_intake: Callable[..., RunningIntake]) -> RunningIntake:
    return start_intake(limits=UNLIMITED, site={"allowed_origins": [PREVIEW]})


def _preflight(intake: RunningIntake, origin: str, method: str = "POST") -> httpx.Response:
    headers = {
        "origin": origin,
        "access-control-request-method": method,
        "access-control-request-headers": "content-type",
    }
    return httpx.options(intake.api, headers=headers, timeout=10)


@pytest.mark.parametrize("origin", [SITE, PREVIEW])
def test_preflight_allowed_origin_gets_the_grant(web_intake: RunningIntake, origin: str) -> None:
    response = _preflight(web_intake, origin)
    assert response.status_code == 204
    assert response.headers["access-control-allow-origin"] == origin
    assert "POST" in response.headers["access-control-allow-methods"]
    assert "Content-Type" in response.headers["access-control-allow-headers"]
    assert response.headers["access-control-max-age"] == "86400"
    assert response.headers["vary"] == "Origin"


@pytest.mark.parametrize(
    ("origin", "method"),
    [
        ("https://evil.example", "POST"),
        ("null", "POST"),
        (SITE, "DELETE"),
        (SITE + ":8443", "POST"),
    ],
)
def test_preflight_refused_without_grant(
    web_intake: RunningIntake, origin: str, method: str
) -> None:
    response = _preflight(web_intake, origin, method)
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "forbidden_origin"
    assert "access-control-allow-origin" not in response.headers


def test_options_without_preflight_lists_methods(web_intake: RunningIntake) -> None:
    response = httpx.options(web_intake.api, timeout=10)
    assert (response.status_code, response.headers["allow"]) == (204, "POST, OPTIONS")


def test_cors_headers_on_accepted_and_refused_posts(web_intake: RunningIntake) -> None:
    accepted = web_intake.post(headers={"origin": PREVIEW})
    assert accepted.status_code == 202
    assert accepted.headers["access-control-allow-origin"] == PREVIEW
    refused = web_intake.post(headers={"origin": PREVIEW}, body="")
    assert refused.status_code == 422
    assert refused.headers["access-control-allow-origin"] == PREVIEW
    assert refused.headers["access-control-expose-headers"] == "Retry-After, X-Response-Time"
    assert refused.headers["vary"] == "Origin"
    foreign = web_intake.post(headers={"origin": "https://evil.example"})
    assert foreign.status_code == 403
    assert "access-control-allow-origin" not in foreign.headers


def _form(intake: RunningIntake, **fields: Any) -> httpx.Response:
    return httpx.post(intake.api, data=comment_fields(**fields), timeout=10)


def test_form_post_redirects_to_allowed_redirect(web_intake: RunningIntake) -> None:
    response = _form(web_intake, redirect=f"{PREVIEW}/blog/hello/?lang=en#old")
    assert response.status_code == 303
    assert response.headers["location"] == f"{PREVIEW}/blog/hello/?lang=en#afterword-pending"


def test_form_post_approved_comment_gets_its_own_fragment(
    start_intake: Callable[..., RunningIntake],
) -> None:
    intake = start_intake(moderation={"trusted": ["ada@example.org"]})
    response = _form(intake, redirect=f"{SITE}/blog/hello/")
    assert response.headers["location"] == f"{SITE}/blog/hello/#afterword-approved"


@pytest.mark.parametrize(
    "redirect",
    [
        "https://evil.example/blog/hello/",
        "//evil.example/",
        "https://blog.example.com.evil.example/",
        "javascript:alert(1)",
        "",
        None,
    ],
)
def test_form_post_refuses_open_redirect(web_intake: RunningIntake, redirect: str | None) -> None:
    response = _form(web_intake, redirect=redirect, page="https://anything.example/blog/hello/")
    assert response.status_code == 303
    assert response.headers["location"] == f"{SITE}/blog/hello/#afterword-pending"


def test_form_post_error_returns_to_the_form(web_intake: RunningIntake) -> None:
    response = _form(
        web_intake, redirect=f"{SITE}/blog/hello/?afterword_error=old&x=1", body="", email="no"
    )
    assert response.status_code == 303
    assert response.headers["location"] == (
        f"{SITE}/blog/hello/?x=1&afterword_error=invalid&afterword_fields=body%2Cemail"
        "#afterword-error"
    )


def test_form_post_unparseable_goes_back_to_the_site(web_intake: RunningIntake) -> None:
    response = httpx.post(
        web_intake.api,
        content=b"body=%FF",
        headers={"content-type": "application/x-www-form-urlencoded"},
        timeout=10,
    )
    assert response.status_code == 303
    assert response.headers["location"] == f"{SITE}/?afterword_error=malformed#afterword-error"


def test_form_post_rate_limited_redirect_keeps_retry_after(
    start_intake: Callable[..., RunningIntake],
) -> None:
    intake = start_intake(limits={"per_minute": 1, "per_hour": 0})
    assert _form(intake, body="one").status_code == 303
    response = _form(intake, body="two", redirect=f"{SITE}/blog/hello/")
    assert response.headers["location"] == (
        f"{SITE}/blog/hello/?afterword_error=rate_limited#afterword-error"
    )
    assert int(response.headers["retry-after"]) > 0
