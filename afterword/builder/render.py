"""The Jinja environment and the template strings, made once per build.

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
LANGUAGES = ("en", "de", "fr", "es", "zh")


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


def load_strings(language: str, templates_dir: str) -> dict[str, str]:
    """Template strings: English, then the language, then the user's ``locales/<lang>.json``.

    Every string can be overridden without touching a template: drop a JSON file with just
    the keys to change into ``<templates_dir>/locales/``.
    """
    folder = resources.files("afterword").joinpath("locales")
    strings: dict[str, str] = json.loads(folder.joinpath("en.json").read_text("utf-8"))
    if language in LANGUAGES and language != "en":
        strings.update(json.loads(folder.joinpath(f"{language}.json").read_text("utf-8")))
    if templates_dir:
        user = Path(templates_dir) / "locales" / f"{language}.json"
        if user.is_file():
            strings.update(_read_user_strings(user))
    return strings


def _read_user_strings(path: Path) -> dict[str, str]:
    try:
        data = json.loads(path.read_text("utf-8"))
    except (OSError, ValueError) as exc:
        raise BuildError(f"{path}: not a readable JSON file: {exc}") from None
    if not isinstance(data, dict) or not all(isinstance(v, str) for v in data.values()):
        raise BuildError(f"{path}: must be a JSON object of strings")
    return {str(k): v for k, v in data.items()}


def heading(strings: dict[str, str], count: int) -> str:
    if count == 0:
        return strings["heading_zero"]
    if count == 1:
        return strings["heading_one"]
    return strings["heading_many"].replace("{count}", str(count))


def fill(text: str, **values: str) -> str:
    """Substitute ``{name}`` placeholders literally (user text is never a format string)."""
    for name, value in values.items():
        text = text.replace("{" + name + "}", value)
    return text


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
