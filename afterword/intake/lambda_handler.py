"""The intake on AWS Lambda: the same ASGI app, through Mangum (``afterword[lambda]``).

Set the function's handler to ``afterword.intake.lambda_handler.handler`` and put it behind a
Lambda Function URL or an API Gateway HTTP API (payload format 2.0); deploy/afterword-intake.yaml
and docs/deploying.md have the recipe. Every request is parsed, validated, rendered and refused
exactly as by ``afterword serve``, then sent to SQS; ``afterword pull`` stores it elsewhere.

A Lambda has no config file and no disk worth keeping, so the config comes from ``AFTERWORD_*``
environment variables only, and ``AFTERWORD_INTAKE_QUEUE`` must be the queue URL. The client is
the event's ``requestContext.http.sourceIp`` (Mangum's ``scope["client"]``), which AWS sets
from the connection: ``intake.trusted_proxies`` is refused here, since believing
``X-Forwarded-For`` would let a client choose its own address.

``handler`` is built when the runtime first looks it up, during the cold start: a bad setting
then ends the start with one line, ``afterword: Error: …`` (exit status 1), in the function's
log. The app's lifespan is not run per invocation (Mangum would start and stop it every time);
the SQS sender starts once, with the handler.
"""

from __future__ import annotations

import asyncio
import os
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from mangum import Mangum

from afterword.config import Config, build_config
from afterword.errors import AfterwordError, ConfigError
from afterword.intake.app import Intake, build_app

__all__ = ["handler", "lambda_config", "make_handler"]

handler: Mangum  # not assigned here: ``__getattr__`` builds it on first lookup
_built: Mangum | None = None


def lambda_config(environ: Mapping[str, str]) -> Config:
    """The config from ``AFTERWORD_*`` variables alone; the queue URL is required."""
    config = build_config({}, environ, root=Path(tempfile.gettempdir()))
    if config.intake.queue == "sqlite":
        raise ConfigError(
            "AFTERWORD_INTAKE_QUEUE must be the SQS queue URL: a Lambda intake sends every "
            "submission to SQS for `afterword pull`"
        )
    if config.intake.trusted_proxies:
        raise ConfigError(
            "AFTERWORD_INTAKE_TRUSTED_PROXIES must be empty in a Lambda: the client is the "
            "event's sourceIp, never an X-Forwarded-For header"
        )
    return config


class LoopOwningMangum(Mangum):
    """Mangum, each invocation on an event loop that is made for it and closed after it.

    Mangum makes a loop when it is constructed and takes ``asyncio.get_event_loop()`` when
    called, and nobody ever closes that loop (a ResourceWarning later, anywhere). Nothing in
    the app is bound to a loop (the SQS sender runs on threads): a fresh one costs its setup.
    """

    def _setup_event_loop(self) -> None:
        """Mangum's own loop at construction, made and never closed: not wanted here."""

    def __call__(self, event: Any, context: Any) -> Any:
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        try:
            return super().__call__(event, context)
        finally:
            asyncio.set_event_loop(None)
            loop.close()


def make_handler(environ: Mapping[str, str]) -> Mangum:
    """A Lambda handler for the config in ``environ``, its SQS sender already started."""
    app = build_app(lambda_config(environ))
    intake: Intake = app.state.intake
    intake.writer.start()
    return LoopOwningMangum(app, lifespan="off")


def __getattr__(name: str) -> Any:
    """``handler``, built from ``os.environ`` on first lookup (the cold start)."""
    global _built
    if name != "handler":
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    if _built is None:
        try:
            _built = make_handler(os.environ)
        except AfterwordError as exc:
            raise SystemExit(f"afterword: Error: {exc}") from None
    return _built
