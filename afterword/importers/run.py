"""Driving an import: parse → map URLs → page keys → sanitize → hash → stage → store.

Every policy lives here rather than in the parsers: which status imported comments get,
how old URLs map to new ones, that HTML is sanitized by the same allowlist as new comments,
that IP addresses become salted hashes and nothing else of them is kept — and the intake's
text rules: characters XML forbids are removed from every field (``afterword.text``), a
website the builder would not link is dropped and counted (``afterword.urls``), and a name
that shows nothing becomes "Anonymous" (counted) rather than losing the comment.
"""

from __future__ import annotations

import html
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType

from afterword.errors import ImportFailed, InvalidPageKey
from afterword.importers import commento, disqus, isso, staticman, wordpress
from afterword.importers.fields import autop
from afterword.importers.records import BodyFormat, ImportedComment, Item, Skipped
from afterword.importers.report import ImportReport
from afterword.markup import RENDERER_VERSION, render_markdown, sanitize_html
from afterword.pagekey import normalize_page_key
from afterword.privacy import hash_address
from afterword.store import NewComment, Store, site_secret, utc_now
from afterword.store.transfer import ImportWriter, commit_import, json_extra, legacy_external_ids
from afterword.text import (
    ANONYMOUS,
    FORBIDDEN_IN_PAGE,
    has_forbidden,
    is_invisible,
    strip_forbidden,
)
from afterword.urls import publishable_url

PARSERS: dict[str, ModuleType] = {
    "disqus": disqus,
    "wordpress": wordpress,
    "isso": isso,
    "staticman": staticman,
    "commento": commento,
}
MAX_WEBSITE = 500
INVISIBLE_NAME = (
    "author name shows nothing (only spaces or invisible characters): imported as Anonymous"
)
WEBSITE_DROPPED = "website dropped: not a URL afterword publishes (http(s), at most 500 characters)"
IMPORT_STATUSES = ("approved", "pending")
Progress = Callable[[int], None]


@dataclass(frozen=True)
class ImportOptions:
    """``status`` replaces "approved" in the source; deleted, spam and pending stay as they are."""

    status: str = "approved"
    map_urls: tuple[tuple[str, str], ...] = ()
    dry_run: bool = False


def source_size(kind: str, path: Path) -> int:
    """The progress bar's length in the parser's units (bytes or files; 0 = no bar)."""
    try:
        return int(PARSERS[kind].total(path))
    except OSError as exc:
        raise ImportFailed(f"{path}: cannot read: {exc.strerror or exc}") from None


def import_file(
    store: Store, kind: str, path: Path, options: ImportOptions, progress: Progress | None = None
) -> ImportReport:
    """Import one export; all of it or nothing. A dry run does everything, then rolls back."""
    if kind not in PARSERS:
        raise ImportFailed(f"unknown source {kind!r}; known: {', '.join(sorted(PARSERS))}")
    if options.status not in IMPORT_STATUSES:
        raise ImportFailed(f"--status must be approved or pending, not {options.status!r}")
    if not path.exists():
        raise ImportFailed(f"{path}: no such file or folder")
    report = ImportReport(source=kind, path=str(path), dry_run=options.dry_run)
    cache = _Cache(site_secret(store), options.map_urls, _Legacy(store, f"import:{kind}"))
    with ImportWriter() as writer:
        _stage_items(writer, PARSERS[kind].read(path, progress), options, cache, report)
        result = commit_import(store, writer, f"import:{kind}", dry_run=options.dry_run)
    report.imported.update(result.counts)
    report.already_present = writer.queued - sum(result.counts.values())
    report.relinked = result.relinked
    report.pages_bumped = result.pages_bumped
    return report


def _stage_items(
    writer: ImportWriter,
    items: Iterator[Item],
    options: ImportOptions,
    cache: _Cache,
    report: ImportReport,
) -> None:
    seen: set[str] = set()
    now = utc_now()
    for item in items:
        report.read += 1
        if isinstance(item, Skipped):
            report.skip(item.where, item.reason)
            continue
        if item.external_id in seen:
            report.skip(item.where, f"duplicate id {item.external_id} (the first one was kept)")
            continue
        seen.add(item.external_id)
        new = to_new_comment(item, options, cache, report)
        if new is not None:
            writer.add(new, now)


@dataclass
class _Legacy:
    """(external id, page key) of comments an older afterword imported under unscoped ids;
    read from the store only when the first comment that has a legacy id comes along."""

    store: Store
    source: str
    rows: set[tuple[str, str]] | None = field(default=None, repr=False)

    def holds(self, external_id: str, page_key: str) -> bool:
        if self.rows is None:
            self.rows = legacy_external_ids(self.store, self.source)
        return (external_id, page_key) in self.rows


