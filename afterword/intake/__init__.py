"""The intake: an ASGI app that takes comment submissions and queues them in SQLite.

``create_app`` is the factory for any ASGI server::

    uvicorn --factory afterword.intake:create_app      # config from $AFTERWORD_CONFIG

``afterword serve`` runs it on uvicorn for you (``server.serve``); tests, the demo and the
benches use ``server.BackgroundServer``.
"""

from __future__ import annotations

from starlette.applications import Starlette

from afterword.config import Config, load_config
from afterword.intake.app import build_app

__all__ = ["create_app"]


def create_app(config: Config | None = None, *, workers: int = 1) -> Starlette:
    """Build the app for ``config``, or for the config ``load_config()`` finds.

    ``workers`` > 1 says this is one of several processes writing the same database.
    """
    return build_app(config if config is not None else load_config(), workers)
