"""The intake's URL paths, each written once: routing, metrics labels and answers use these."""

from __future__ import annotations

COMMENTS = "/api/comments"
HEALTH = "/healthz"
METRICS = "/metrics"
ROUTES = frozenset({COMMENTS, HEALTH, METRICS})