class _Cache:
    """Page keys and IP hashes repeat across an export; compute each once per import."""

    def __init__(
        self, secret: bytes, mapping: tuple[tuple[str, str], ...], legacy: _Legacy
    ) -> None:
        self.secret = secret
        self.mapping = mapping
        self.legacy = legacy
        self.pages: dict[str, tuple[str, str | InvalidPageKey]] = {}
        self.hashes: dict[str, str] = {}

    def page(self, url: str) -> tuple[str, str | InvalidPageKey]:
        """(mapped URL, its page key or the reason it has none)."""
        if url not in self.pages:
            mapped = strip_forbidden(map_url(url, self.mapping))
            try:
                key = normalize_page_key(mapped)
                # An identifier, so refused as the intake refuses it, never silently renamed.
                self.pages[url] = (
                    mapped,
                    InvalidPageKey(FORBIDDEN_IN_PAGE) if has_forbidden(key) else key,
                )
            except InvalidPageKey as exc:
                self.pages[url] = (mapped, exc)
        return self.pages[url]

    def ip_hash(self, ip: str) -> str:
        if ip not in self.hashes:
            if len(self.hashes) > 100_000:
                self.hashes.clear()
            self.hashes[ip] = hash_address(self.secret, ip)
        return self.hashes[ip]


def to_new_comment(
    item: ImportedComment, options: ImportOptions, cache: _Cache, report: ImportReport
) -> NewComment | None:
    """Apply afterword's policies to one parsed comment (``None``: skipped, and reported)."""
    body = strip_forbidden(item.body).strip()
    if not body and item.status not in ("deleted", "spam"):
        report.skip(item.where, "missing field: message (empty comment)")
        return None
    url, key = cache.page(item.page.url)
    if isinstance(key, InvalidPageKey):
        report.skip(item.where, f"bad page URL {url[:80]!r}: {key}")
        return None
    report.pages.add(key)
    report.notes.update(item.notes)
    report.dropped.update(item.dropped)
    external_id, parent_id = _ids(item, key, cache.legacy)
    return NewComment(
        page_key=key,
        author=_author(item.author, report),
        body=body,
        body_html=to_html(body, item.body_format),
        renderer=RENDERER_VERSION,
        email=_email(item.email),
        website=_website(item.website, report),
        status=options.status if item.status == "approved" else item.status,
        ip_hash=cache.ip_hash(item.ip),
        source=f"import:{item.source}",
        external_id=external_id,
        created=item.created,
        page_url=url,
        page_title=strip_forbidden(item.page.title),
        extra=json_extra(parent_id),
    )


def _ids(item: ImportedComment, key: str, legacy: _Legacy) -> tuple[str, str | None]:
    """(external id, parent's external id), under the old unscoped ids where the database
    already holds the comment (or its parent) that way — so the row conflicts and counts as
    already present, and a new reply is linked to the parent stored long ago."""
    external_id, parent_id = item.external_id, item.parent_external_id
    if item.legacy_id and legacy.holds(item.legacy_id, key):
        external_id = item.legacy_id
    if item.legacy_parent_id and legacy.holds(item.legacy_parent_id, key):
        parent_id = item.legacy_parent_id
    return external_id, parent_id


def _author(name: str, report: ImportReport) -> str:
    """A name that shows nothing would publish as a blank byline: "Anonymous", counted."""
    cleaned = strip_forbidden(name).strip()
    if is_invisible(cleaned):
        report.notes[INVISIBLE_NAME] += 1
        return ANONYMOUS
    return cleaned


def _email(address: str) -> str:
    cleaned = strip_forbidden(address).strip()
    return cleaned if "@" in cleaned else ""


def to_html(body: str, body_format: BodyFormat) -> str:
    """Markdown is rendered, HTML sanitized: the same allowlist as comments posted today."""
    if body_format == "markdown":
        return render_markdown(body)
    if body_format == "autop":
        return sanitize_html(autop(body))
    if body_format == "text":
        return sanitize_html(f"<p>{html.escape(body)}</p>")
    return sanitize_html(body)


def map_url(url: str, mapping: tuple[tuple[str, str], ...]) -> str:
    """The first ``OLD=NEW`` prefix that matches is replaced (for moved sites)."""
    for old, new in mapping:
        if old and url.startswith(old):
            return new + url[len(old) :]
    return url


def parse_mapping(values: tuple[str, ...]) -> tuple[tuple[str, str], ...]:
    """``--map-url OLD=NEW`` values → pairs; a value without ``=`` is an error."""
    pairs = []
    for value in values:
        old, sep, new = value.partition("=")
        if not sep or not old:
            raise ImportFailed(f"--map-url needs OLD=NEW, got {value!r}")
        pairs.append((old, new))
    return tuple(pairs)


def _website(url: str, report: ImportReport) -> str:
    """The intake's policy: what the builder would not link is dropped here, and counted."""
    cleaned = strip_forbidden(url).strip()
    if not cleaned:
        return ""
    published = publishable_url(cleaned) if len(cleaned) <= MAX_WEBSITE else None
    if published is None:
        report.notes[WEBSITE_DROPPED] += 1
        return ""
    return published
