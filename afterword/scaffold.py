"""``afterword init``: a commented afterword.toml generated from the setting declarations."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

from afterword.config import (
    DEFAULT_CONFIG_NAME,
    SECTIONS,
    Config,
    TargetConfig,
    setting_key,
)
from afterword.errors import ConfigError


def config_template(*, site_url: str) -> str:
    """Every setting, commented out at its default, with its help; site.url filled in."""
    lines = [
        "# afterword configuration. Every setting is shown at its default, commented out.",
        "# Environment variables AFTERWORD_<SECTION>_<KEY> override this file.",
        "# Relative paths are relative to this file. Secrets never go here.",
        "",
    ]
    for section, cls in SECTIONS.items():
        lines.append(f"[{section}]")
        for fld in dataclasses.fields(cls):
            lines.append(f"# {fld.metadata['help']}")
            value = _default(fld)
            if section == "site" and fld.name == "url":
                lines.append(f"url = {_toml(site_url)}")
            else:
                lines.append(f"# {setting_key(fld)} = {_toml(value)}")
        lines.append("")
    lines.append("# Publish targets: one table each. Examples:")
    lines.append("# [targets.site]")
    lines.append('# kind = "local"')
    lines.append('# path = "../my-site/static/comments"')
    lines.append("#")
    lines.append("# [targets.cdn]")
    lines.append('# kind = "s3"')
    lines.append('# bucket = "my-comments"')
    lines.append('# prefix = "comments/"')
    lines.append('# cloudfront_distribution_id = "E123EXAMPLE"')
    for fld in dataclasses.fields(TargetConfig):
        lines.append(f"#   {fld.name}: {fld.metadata['help']}")
    return "\n".join(lines) + "\n"


def write_config(directory: Path, *, site_url: str, force: bool = False) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = (directory / DEFAULT_CONFIG_NAME).absolute()
    if path.exists() and not force:
        raise ConfigError(f"{path} already exists (use --force to overwrite)")
    path.write_text(config_template(site_url=site_url), encoding="utf-8")
    return path


def _default(fld: dataclasses.Field[Any]) -> Any:
    if fld.default is not dataclasses.MISSING:
        return fld.default
    assert fld.default_factory is not dataclasses.MISSING
    return fld.default_factory()


def _toml(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    return json.dumps(value, ensure_ascii=False)


__all__ = ["Config", "config_template", "write_config"]
