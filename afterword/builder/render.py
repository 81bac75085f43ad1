"""The Jinja environment, made once per build (its strings come from ``afterword.strings``).

User templates come first (``build.templates_dir``), the built-in ones second, and the
built-ins stay reachable as ``!afterword/<name>`` so an override can extend what it replaces.
Autoescape is on for every template and undefined names fail loudly (``StrictUndefined``):
a typo in a user template must stop the build, not publish an empty string to a CDN for a
year.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from importlib import resources
from pathlib import Path
from typing import Any

import jinja2

from afterword.config import Config
from afterword.errors import BuildError

PACKAGE_PREFIX = "!afterword"


def make_environment(templates_dir: str) -> jinja2.Environment:
    """One environment per build: templates compile once, then render thousands of times."""
    package = jinja2.PackageLoader("afterword", "templates")
    loaders: list[jinja2.BaseLoader] = []
    if templates_dir:
        loaders.append(jinja2.FileSystemLoader(templates_dir))
    loaders.append(jinja2.PrefixLoader({PACKAGE_PREFIX: package}, delimiter="/"))
    loaders.append(package)
    return jinja2.Environment(
        loader=jinja2.ChoiceLoader(loaders),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        auto_reload=False,
        cache_size=-1,
    )


def get_template(env: jinja2.Environment, name: str) -> jinja2.Template:
    try:
        return env.get_template(name)
    except jinja2.TemplateError as exc:
        raise BuildError(f"template {name}: {_describe(exc)}") from None


def render(template: jinja2.Template, context: dict[str, Any]) -> str:
    """Render, turning any template mistake into a one-line BuildError."""
    try:
        return template.render(context)
    except jinja2.TemplateError as exc:
        raise BuildError(f"template {template.name}: {_describe(exc)}") from None


def _describe(exc: jinja2.TemplateError) -> str:
    line = getattr(exc, "lineno", None)
    where = f" (line {line})" if line else ""
    return f"{exc.message or type(exc).__name__}{where}".replace("\n", " ")


def heading(strings: dict[str, str], count: int) -> str:
    if count == 0:
        return strings["heading_zero"]
    if count == 1:
        return strings["heading_one"]
    return strings["heading_many"].replace("{count}", str(count))


def dump_json(data: Any) -> bytes:
    """Compact, ordered, and unable to open a tag even if served as HTML."""
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    text = text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    return text.encode("utf-8")


def template_sources(config: Config) -> Iterator[tuple[str, bytes]]:
    """Every file that can change the output's look: built-in and user templates, locales."""
    root = resources.files("afterword")
    for folder in ("templates", "locales"):
        for item in sorted(root.joinpath(folder).iterdir(), key=lambda p: p.name):
            if item.is_file():
                yield f"!{folder}/{item.name}", item.read_bytes()
    if config.build.templates_dir:
        base = Path(config.build.templates_dir)
        if base.is_dir():
            for path in sorted(p for p in base.rglob("*") if p.is_file()):
                yield str(path.relative_to(base)), path.read_bytes()
