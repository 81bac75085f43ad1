"""Deciding what to build: the fingerprint that forces a full build, and closing threads.

Pages know when their comments change (``pages.version``). What they cannot know is that
everything around them changed: a template, a setting that shows in the output, the Markdown
renderer, the widget. All of that is hashed into one fingerprint stored in ``meta``; when it
differs from the last finished build, every page is rebuilt.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import babel

from afterword.builder.render import template_sources
from afterword.config import Config
from afterword.markup import RENDERER_VERSION
from afterword.store import Store
from afterword.store.build import get_closed_through, get_fingerprint, pages_first_commented_between
from afterword.widget import widget_assets, widget_strings

# Bump when the builder's own code changes what it writes.
BUILDER_VERSION = "1"


@dataclass(frozen=True)
class Plan:
    """What this build will do and why."""

    full: bool
    reason: str
    fingerprint: str
    closing: tuple[str, ...]  # pages to re-render because their thread closes now


def fingerprint(config: Config) -> str:
    """Hash of everything besides the comments that can change an output byte."""
    digest = hashlib.sha256()
    settings = {
        "builder": BUILDER_VERSION,
        "renderer": RENDERER_VERSION,
        "site": [config.site.url, config.site.title, config.site.language],
        "intake_url": config.intake_url,
        "limits": [config.limits.author_max, config.limits.website_max, config.limits.body_max],
        "reply_mails": config.notify.reply_mails,  # the form's "Mail me replies" box
        "build": [
            config.build.output_dir,
            config.build.templates_dir,
            config.build.page_size,
            config.build.avatar,
            config.build.close_after_days,
            sorted(config.build.closed_pages),
            config.build.feed_size,
        ],
        "widget_strings": widget_strings(config.site.language),
        "babel": babel.__version__,  # month names and date patterns (builder/dates.py)
    }
    digest.update(json.dumps(settings, sort_keys=True).encode())
    for name, data in template_sources(config):
        digest.update(f"\0{name}\0{len(data)}\0".encode())
        digest.update(data)
    for asset in widget_assets():
        digest.update(f"\0asset\0{asset.key}\0{asset.cache_class}\0".encode())
        digest.update(hashlib.sha256(asset.data).digest())
    return digest.hexdigest()


def plan_build(config: Config, store: Store, *, full: bool, close_before: str | None) -> Plan:
    """Full if asked, if the fingerprint moved, or if the output folder was wiped."""
    current = fingerprint(config)
    reason = ""
    if full:
        reason = "requested"
    elif get_fingerprint(store) != current:
        reason = "templates, settings or renderer changed"
    elif not (Path(config.output_dir) / "empty.html").is_file():
        reason = "output folder is missing files"
    elif close_before is not None and get_closed_through(store) is None:
        reason = "threads close by age"
    if reason:
        return Plan(True, reason, current, ())
    closing: tuple[str, ...] = ()
    previous = get_closed_through(store)
    if close_before is not None and previous is not None and previous < close_before:
        closing = tuple(pages_first_commented_between(store, previous, close_before))
    return Plan(False, "", current, closing)
