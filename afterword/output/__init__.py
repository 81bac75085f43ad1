"""Publishing: targets (one module per kind), the CDN in front of them, and the publisher.

Adding a target kind means adding one module here with ``open_target(name, config)`` that
returns a ``Target`` (see ``base.py``) and naming it in ``TARGET_MODULES``. This package knows
files and bytes only; it never imports the builder.
"""

from __future__ import annotations

import importlib
from typing import cast

from afterword.config import Config, TargetConfig
from afterword.errors import ConfigError
from afterword.output.base import Cdn, Target, Upload

TARGET_MODULES = {
    "local": "afterword.output.local",
    "s3": "afterword.output.s3",
}


def open_target(name: str, config: TargetConfig) -> Target:
    """The target of kind ``config.kind``; makes no request yet."""
    module_name = TARGET_MODULES.get(config.kind)
    if module_name is None:
        known = ", ".join(sorted(TARGET_MODULES))
        raise ConfigError(f"targets.{name}.kind: unknown kind {config.kind!r} (known: {known})")
    module = importlib.import_module(module_name)
    return cast(Target, module.open_target(name, config))


def target_config(config: Config, name: str) -> TargetConfig:
    """The named target's settings, or a ConfigError that lists the ones that exist."""
    if not config.targets:
        raise ConfigError(
            "no publish targets: add a [targets.NAME] table to afterword.toml "
            "(see docs/publishing.md)"
        )
    try:
        return config.targets[name]
    except KeyError:
        known = ", ".join(sorted(config.targets))
        raise ConfigError(f"no target named {name!r} (configured: {known})") from None


__all__ = ["TARGET_MODULES", "Cdn", "Target", "Upload", "open_target", "target_config"]
