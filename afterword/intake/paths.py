"""The intake's URL paths, each written once: routing, metrics labels and answers use these."""

from __future__ import annotations

COMMENTS = "/api/comments"
HEALTH = "/healthz"
METRICS = "/metrics"
MODERATE = "/moderate/{token}"
MODERATE_PREFIX = "/moderate"  # every path under it is answered in HTML, errors included
ROUTES = frozenset({COMMENTS, HEALTH, METRICS})


def route_label(path: str) -> str:
    """The bounded metrics label for a request path (a token never becomes a label)."""
    if path in ROUTES:
        return path
    if path.startswith(MODERATE_PREFIX + "/"):
        return MODERATE
    return "other"
