"""Helpers shared by the builder's tests (no tests here): seeding, reading an output tree."""

from __future__ import annotations

import hashlib
from pathlib import Path

from afterword.config import Config
from afterword.markup import RENDERER_VERSION, render_markdown
from afterword.store import NewComment, Store, insert_comment

SEED_SECRET = "00" * 32


def add(
    store: Store,
    page: str,
    body: str = "Hello",
    *,
    parent: int | None = None,
    status: str = "approved",
    author: str = "Ana",
    email: str = "ana@example.com",
    website: str = "",
    created: str | None = None,
    ip_hash: str = "",
    renderer: str = RENDERER_VERSION,
    body_html: str | None = None,
    title: str = "",
    source: str = "intake",
) -> int:
    """Insert one comment through the store (the way intake and importers do)."""
    new = NewComment(
        page_key=page,
        author=author,
        body=body,
        body_html=render_markdown(body) if body_html is None else body_html,
        renderer=renderer,
        parent_id=parent,
        email=email,
        website=website,
        status=status,
        ip_hash=ip_hash,
        created=created,
        page_title=title,
        source=source,
    )
    with store.write() as conn:
        return insert_comment(conn, new)


def tree(root: Path) -> dict[str, bytes]:
    """Every file below ``root`` by its "/"-separated key."""
    if not root.exists():
        return {}
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def manifest(store: Store) -> dict[str, tuple[str, int]]:
    rows = store.query("SELECT key, sha256, size FROM objects")
    return {str(r[0]): (str(r[1]), int(r[2])) for r in rows}


def assert_manifest_matches(store: Store, config: Config) -> None:
    """The manifest describes exactly the files in the output folder."""
    files = tree(Path(config.output_dir))
    described = {k: (hashlib.sha256(v).hexdigest(), len(v)) for k, v in files.items()}
    assert manifest(store) == described
