"""``afterword reply ID``: the owner answers a comment, published by the next build."""

from __future__ import annotations

import click

from afterword.cli.common import actor_name, json_option, print_json, store_for, with_config
from afterword.config import Config
from afterword.errors import ModerationError
from afterword.moderation.reply import post_reply


@click.command("reply")
@click.argument("comment_id", type=click.IntRange(1, 2**63 - 1))
@click.option("--body", default=None, help="The reply (Markdown). Without it: $EDITOR opens.")
@json_option
@with_config
def reply_command(config: Config, comment_id: int, body: str | None, as_json: bool) -> None:
    """Reply to a comment as [moderation] owner, approved at once.

    A pending comment replied to is approved too. The reply is marked as the owner's in the
    published JSON and HTML.
    """
    with store_for(config) as store:
        if body is None:
            body = click.edit("", extension=".md")
            if body is None:
                raise ModerationError("no reply written (the editor was closed without saving)")
        reply = post_reply(config, store, comment_id, body, actor=actor_name(config))
    if as_json:
        print_json(
            {
                "id": reply.id,
                "parent": reply.parent_id,
                "page": reply.page_key,
                "approved_parent": reply.approved_parent,
            }
        )
    else:
        click.echo(reply.summary())


COMMANDS = [reply_command]
