"""Property: any history of changes and builds ends where a full build from scratch ends.

Hypothesis drives submissions (top-level, replies, pending or approved, stale renderer),
approvals, rejections, deletions, edits, template changes and incremental builds against a
real database; afterwards the incremental output folder must be byte-identical to a
``--full`` build of a copy of the same database into an empty folder, and the manifest must
describe exactly the files on disk.
"""

from __future__ import annotations

import contextlib
import sqlite3
import tempfile
from dataclasses import replace
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_build_support import add, assert_manifest_matches, tree

from afterword.builder import build_site
from afterword.config import Config, load_config
from afterword.errors import ModerationError
from afterword.markup import render_markdown
from afterword.scaffold import write_config
from afterword.store import Store, edit_comment, moderate, open_store

PAGES = ["/", "/blog/a/", "/café/x.html"]
TEMPLATE_VARIANTS = [
    None,
    '{"heading_many": "{count} thoughts"}',
    '{"heading_many": "{count} réponses", "reply": "Répondre"}',
]

submit = st.tuples(
    st.just("submit"),
    st.sampled_from(PAGES),
    st.one_of(st.none(), st.integers(min_value=0, max_value=30)),  # parent: an earlier id
    st.sampled_from(["approved", "pending"]),
    st.booleans(),  # stale renderer
    st.text(min_size=1, max_size=20),
)
act = st.tuples(
    st.sampled_from(["approve", "reject", "delete", "spam", "edit"]),
    st.integers(min_value=0, max_value=30),
)
other = st.tuples(st.sampled_from(["build", "template", "close"]), st.integers(0, 5))
operations = st.lists(st.one_of(submit, act, other), min_size=1, max_size=14)


def _apply(op: tuple[object, ...], store: Store, config: Config, ids: list[int]) -> Config:
    kind = op[0]
    if kind == "submit":
        _, page, parent_at, status, stale, body = op
        parent = ids[int(parent_at) % len(ids)] if ids and parent_at is not None else None  # type: ignore[call-overload]
        row = store.query("SELECT page_key FROM comments WHERE id = ?", (parent,))
        page = str(row[0][0]) if row else page
        renderer = "md0-old" if stale else None
        kwargs = {"renderer": renderer} if renderer else {}
        ids.append(add(store, str(page), str(body), parent=parent, status=str(status), **kwargs))  # type: ignore[arg-type]
    elif kind in ("approve", "reject", "delete", "spam") and ids:
        with contextlib.suppress(ModerationError):  # e.g. approving an approved comment
            moderate(store, [ids[int(op[1]) % len(ids)]], str(kind), actor="prop")  # type: ignore[arg-type]
    elif kind == "edit" and ids:
        body = f"edited **{op[1]}**"
        edit_comment(
            store, ids[int(op[1]) % len(ids)], body=body, body_html=render_markdown(body),
            renderer="x", actor="prop",
        )  # fmt: skip
    elif kind == "template":
        variant = TEMPLATE_VARIANTS[int(op[1]) % len(TEMPLATE_VARIANTS)]
        locale = Path(config.build.templates_dir) / "locales" / "en.json"
        if variant is None:
            locale.unlink(missing_ok=True)
        else:
            locale.parent.mkdir(parents=True, exist_ok=True)
            locale.write_text(variant)
    elif kind == "close" and ids:
        from afterword.store import set_page_closed

        set_page_closed(store, PAGES[int(op[1]) % len(PAGES)], bool(int(op[1]) % 2))
    elif kind == "build":
        build_site(config, store)
    return config


def _site(root: Path) -> Config:
    write_config(root, site_url="https://blog.example.com")
    config = load_config(root / "afterword.toml", environ={})
    (root / "templates").mkdir()
    return replace(
        config,
        build=replace(
            config.build, page_size=1, feed_size=3, templates_dir=str(root / "templates")
        ),
    )


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(operations)
def test_build_property_incremental_equals_full_from_scratch(ops: list[tuple[object, ...]]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        config = _site(root)
        ids: list[int] = []
        with open_store(config.database_path) as store:
            for n, op in enumerate(ops):
                config = _apply(op, store, config, ids)
                if n == 0:
                    build_site(config, store)
            build_site(config, store)
            assert_manifest_matches(store, config)
            incremental = tree(Path(config.output_dir))
            copy = root / "copy.db"
            target = sqlite3.connect(copy)
            store.conn.backup(target)
            target.close()
        fresh = replace(config, database=replace(config.database, path=str(copy)))
        fresh = replace(fresh, build=replace(fresh.build, output_dir=str(root / "fresh")))
        with open_store(copy) as copied:
            build_site(fresh, copied, full=True)
        assert tree(Path(fresh.output_dir)) == incremental
