"""The ``afterword`` command: a click group whose commands live in small modules beside this.

Commands are thin: parse, call one library function, print a summary (or JSON with ``--json``).
Every ``AfterwordError`` becomes a one-line ``Error: …`` (a JSON error with ``--json``) and its
exit code in one place, ``common.AfterwordGroup``. ``--help`` lists commands as ``WORKFLOW``
orders them.
"""

from __future__ import annotations

import click

from afterword import __version__
from afterword.cli import (
    build,
    demo,
    moderation,
    notify,
    package_lambda,
    policy,
    publish,
    pull,
    reply,
    serve,
    transfer,
)
from afterword.cli.common import AfterwordGroup
from afterword.cli.setup import init_command, migrate_command


@click.group(
    cls=AfterwordGroup,
    # up to 100 columns when the terminal has them, so each command's summary fits one line
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
)
@click.version_option(__version__, prog_name="afterword")
@click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False),
    envvar="AFTERWORD_CONFIG",
    help="Config file (default ./afterword.toml).",
)
@click.pass_context
def main(ctx: click.Context, config_path: str | None) -> None:
    """afterword: comments for static sites, with no live read path."""
    ctx.obj = {"config_path": config_path}


# The order of --help is the order of the work: set up, collect, moderate, publish, maintain.
WORKFLOW = (
    init_command,
    serve.serve,
    pull.pull,
    moderation.queue_command,
    moderation.review_command,
    moderation.approve_command,
    moderation.reject_command,
    moderation.spam_command,
    moderation.delete_command,
    reply.reply_command,
    build.build,
    publish.publish,
    publish.rebuild,
    publish.watch,
    notify.notify_command,
    publish.doctor,
    policy.policy,
    package_lambda.package_lambda,
    transfer.import_group,
    transfer.export,
    transfer.erase,
    migrate_command,
    demo.demo_command,
)
for command in WORKFLOW:
    main.add_command(command)
