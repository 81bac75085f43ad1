"""Which origins may post, and where a form post may be sent back to.

One allowlist serves both questions: ``site.allowed_origins`` plus the origin of ``site.url``.
CORS answers name the requesting origin (never ``*``) and always carry ``Vary: Origin`` so a
cache between us and the browser cannot hand one origin's answer to another. The same list
keeps the form post's ``redirect`` field from becoming an open redirect.
"""

from __future__ import annotations

from collections.abc import Iterable
from urllib.parse import quote, urlsplit

from afterword.config import Config

PREFLIGHT_MAX_AGE = "86400"
ALLOWED_METHODS = "POST, OPTIONS"
ALLOWED_HEADERS = "Content-Type, Accept"
# /api/comments/<id>: an author's edit or delete, with the capability in Authorization.
EDIT_METHODS = "PATCH, DELETE, OPTIONS"
EDIT_HEADERS = "Content-Type, Accept, Authorization"
# Not CORS-safelisted, so a cross-origin fetch could not read them otherwise (the widget shows
# "try again in N seconds" from Retry-After).
EXPOSED_HEADERS = "Retry-After, X-Response-Time"
DEFAULT_PORTS = {"http": 80, "https": 443}
URL_SAFE = "/%:@!$&'()*+,;=-._~?"


def origin_of(url: str) -> str | None:
    """``scheme://host[:port]`` in canonical form (lowercase, default port dropped), or None."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    if scheme not in DEFAULT_PORTS or not parts.hostname:
        return None
    host = parts.hostname.lower()
    if ":" in host:
        host = f"[{host}]"
    if port is not None and port != DEFAULT_PORTS[scheme]:
        host = f"{host}:{port}"
    return f"{scheme}://{host}"


class OriginPolicy:
    """The allowlist, plus the helpers that answer CORS and choose redirect targets."""

    def __init__(self, site_url: str, allowed: Iterable[str]) -> None:
        self.site_origin = origin_of(site_url) or site_url.rstrip("/")
        origins = [origin_of(entry) for entry in [site_url, *allowed]]
        self.origins = frozenset(origin for origin in origins if origin)

    @classmethod
    def from_config(cls, config: Config) -> OriginPolicy:
        return cls(config.site.url, config.site.allowed_origins)

    def allows(self, origin: str | None) -> bool:
        """An Origin header value on the list (a bare origin: no path, query or user)."""
        if origin is None or origin_of(origin) not in self.origins:
            return False
        parts = urlsplit(origin)
        return parts.path in ("", "/") and not parts.query and parts.username is None

    def cors_headers(self, origin: str | None) -> dict[str, str]:
        """Headers for an actual (non-preflight) response."""
        if not self.allows(origin):
            return {"Vary": "Origin"}
        assert origin is not None
        return {
            "Access-Control-Allow-Origin": origin,
            "Access-Control-Expose-Headers": EXPOSED_HEADERS,
            "Vary": "Origin",
        }

    def preflight_headers(
        self, origin: str, methods: str = ALLOWED_METHODS, headers: str = ALLOWED_HEADERS
    ) -> dict[str, str]:
        return {
            "Access-Control-Allow-Origin": origin,
            "Access-Control-Allow-Methods": methods,
            "Access-Control-Allow-Headers": headers,
            "Access-Control-Max-Age": PREFLIGHT_MAX_AGE,
            "Vary": "Origin",
        }

    def redirect_target(self, redirect: object, page_key: str | None) -> str:
        """The ``redirect`` field if its origin is allowed, else the page on the site.

        The target is rebuilt from its canonical origin and a percent-encoded path and query:
        user info, fragments and stray characters never reach the Location header.
        """
        origin = origin_of(redirect) if isinstance(redirect, str) else None
        if isinstance(redirect, str) and origin in self.origins:
            parts = urlsplit(redirect.strip())
            path = quote(parts.path or "/", safe=URL_SAFE)
            query = f"?{quote(parts.query, safe=URL_SAFE)}" if parts.query else ""
            return f"{origin}{path}{query}"
        return self.site_origin + quote(page_key or "/", safe=URL_SAFE)
