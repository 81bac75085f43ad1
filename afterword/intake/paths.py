"""The intake's URL paths, each written once: routing, metrics labels and answers use these."""

from __future__ import annotations

COMMENTS = "/api/comments"
COMMENT = "/api/comments/{comment_id:int}"  # one comment: PATCH (edit) and DELETE by its author
HEALTH = "/healthz"
METRICS = "/metrics"
MODERATE = "/moderate/{token}"
MODERATE_PREFIX = "/moderate"  # every path under it is answered in HTML, errors included
SUBSCRIPTION = "/subscription/{token}"  # commenters' confirm and unsubscribe links (HTML)
SUBSCRIPTION_PREFIX = "/subscription"
ROUTES = frozenset({COMMENTS, HEALTH, METRICS})


def route_label(path: str) -> str:
    """The metrics label for a request path: a route template, never a raw id (bounded)."""
    if path in ROUTES:
        return path
    head, _, tail = path.rpartition("/")
    if head == COMMENTS and tail.isascii() and tail.isdigit():
        return COMMENT
    if path.startswith(MODERATE_PREFIX + "/"):
        return MODERATE
    if path.startswith(SUBSCRIPTION_PREFIX + "/"):
        return SUBSCRIPTION
    return "other"
