"""Staticman import: 720 real YAML files in three schema generations, and a damaged folder."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from afterword.errors import ImportFailed
from afterword.importers.run import ImportOptions, import_file
from afterword.store import Store

REAL = Path(__file__).resolve().parents[2] / "shared" / "fixtures" / "real"
STATICMAN = REAL / "staticman" / "made-mistakes"
DATA = Path(__file__).resolve().parent / "data" / "import"


def raw_files() -> dict[str, dict[str, Any]]:
    return {
        p.relative_to(STATICMAN).as_posix(): yaml.safe_load(p.read_text(encoding="utf-8"))
        for p in sorted(STATICMAN.rglob("*.yml"))
    }


def test_staticman_real_counts_match_the_raw_files(store: Store) -> None:
    report = import_file(store, "staticman", STATICMAN, ImportOptions())
    raw = raw_files()
    replies = [k for k, v in raw.items() if str(v.get("replying_to") or "").strip()]
    assert report.imported_total == len(raw) == 720
    assert report.skipped == []
    assert report.relinked == []
    assert store.scalar("SELECT count(*) FROM comments WHERE parent_id IS NOT NULL") == len(replies)
    assert len(replies) == 353
    depth2 = "SELECT count(*) FROM comments c JOIN comments p ON c.parent_id = p.id "
    assert store.scalar(depth2 + "WHERE p.parent_id IS NOT NULL") == 0
    assert len(report.pages) == len({k.split("/")[0] for k in raw}) == 49
    assert report.notes["date without time zone, assumed UTC"] == 3
    assert report.dropped["avatar"] == 184
    assert report.dropped["email (an MD5 hash, not an address)"] == 380


def test_staticman_real_reply_points_at_the_indexed_top_level_comment(store: Store) -> None:
    import_file(store, "staticman", STATICMAN, ImportOptions())
    raw = raw_files()
    for name, data in raw.items():
        index = str(data.get("replying_to") or "").strip()
        if not index:
            continue
        folder = name.split("/")[0]
        tops = sorted(
            k for k, v in raw.items()
            if k.startswith(folder + "/") and not str(v.get("replying_to") or "").strip()
        )  # fmt: skip
        parent = store.scalar(
            "SELECT p.external_id FROM comments c JOIN comments p ON c.parent_id = p.id "
            "WHERE c.external_id = ?",
            (name,),
        )
        assert parent == tops[int(index) - 1]


def test_staticman_real_text_is_exact_and_crlf_free(store: Store) -> None:
    import_file(store, "staticman", STATICMAN, ImportOptions())
    bodies = dict(store.query("SELECT external_id, body FROM comments"))
    non_ascii = 0
    for name, data in raw_files().items():
        expected = str(data["message"]).replace("\r\n", "\n").strip()
        assert bodies[name].encode() == expected.encode()
        non_ascii += not expected.isascii()
    assert non_ascii == 16
    assert store.scalar("SELECT count(*) FROM comments WHERE body LIKE '%' || char(13) || '%'") == 0
    assert store.scalar("SELECT count(*) FROM comments WHERE email != ''") == 0


def test_staticman_real_files_without_a_page_join_their_folder(store: Store) -> None:
    import_file(store, "staticman", STATICMAN, ImportOptions())
    key = store.scalar(
        "SELECT page_key FROM comments WHERE external_id = ?",
        ("introduction-tool-guide/comment-1482796039786.yml",),
    )
    assert key == "/mastering-paper/introduction-tool-guide/"
    moved = store.scalar(
        "SELECT count(DISTINCT page_key) FROM comments WHERE external_id LIKE ?",
        ("github-pages-publishing-source/%",),
    )
    assert moved == 1


def test_staticman_damaged_folder(store: Store) -> None:
    report = import_file(store, "staticman", DATA / "staticman-damaged", ImportOptions())
    assert report.skipped == [
        ("post-a/comment-1003.yml", "not valid YAML: while parsing a flow sequence"),
        ("post-a/comment-1004.yml", "not a mapping of fields"),
        ("post-a/comment-1009.yml", "not UTF-8 text"),
        ("post-a/comment-1005.yml", "missing date"),
        ("post-a/comment-1008.yml", "missing field: message"),
    ]
    assert dict(report.imported) == {"approved": 5, "pending": 1}
    assert report.notes == {
        "date without time zone, assumed UTC": 1,
        "double-encoded UTF-8 repaired": 1,
        "orphan: replying_to 9 is out of range, imported as top-level": 1,
    }
    rows = {r["external_id"]: r for r in store.query("SELECT * FROM comments")}
    top = rows["post-a/comment-1000.yml"]
    assert top["body_html"] == (
        "<p>Line one\nline <strong>two</strong></p>\n<p>&lt;script&gt;alert(1)&lt;/script&gt;</p>\n"
    )
    assert rows["post-a/comment-1001.yml"]["parent_id"] == top["id"]
    assert rows["post-a/comment-1002.yml"]["parent_id"] is None
    assert rows["post-a/comment-1007.yml"]["author"] == "Émilie"
    assert rows["post-a/comment-1007.yml"]["status"] == "pending"  # hidden: true
    assert rows["post-b/comment-2000.json"]["page_key"] == "/post-b/"


def test_staticman_needs_a_folder(store: Store) -> None:
    with pytest.raises(
        ImportFailed, match="Staticman comments are a folder of files; give the folder"
    ):
        import_file(store, "staticman", REAL / "SOURCES.md", ImportOptions())
