"""Disqus import on the real export in ../shared/fixtures/real (2,693 posts, five deep)."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from afterword.cli import main
from afterword.importers.report import ImportReport
from afterword.importers.run import ImportOptions, import_file
from afterword.pagekey import normalize_page_key
from afterword.store import Store, open_store

REAL = Path(__file__).resolve().parents[2] / "shared" / "fixtures" / "real"
DISQUS = REAL / "disqus" / "tanglei-disqus.xml"
NS = "{http://disqus.com}"
DSQ_ID = "{http://disqus.com/disqus-internals}id"

DEPTHS_SQL = """
WITH RECURSIVE d(id, depth) AS (
  SELECT id, 0 FROM comments WHERE parent_id IS NULL
  UNION ALL SELECT c.id, d.depth + 1 FROM comments c JOIN d ON c.parent_id = d.id)
SELECT depth, count(*) FROM d GROUP BY depth"""


def raw_posts() -> list[ET.Element]:
    return ET.parse(DISQUS).getroot().findall(f"{NS}post")


def raw_depths() -> Counter[int]:
    """Reply depth of every post, computed straight from the XML (independently)."""
    parents = {}
    for post in raw_posts():
        parent = post.find(f"{NS}parent")
        parents[post.get(DSQ_ID)] = None if parent is None else parent.get(DSQ_ID)
    depths: Counter[int] = Counter()
    for post_id in parents:
        depth, node = 0, parents[post_id]
        while node is not None:
            depth, node = depth + 1, parents[node]
        depths[depth] += 1
    return depths


@pytest.fixture(scope="module")
def loaded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Store, ImportReport]]:
    """One import shared by the read-only tests (the file takes a moment to import)."""
    with open_store(tmp_path_factory.mktemp("disqus") / "db.sqlite") as opened:
        yield opened, import_file(opened, "disqus", DISQUS, ImportOptions())


def imported(store: Store) -> Store:
    import_file(store, "disqus", DISQUS, ImportOptions())
    return store


def test_disqus_fixture_path_resolves() -> None:
    assert DISQUS.is_file()
    assert DISQUS.parent.parent.name == "real"


def test_disqus_real_counts_match_the_raw_file(loaded: tuple[Store, ImportReport]) -> None:
    store, report = loaded
    posts = raw_posts()
    deleted = sum(p.findtext(f"{NS}isDeleted") == "true" for p in posts)
    assert report.imported_total == len(posts) == 2693
    assert dict(report.imported) == {"approved": len(posts) - deleted, "deleted": deleted}
    assert deleted == 6
    assert report.skipped == []
    assert report.relinked == []
    assert store.scalar("SELECT count(*) FROM comments WHERE parent_id IS NOT NULL") == 439
    depths = {int(d): int(n) for d, n in store.query(DEPTHS_SQL)}
    assert depths == dict(raw_depths()) == {0: 2254, 1: 348, 2: 51, 3: 25, 4: 10, 5: 5}


def test_disqus_real_pages_are_the_threads_with_posts(loaded: tuple[Store, ImportReport]) -> None:
    store = loaded[0]
    root = ET.parse(DISQUS).getroot()
    threads = root.findall(f"{NS}thread")
    assert len(threads) == 569  # 340 of them have posts: only those become pages
    links = {t.get(DSQ_ID): t.findtext(f"{NS}link") for t in threads}
    used = {links[p.find(f"{NS}thread").get(DSQ_ID)] for p in raw_posts()}  # type: ignore[union-attr]
    expected = {normalize_page_key(str(link)) for link in used}
    keys = {r[0] for r in store.query("SELECT key FROM pages")}
    assert keys == expected
    assert len(keys) == 340
    assert store.scalar("SELECT count(*) FROM pages WHERE version > built_version") == 340


def test_disqus_real_text_is_byte_exact(loaded: tuple[Store, ImportReport]) -> None:
    store = loaded[0]
    stored = {r[0]: r for r in store.query("SELECT external_id, body, author FROM comments")}
    for post in raw_posts():
        row = stored[post.get(DSQ_ID)]
        assert row["body"].encode() == (post.findtext(f"{NS}message") or "").strip().encode()
        assert row["author"] == post.findtext(f"{NS}author/{NS}name")
    one = stored["2521126013"]
    assert one["author"].encode() == "代码疯子".encode()
    assert one["body"].startswith("<p>效果不好……太暗了。你的链接我帮你做了。")
    html = store.scalar("SELECT body_html FROM comments WHERE external_id = '2521126013'")
    assert html == one["body"]  # plain <p> survives the sanitizer unchanged
    title = store.scalar("SELECT title FROM pages WHERE key = '/blog/volenteer-teaching-day0.html'")
    assert title == "支教前奏"


def test_disqus_reimport_adds_nothing(store: Store) -> None:
    imported(store)
    before = store.query("SELECT * FROM comments ORDER BY id")
    versions = store.query("SELECT key, version FROM pages ORDER BY key")
    again = import_file(store, "disqus", DISQUS, ImportOptions())
    assert again.imported_total == 0
    assert again.already_present == 2693
    assert again.pages_bumped == 0
    assert [tuple(r) for r in store.query("SELECT * FROM comments ORDER BY id")] == [
        tuple(r) for r in before
    ]
    assert store.query("SELECT key, version FROM pages ORDER BY key") == versions


def test_disqus_ips_are_only_salted_hashes(loaded: tuple[Store, ImportReport]) -> None:
    store = loaded[0]
    ips = {p.findtext(f"{NS}ipAddress") for p in raw_posts()}
    hashes = {r[0] for r in store.query("SELECT ip_hash FROM comments")}
    assert all(len(h) == 32 for h in hashes)
    assert not ips & hashes
    dump = "\n".join(store.conn.iterdump())
    assert "198.51.100.187" not in dump
    assert (
        store.scalar("SELECT count(*) FROM comments WHERE email LIKE '%@example.invalid'") == 2693
    )


def test_disqus_dry_run_stores_nothing(store: Store) -> None:
    report = import_file(store, "disqus", DISQUS, ImportOptions(dry_run=True))
    assert report.imported_total == 2693
    assert report.dry_run
    assert store.scalar("SELECT count(*) FROM comments") == 0
    assert store.scalar("SELECT count(*) FROM pages") == 0


def test_disqus_status_pending_keeps_deleted_and_bumps_nothing(store: Store) -> None:
    report = import_file(store, "disqus", DISQUS, ImportOptions(status="pending"))
    assert dict(report.imported) == {"pending": 2687, "deleted": 6}
    assert report.pages_bumped == 0
    assert store.scalar("SELECT count(*) FROM pages WHERE version > built_version") == 0


def test_disqus_map_url_moves_pages(store: Store) -> None:
    options = ImportOptions(map_urls=(("http://www.tanglei.name/blog/", "https://new.example/b/"),))
    import_file(store, "disqus", DISQUS, options)
    url = store.scalar("SELECT url FROM pages WHERE key = '/b/volenteer-teaching-day0.html'")
    assert url == "https://new.example/b/volenteer-teaching-day0.html"


@pytest.mark.usefixtures("site_dir")
def test_disqus_cli_prints_the_fidelity_report() -> None:
    result = CliRunner().invoke(main, ["import", "disqus", str(DISQUS)])
    assert result.exit_code == 0, result.output
    assert "imported 2693 comments (2687 approved, 6 deleted) on 340 pages" in result.output
    assert "author username: 15 comments" in result.output
    again = CliRunner().invoke(main, ["import", "disqus", str(DISQUS), "--json"])
    data = json.loads(again.output)
    assert data["imported"] == 0
    assert data["already_present"] == 2693


@pytest.mark.usefixtures("site_dir")
def test_disqus_cli_rejects_a_bad_map_url() -> None:
    result = CliRunner().invoke(main, ["import", "disqus", str(DISQUS), "--map-url", "nope"])
    assert result.exit_code == 1
    assert result.output.strip() == "Error: --map-url needs OLD=NEW, got 'nope'"


def test_disqus_parse_does_not_hold_the_write_lock(store: Store) -> None:
    """While the file is parsed, other writers (the intake) still get in at once."""
    positions: list[int] = []
    with open_store(store.path, busy_timeout_ms=50) as other:

        def write_meanwhile(position: int) -> None:
            positions.append(position)
            if len(positions) % 500 == 0:
                with other.write() as conn:
                    conn.execute("INSERT OR REPLACE INTO meta VALUES ('probe', ?)", (position,))

        report = import_file(store, "disqus", DISQUS, ImportOptions(), write_meanwhile)
    assert report.imported_total == 2693
    assert len(positions) == 2693 + 569  # one call per thread and post element read
    assert positions[-1] == DISQUS.stat().st_size
    assert store.scalar("SELECT value FROM meta WHERE key = 'probe'") == str(positions[2999])
