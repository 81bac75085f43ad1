"""``afterword serve``: run the intake (the HTTP endpoint the comment form posts to)."""

from __future__ import annotations

import click

from afterword.cli.common import with_config
from afterword.config import Config
from afterword.store import require_database


@click.command("serve")
@click.option("--host", default=None, help="Address to listen on (default: intake.host).")
@click.option(
    "--port", type=click.IntRange(0, 65535), default=None, help="Port (default: intake.port)."
)
@click.option(
    "--workers",
    type=click.IntRange(1, 64),
    default=1,
    show_default=True,
    help="Intake processes sharing the port and the database (at most one per free core); "
    "rate limits then count per worker.",
)
@with_config
def serve(config: Config, host: str | None, port: int | None, workers: int) -> None:
    """Accept comment submissions over HTTP until interrupted.

    POST /api/comments takes JSON or form posts and queues them for `afterword review`;
    GET /healthz and GET /metrics are for monitoring. Nothing here serves comments.
    """
    from afterword.intake.server import serve as serve_intake  # uvicorn: only when serving

    if config.intake.queue == "sqlite":  # an SQS intake has no database on this machine
        require_database(config.database_path, config.source)  # never collect into a new file
    serve_intake(config, host, port, workers=workers)


COMMANDS = [serve]
