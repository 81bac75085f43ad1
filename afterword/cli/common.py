"""What every command shares: error translation, --config, the store, output modes."""

from __future__ import annotations

import functools
import getpass
import json
import os
import sqlite3
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, NoReturn, TypeVar

import click

from afterword.config import Config, load_config
from afterword.errors import AfterwordError
from afterword.store import Store, open_store

F = TypeVar("F", bound=Callable[..., Any])


def fail(message: str, exit_code: int) -> NoReturn:
    """End the command with ``Error: message`` on stderr and the error's exit code.

    Click's own ``ClickException`` fixes its exit code per class, and ours varies per error,
    so we print and exit through ``click.exceptions.Exit`` instead of subclassing it.
    """
    click.echo(f"Error: {message}", err=True)
    raise click.exceptions.Exit(exit_code)


class AfterwordGroup(click.Group):
    """Turns afterword's errors into ``Error: …`` lines, never tracebacks."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except AfterwordError as exc:
            fail(str(exc), exc.exit_code)
        except sqlite3.Error as exc:
            fail(f"database error: {exc}", 1)
        except (click.ClickException, click.exceptions.Exit, click.Abort):
            raise
        except Exception as exc:
            if os.environ.get("AFTERWORD_DEBUG"):
                raise
            name = type(exc).__name__
            fail(f"internal error: {name}: {exc} (set AFTERWORD_DEBUG=1 for the traceback)", 1)


def with_config(func: F) -> F:
    """Add ``--config`` to a command and pass the loaded ``Config`` as ``config``."""

    @click.option(
        "--config",
        "config_path",
        type=click.Path(dir_okay=False),
        default=None,
        help="Config file (default: $AFTERWORD_CONFIG or ./afterword.toml).",
    )
    @functools.wraps(func)
    def wrapper(*args: Any, config_path: str | None, **kwargs: Any) -> Any:
        ctx = click.get_current_context()
        chosen = config_path or (ctx.find_root().obj or {}).get("config_path")
        return func(*args, config=load_config(chosen), **kwargs)

    return wrapper  # type: ignore[return-value]


@contextmanager
def store_for(config: Config, *, migrate: bool = True) -> Iterator[Store]:
    store = open_store(
        config.database_path, busy_timeout_ms=config.database.busy_timeout_ms, migrate=migrate
    )
    try:
        yield store
    finally:
        store.close()


def actor_name(config: Config) -> str:
    """Who the moderation log says acted: the configured name, else the login name."""
    if config.moderation.moderator:
        return config.moderation.moderator
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "cli"


def print_json(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, ensure_ascii=True, sort_keys=True))


def show_progress(quiet: bool, as_json: bool) -> bool:
    """Progress bars only for a person at a terminal; scripts get silence."""
    return not quiet and not as_json and sys.stderr.isatty()


json_option = click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")
quiet_option = click.option("--quiet", "-q", is_flag=True, help="No progress, no summary.")
