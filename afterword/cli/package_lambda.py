"""``afterword package-lambda``: build the zip that deploy/afterword-intake.yaml deploys."""

from __future__ import annotations

from pathlib import Path

import click

from afterword.cli.common import json_option, print_json

DEFAULT_OUTPUT = "afterword-lambda.zip"


@click.command("package-lambda")
@click.option(
    "--output",
    "-o",
    type=click.Path(dir_okay=False, path_type=Path),
    default=DEFAULT_OUTPUT,
    show_default=True,
    help="Zip file to write (replaced if it exists).",
)
@click.option(
    "--python-version",
    type=click.Choice(["3.11", "3.12", "3.13"]),
    default="3.11",
    show_default=True,
    help="The function's Python runtime (python3.11 …).",
)
@click.option(
    "--architecture",
    type=click.Choice(["x86_64", "arm64"]),
    default="x86_64",
    show_default=True,
    help="The function's architecture.",
)
@json_option
def package_lambda(output: Path, python_version: str, architecture: str, as_json: bool) -> None:
    """Build the Lambda deployment zip: afterword and its intake's Linux dependencies.

    Wheels are fetched with pip for the Lambda platform (not this machine's), so it works
    anywhere pip can reach an index. Handler: afterword.intake.lambda_handler.handler.
    """
    from afterword.intake.lambda_package import HANDLER, build_lambda_zip

    built = build_lambda_zip(output, python_version=python_version, architecture=architecture)
    if as_json:
        print_json(
            {
                "path": str(built.path),
                "files": built.files,
                "bytes": built.size,
                "python_version": built.python_version,
                "architecture": built.architecture,
                "handler": HANDLER,
            }
        )
        return
    click.echo(
        f"Wrote {built.path} ({built.size / 1e6:.1f} MB, {built.files} files) for "
        f"python{built.python_version} on {built.architecture}; handler {HANDLER}"
    )


COMMANDS = [package_lambda]
