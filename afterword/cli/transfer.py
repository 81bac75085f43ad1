"""``afterword import …``, ``afterword export`` and ``afterword erase``.

Thin on purpose: parse, call one function of ``afterword.importers``, print the fidelity
report (or JSON). Each import is one transaction, so an interrupted or failed import leaves
the database as it was.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import click

from afterword.cli.common import (
    OrderedGroup,
    actor_name,
    json_option,
    print_json,
    quiet_option,
    show_progress,
    store_for,
    with_config,
)
from afterword.config import Config
from afterword.importers.erase import count_person, erase_person
from afterword.importers.export import export_person, export_site, restore_export
from afterword.importers.run import ImportOptions, import_file, parse_mapping, source_size

SOURCES = {
    "disqus": "Import a Disqus XML export (FILE).",
    "wordpress": "Import a WordPress WXR export (FILE); pingbacks and trackbacks are skipped.",
    "isso": "Import Isso's SQLite database or its generic JSON format (FILE).",
    "staticman": "Import a folder of Staticman comment files (DIR, one folder per post).",
    "commento": "Import a Commento JSON export (FILE).",
}
path_argument = click.argument("path", type=click.Path(path_type=Path))
dry_run_option = click.option(
    "--dry-run", is_flag=True, help="Read and check everything, report, store nothing."
)


@click.group("import", cls=OrderedGroup)
def import_group() -> None:
    """Import comments from another comment system, or restore an afterword export."""


def _source_command(kind: str, help_text: str) -> click.Command:
    @click.command(kind, help=help_text)
    @path_argument
    @dry_run_option
    @click.option(
        "--status",
        type=click.Choice(["approved", "pending"]),
        default="approved",
        show_default=True,
        help="Status for comments the source had approved (deleted and spam keep theirs).",
    )
    @click.option(
        "--map-url",
        "map_url",
        multiple=True,
        metavar="OLD=NEW",
        help="Replace the URL prefix OLD with NEW (repeatable; for moved sites).",
    )
    @json_option
    @quiet_option
    @with_config
    def command(
        config: Config,
        path: Path,
        dry_run: bool,
        status: str,
        map_url: tuple[str, ...],
        as_json: bool,
        quiet: bool,
    ) -> None:
        options = ImportOptions(status=status, map_urls=parse_mapping(map_url), dry_run=dry_run)
        with store_for(config) as store, import_progress(kind, path, quiet, as_json) as tick:
            report = import_file(store, kind, path, options, tick)
        if as_json:
            print_json(report.to_dict())
        elif not quiet:
            click.echo("\n".join(report.to_lines()))

    return command


@contextmanager
def import_progress(
    kind: str, path: Path, quiet: bool, as_json: bool
) -> Iterator[Callable[[int], None] | None]:
    """A bar on stderr for a person at a terminal, sized in the parser's units."""
    length = source_size(kind, path) if show_progress(quiet, as_json) else 0
    if not length:
        yield None
        return
    with click.progressbar(length=length, label=f"Importing {kind}", file=sys.stderr) as bar:

        def tick(position: int) -> None:
            bar.update(max(0, position - bar.pos))

        yield tick


for _kind, _help in SOURCES.items():
    import_group.add_command(_source_command(_kind, _help))


@import_group.command("afterword")
@path_argument
@dry_run_option
@json_option
@quiet_option
@with_config
def import_afterword(config: Config, path: Path, dry_run: bool, as_json: bool, quiet: bool) -> None:
    """Restore an afterword export (FILE) with its own ids, into an empty database."""
    with store_for(config) as store:
        result = restore_export(store, path, dry_run=dry_run)
    if as_json:
        print_json(result)
    elif not quiet:
        verb = "would restore" if dry_run else "restored"
        click.echo(
            f"afterword: {verb} {result['imported']} comments on {result['pages']} pages "
            f"({result['already_present']} already present, "
            f"{result['moderation_log']} moderation log entries, "
            f"{result['revisions']} author revisions)"
        )


@click.command("export")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--format", "fmt", type=click.Choice(["json"]), default="json", show_default=True,
    help="File format (docs/export-format.md).",
)  # fmt: skip
@click.option("--email", metavar="ADDRESS", help="Only this person's data (by e-mail).")
@json_option
@with_config
def export(config: Config, file: Path, fmt: str, email: str | None, as_json: bool) -> None:
    """Write pages, comments of every status, the moderation log and revisions to FILE.

    The file is private (mode 0600): it holds e-mail addresses.
    """
    with store_for(config) as store:
        counts = export_site(store, file) if email is None else export_person(store, email, file)
    if as_json:
        print_json({"path": str(file), "format": fmt, **counts})
    else:
        click.echo(
            f"Exported {counts['comments']} comments, {counts['pages']} pages, "
            f"{counts['moderation_log']} moderation log entries and "
            f"{counts['revisions']} author revisions to {file}"
        )


@click.command("erase")
@click.option("--email", required=True, metavar="ADDRESS", help="The person's e-mail address.")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@json_option
@with_config
def erase(config: Config, email: str, yes: bool, as_json: bool) -> None:
    """Remove one person's personal data from every comment.

    ``privacy.erase_mode`` says how: anonymize or delete. The address's reply-mail
    subscriptions and every unsent mail to it are removed too. Comments are matched by the
    address trimmed and lower-cased.
    """
    mode = config.privacy.erase_mode
    with store_for(config) as store:
        found = count_person(store, email)
        if found and not yes:
            click.confirm(  # on stderr with --json, so stdout stays one JSON document
                f"Erase the personal data of {found} comments ({mode}) by {email}?",
                abort=True,
                err=as_json,
            )
        result = erase_person(store, email, mode=mode, actor=actor_name(config))
    if as_json:
        print_json(
            {
                "comments": result.comments,
                "pages_bumped": result.pages_bumped,
                "mode": mode,
                "subscriptions": result.subscriptions,
                "queued_mails": result.queued_mails,
            }
        )
    else:
        line = (
            f"Erased: {result.comments} comments ({mode}); "
            f"{result.pages_bumped} pages marked for the next build"
        )
        if result.subscriptions or result.queued_mails:
            line += (
                f"; {result.subscriptions} reply subscriptions and {result.queued_mails} "
                "unsent mails removed"
            )
        click.echo(line + ".")


COMMANDS = [import_group, export, erase]
