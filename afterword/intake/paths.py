"""The intake's URL paths, each written once: routing, metrics labels and answers use these."""

from __future__ import annotations

COMMENTS = "/api/comments"
COMMENT = "/api/comments/{comment_id:int}"  # one comment: PATCH (edit) and DELETE by its author
HEALTH = "/healthz"
METRICS = "/metrics"
MODERATE = "/moderate/{token}"
MODERATE_PREFIX = "/moderate"
SUBSCRIPTION = "/subscription/{token}"  # commenters' confirm and unsubscribe links
SUBSCRIPTION_PREFIX = "/subscription"
ROUTES = frozenset({COMMENTS, HEALTH, METRICS})
# The link pages a person opens from a mail: every path under these is answered in HTML,
# in the site's language, errors included (``answers.shaped``); every other path is the API.
PAGE_PREFIXES = (MODERATE_PREFIX, SUBSCRIPTION_PREFIX)


def is_page(path: str) -> bool:
    """Whether ``path`` is one of the link pages' (a prefix itself, or a path below one)."""
    return any(path == prefix or path.startswith(prefix + "/") for prefix in PAGE_PREFIXES)


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
