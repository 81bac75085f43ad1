"""``afterword policy``: print what lets readers fetch an s3 target's comments.

Print, never apply: applying needs ``s3:PutBucketPolicy`` and ``s3:PutBucketCORS``, which the
minimal publishing policy deliberately leaves out. The documents are made by
``output.policies`` (tested against the moto server and Chromium with the blocks of
docs/publishing.md), so what this prints is what the docs show, for this target's names.
"""

from __future__ import annotations

import click

from afterword.cli.common import json_option, print_json, with_config
from afterword.config import Config, TargetConfig
from afterword.errors import ConfigError

APPLY = {
    "bucket-policy": "aws s3api put-bucket-policy --bucket {bucket} --policy file://bucket-policy.json",
    "public-access-block": (
        "aws s3api put-public-access-block --bucket {bucket} "
        "--public-access-block-configuration file://public-access-block.json"
    ),
    "cors": "aws s3api put-bucket-cors --bucket {bucket} --cors-configuration file://cors.json",
}


@click.command("policy")
@with_config
@click.option(
    "--target", "target_name", default=None, help="The s3 target (default: the only one)."
)
@click.option(
    "--reader",
    type=click.Choice(["cloudfront", "website"]),
    default="cloudfront",
    show_default=True,
    help="Readers come through CloudFront (OAC), or straight from a public bucket.",
)
@click.option(
    "--origin",
    "origins",
    multiple=True,
    help="A site origin that reads the comments from another origin (repeatable): adds CORS.",
)
@click.option("--account-id", default="", help="Your AWS account id (for --reader cloudfront).")
@json_option
def policy(
    config: Config,
    target_name: str | None,
    reader: str,
    origins: tuple[str, ...],
    account_id: str,
    as_json: bool,
) -> None:
    """Print the bucket policy and CORS rule that let readers fetch an s3 target's comments."""
    from afterword.output.policies import as_json as document_json
    from afterword.output.policies import reader_documents

    name, target = _s3_target(config, target_name)
    documents = reader_documents(
        name, target, reader=reader, origins=origins, account_id=account_id
    )
    if as_json:
        print_json(documents)
        return
    for kind, document in documents.items():
        click.echo(f"# {kind}.json — apply with: {APPLY[kind].format(bucket=target.bucket)}")
        click.echo(document_json(document))


def _s3_target(config: Config, name: str | None) -> tuple[str, TargetConfig]:
    s3 = sorted(n for n, t in config.targets.items() if t.kind == "s3")
    if name is not None:
        from afterword.output import target_config

        return name, target_config(config, name)
    if len(s3) == 1:
        return s3[0], config.targets[s3[0]]
    if not s3:
        raise ConfigError(
            f"{config.source or 'config'}: no kind = 's3' target to make a policy for "
            "(see docs/publishing.md)"
        )
    raise ConfigError(f"several s3 targets ({', '.join(s3)}): choose one with --target")


COMMANDS = [policy]
