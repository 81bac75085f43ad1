"""``afterword init`` and ``afterword migrate``."""

from __future__ import annotations

from pathlib import Path

import click

from afterword.cli.common import store_for, with_config
from afterword.config import DEFAULT_CONFIG_NAME, Config, load_config
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
    """Write a commented afterword.toml and create the database.

    With an afterword.toml already there (say, from the site's repository) and no database
    yet, the file is kept and only the database is created; --force rewrites the file.
    """
    folder = Path(directory)
    existing = (folder / DEFAULT_CONFIG_NAME).absolute()
    kept = load_config(existing) if existing.is_file() and not force else None
    if kept is not None and not kept.database_path.exists():
        config, first = kept, f"Kept {existing} and created {kept.database_path}"
    else:  # refuses to overwrite an existing file without --force
        config = load_config(write_config(folder, site_url=site_url, force=force))
        database = config.database_path
        done = "kept the existing" if database.exists() else "created"  # --force keeps data
        first = f"Wrote {config.source} and {done} {database}"
    with store_for(config, create=True):
        pass
    click.echo(first)
    click.echo(next_steps(folder, config))


def next_steps(folder: Path, config: Config) -> str:
    """The three commands that come next, so a new site is not a blank prompt."""
    here = folder.absolute() == Path.cwd()
    lines = ["Next:" if here else f"Next, in {folder}:"]
    for command, why in (
        ("afterword serve", f"accept comments posted to {config.intake_url}"),
        ("afterword review", "approve or reject what arrives"),
        ("afterword build", f"render approved comments into {config.output_dir}"),
    ):
        lines.append(f"  {command:<18} {why}")
    return "\n".join(lines)


@click.command("migrate")
@with_config
def migrate_command(config: Config) -> None:
    """Apply pending database migrations (opening the database does this too)."""
    with store_for(config, migrate=False) as store:
        applied = apply_migrations(store)
    click.echo(f"Applied {len(applied)} migration(s)" if applied else "Database is up to date")
