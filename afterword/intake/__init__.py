"""The intake: an ASGI app that takes comment submissions and queues them in SQLite.

``create_app`` is the factory for any ASGI server::

    uvicorn --factory afterword.intake:create_app      # config from $AFTERWORD_CONFIG

``afterword serve`` runs it on uvicorn for you (``server.serve``); tests, the demo and the
benches use ``server.BackgroundServer``.
"""

from __future__ import annotations

import sys

from starlette.applications import Starlette

from afterword.config import Config, load_config
from afterword.errors import AfterwordError
from afterword.intake.app import build_app
from afterword.store import require_database

__all__ = ["create_app"]


def create_app(config: Config | None = None, *, workers: int = 1) -> Starlette:
    """Build the app for ``config``, or for the config ``load_config()`` finds.

    ``workers`` > 1 says this is one of several processes writing the same database.
    Called with no config, as an ASGI server's factory, a bad config or a database that does
    not exist yet ends the server with one ``Error: …`` line and the CLI's exit code, rather
    than a traceback or, worse, comments collected into a new empty database nobody reviews.
    """
    if config is not None:
        return build_app(config, workers)
    try:
        found = load_config()
        if found.intake.queue == "sqlite":  # an SQS intake has no database here
            require_database(found.database_path, found.source)
    except AfterwordError as exc:
        print(f"Error: {exc}", file=sys.stderr, flush=True)
        raise SystemExit(exc.exit_code) from None
    return build_app(found, workers)
