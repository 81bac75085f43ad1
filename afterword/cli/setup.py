"""``afterword init`` and ``afterword migrate``."""

from __future__ import annotations

from pathlib import Path

import click

from afterword.cli.common import store_for, with_config
from afterword.config import Config, load_config
from afterword.scaffold import write_config
from afterword.store import apply_migrations


@click.command("init")
@click.argument("directory", type=click.Path(file_okay=False), default=".")
@click.option(
    "--site-url",
    default="http://127.0.0.1:8080",
    show_default=True,
    help="Public URL of the static site.",
)
@click.option("--force", is_flag=True, help="Overwrite an existing afterword.toml.")
def init_command(directory: str, site_url: str, force: bool) -> None:
    """Write a commented afterword.toml and create the database."""
    config_path = write_config(Path(directory), site_url=site_url, force=force)
    config = load_config(config_path)
    with store_for(config):
        pass
    click.echo(f"Wrote {config_path} and created {config.database_path}")


@click.command("migrate")
@with_config
def migrate_command(config: Config) -> None:
    """Apply pending database migrations (opening the database does this too)."""
    with store_for(config, migrate=False) as store:
        applied = apply_migrations(store)
    click.echo(f"Applied {len(applied)} migration(s)" if applied else "Database is up to date")
