"""``afterword queue``, ``approve``, ``reject``, ``spam``, ``delete`` and ``review``.

Thin on purpose: each parses its arguments, calls one function of ``afterword.moderation``
and prints a one-line summary or JSON. The store makes each call one transaction.
"""

from __future__ import annotations

import click

from afterword.cli.common import actor_name, json_option, print_json, store_for, with_config
from afterword.config import Config
from afterword.moderation import (
    QUEUE_STATUSES,
    Review,
    apply_action,
    echo_text,
    format_table,
    key_reader,
    list_queue,
    queue_item,
)
from afterword.moderation.queue import as_revised, list_revisions, revision_item

ids_argument = click.argument("ids", nargs=-1, type=click.IntRange(1, 2**63 - 1), required=True)


@click.command("queue")
@click.option(
    "--status",
    type=click.Choice(QUEUE_STATUSES),
    default="pending",
    show_default=True,
    help="Which comments to list.",
)
@click.option("--page", "page", metavar="PAGE", help="Only this page (a URL or page key).")
@json_option
@with_config
def queue_command(config: Config, status: str, page: str | None, as_json: bool) -> None:
    """List comments, oldest first: id, age, page, author and an excerpt.

    With --status all, a STATUS column says which comment is pending, approved, spam...
    Edits of published comments by their authors (revisions) are listed after the pending
    comments: approve ID publishes the new text, reject ID keeps the published one.
    """
    with store_for(config) as store:
        comments = list_queue(store, status=status, page=page)
        revisions = list_revisions(store, page=page) if status in ("pending", "all") else []
        if as_json:
            print_json(
                {
                    "status": status,
                    "count": len(comments),
                    "comments": [queue_item(c) for c in comments],
                    "revisions": [revision_item(c, r) for c, r in revisions],
                }
            )
            return
        if comments:
            echo_text(format_table(comments, show_status=status == "all"))
        else:
            click.echo(f"No {'' if status == 'all' else status + ' '}comments.")
        if revisions:
            click.echo(
                "\nRevisions by their authors, waiting "
                "(approve ID publishes the new text, reject ID keeps the old):"
            )
            echo_text(format_table([as_revised(c, r) for c, r in revisions]))


def _action_command(action: str, summary: str, *, with_reason: bool = False) -> click.Command:
    """approve / reject / spam / delete share one shape: ids in, one transaction, a summary."""

    @ids_argument
    @json_option
    @with_config
    def command(config: Config, ids: tuple[int, ...], as_json: bool, reason: str = "") -> None:
        with store_for(config) as store:
            result = apply_action(store, ids, action, actor=actor_name(config), reason=reason)
        if as_json:
            print_json(result.as_json())
        else:
            click.echo(result.summary())

    command.__doc__ = summary
    if with_reason:
        command = click.option("--reason", default="", help="Why, for the moderation log.")(command)
    return click.command(action)(command)


approve_command = _action_command(
    "approve", "Approve comments by id: they are published on the next build."
)
reject_command = _action_command(
    "reject", "Reject comments by id: they stay in the database, unpublished.", with_reason=True
)
spam_command = _action_command("spam", "Mark comments as spam by id (unpublishes approved ones).")
delete_command = _action_command(
    "delete", "Delete comments by id: marked deleted and never published."
)


@click.command("review")
@click.option("--page", "page", metavar="PAGE", help="Only this page (a URL or page key).")
@with_config
def review_command(config: Config, page: str | None) -> None:
    """Work through pending comments one at a time with single keys (? for help)."""
    with store_for(config) as store:
        Review(
            store,
            actor=actor_name(config),
            max_links=config.moderation.max_links,
            read_key=key_reader(),
            page=page,
        ).run()


COMMANDS = [
    queue_command,
    approve_command,
    reject_command,
    spam_command,
    delete_command,
    review_command,
]
