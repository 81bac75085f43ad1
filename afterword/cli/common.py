"""What every command shares: error translation, --config, the store, output modes."""

from __future__ import annotations

import functools
import getpass
import json
import os
import re
import sqlite3
import sys
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar

import click

from afterword.config import Config, load_config
from afterword.errors import AfterwordError
from afterword.store import Store, open_store, require_database

if TYPE_CHECKING:
    from click._termui_impl import ProgressBar

F = TypeVar("F", bound=Callable[..., Any])


JSON_FLAG = "afterword.as_json"  # ctx.meta key: the invoked command's --json, once parsed
RAW_ARGS = "afterword.args"  # ctx.meta key: the words after the group's own options


def error_code(exc: BaseException) -> str:
    """The ``code`` of a JSON error: the exception's class in snake case, minus "Error".

    ``ConfigError`` is "config", ``DatabaseMissing`` "database_missing": derived, so a new
    subclass in ``afterword.errors`` gets its own code without a table to keep in step.
    """
    name = type(exc).__name__.removesuffix("Error") or "error"
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def fail(message: str, exit_code: int, *, code: str = "error", as_json: bool = False) -> NoReturn:
    """End the command with ``Error: message`` on stderr (or a JSON error on stdout).

    Click's own ``ClickException`` fixes its exit code per class, and ours varies per error,
    so we print and exit through ``click.exceptions.Exit`` instead of subclassing it. With
    ``--json`` a script reads ``{"error": {"code", "message", "exit_code"}}`` on stdout,
    where it reads every other answer, and the exit code is the same as without.
    """
    if as_json:
        print_json({"error": {"code": code, "message": message, "exit_code": exit_code}})
    else:
        click.echo(f"Error: {message}", err=True)
    raise click.exceptions.Exit(exit_code)


class OrderedGroup(click.Group):
    """Lists commands in ``--help`` in the order they were added, each with its whole summary.

    The order is the order of the workflow, not the alphabet, and the summary is the
    command's whole first sentence rather than one cut off with "...".
    """

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(self.commands)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = []
        for name in self.list_commands(ctx):
            command = self.get_command(ctx, name)
            if command is not None and not command.hidden:
                rows.append((name, command.get_short_help_str(limit=sys.maxsize)))
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)


def usage_line(exc: click.UsageError, command_path: str) -> str:
    """Click's usage error as one line, with where to read more.

    Click prints three (the usage, "Try … for help.", then the error); the project's rule is
    one ``Error: …`` line for every failure, which a script can grep and a person reads at a
    glance. The hint keeps the way to the command's help, on the same line. Click's parser
    leaves ``exc.ctx`` unset for some errors ("requires an argument"), hence ``command_path``,
    the command the caller found the words to name.
    """
    message = " ".join(exc.format_message().split())
    if exc.ctx is not None:
        command_path = exc.ctx.command_path
    return f"{message} (see {command_path} --help)"


class AfterwordGroup(OrderedGroup):
    """Turns afterword's errors into ``Error: …`` lines (JSON with ``--json``), never tracebacks.

    Usage errors too, wherever click raises them: the group's own options
    (``make_context``), an unknown command, a subcommand's options and arguments, nested
    groups (``invoke``). A group called with no command still prints its help, as click does.
    """

    def make_context(
        self,
        info_name: str | None,
        args: list[str],
        parent: click.Context | None = None,
        **extra: Any,
    ) -> click.Context:
        try:
            return super().make_context(info_name, args, parent, **extra)
        except click.exceptions.NoArgsIsHelpError:
            raise
        except click.UsageError as exc:
            fail(usage_line(exc, info_name or self.name or ""), exc.exit_code, code="usage")

    def resolve_command(
        self, ctx: click.Context, args: list[str]
    ) -> tuple[str | None, click.Command | None, list[str]]:
        ctx.meta.setdefault(RAW_ARGS, list(args))
        return super().resolve_command(ctx, args)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except AfterwordError as exc:
            fail(str(exc), exc.exit_code, code=error_code(exc), as_json=self.wants_json(ctx))
        except sqlite3.Error as exc:
            fail(f"database error: {exc}", 1, code="database", as_json=self.wants_json(ctx))
        except click.exceptions.Exit:
            raise
        except click.exceptions.NoArgsIsHelpError:
            raise  # ``afterword import`` alone: its help, as for a bare ``afterword``
        except click.UsageError as exc:
            if self.wants_json(ctx):
                fail(exc.format_message(), exc.exit_code, code="usage", as_json=True)
            names, _ = self._named(ctx, ctx.meta.get(RAW_ARGS, []))
            path = " ".join([ctx.command_path, *names])
            fail(usage_line(exc, path), exc.exit_code, code="usage")
        except click.ClickException as exc:
            if not self.wants_json(ctx):
                raise
            fail(exc.format_message(), exc.exit_code, code="usage", as_json=True)
        except click.Abort:
            if not self.wants_json(ctx):
                raise
            fail("aborted", 1, code="aborted", as_json=True)
        except Exception as exc:
            if os.environ.get("AFTERWORD_DEBUG"):
                raise
            name = type(exc).__name__
            fail(
                f"internal error: {name}: {exc} (set AFTERWORD_DEBUG=1 for the traceback)",
                1,
                code="internal",
                as_json=self.wants_json(ctx),
            )

    def wants_json(self, ctx: click.Context) -> bool:
        """Whether the invoked command was given ``--json``.

        The flag is eager, so its callback has recorded it before any other option can
        fail. Only when parsing itself failed (an unknown option, say) is it looked for in
        the words typed, and then only for a command that has ``--json``.
        """
        recorded = ctx.meta.get(JSON_FLAG)
        if recorded is not None:
            return bool(recorded)
        words: list[str] = ctx.meta.get(RAW_ARGS, [])
        words = words[: words.index("--")] if "--" in words else words
        if "--json" not in words:
            return False
        _, command = self._named(ctx, words)
        return command is not None and any(p.name == "as_json" for p in command.params)

    def _named(
        self, ctx: click.Context, words: list[str]
    ) -> tuple[list[str], click.Command | None]:
        """The command names the words start with (through nested groups such as
        ``import``), and the command they end at: None unless it is a known leaf."""
        command: click.Command = self
        rest, names = words, list[str]()
        while isinstance(command, click.Group):
            plain = [w for w in rest if not w.startswith("-")]
            found = command.get_command(ctx, plain[0]) if plain else None
            if found is None:
                return names, None
            names.append(plain[0])
            command, rest = found, rest[rest.index(plain[0]) + 1 :]
        return names, command


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
def store_for(config: Config, *, migrate: bool = True, create: bool = False) -> Iterator[Store]:
    """The config's database, open; it must exist unless ``create`` (``init`` only)."""
    if not create:
        require_database(config.database_path, config.source)
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


@contextmanager
def progress_bar(label: str, shown: bool) -> Iterator[Callable[[int, int], None] | None]:
    """A ``(done, total)`` callback drawing a bar on stderr, or None when not ``shown``.

    The bar is made at the first report, when the total is known and the work has begun.
    Made earlier, its clock would count the start-up (imports, planning, spawning render
    workers) as the time of the first item, and click's ETA, which it samples at most once a
    second, would stay at that rate: a 1.2 s build of 340 pages showed "0% 00:05:43".
    """
    if not shown:
        yield None
        return
    with ExitStack() as stack:
        bars: list[ProgressBar[int]] = []

        def update(done: int, total: int) -> None:
            if not bars:
                bar = click.progressbar(length=max(total, done), label=label, file=sys.stderr)
                bars.append(stack.enter_context(bar))
            bar = bars[0]
            bar.length = max(total, done)
            bar.update(done - bar.pos)

        yield update


def _remember_json(ctx: click.Context, param: click.Parameter, value: bool) -> bool:
    ctx.meta[JSON_FLAG] = value
    return value


json_option = click.option(
    "--json",
    "as_json",
    is_flag=True,
    is_eager=True,  # recorded before any other option can fail, so that error is JSON too
    callback=_remember_json,
    help="Print JSON for scripts (errors too).",
)
quiet_option = click.option("--quiet", "-q", is_flag=True, help="No progress, no summary.")
