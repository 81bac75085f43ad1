"""Hostile and damaged exports: each failure mode gets a hand-made file in tests/data/import."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from afterword.cli import main
from afterword.errors import ImportFailed
from afterword.importers.report import ImportReport
from afterword.importers.run import ImportOptions, import_file
from afterword.store import Store

DATA = Path(__file__).resolve().parent / "data" / "import"

REFUSED = [
    (
        "disqus-billion-laughs.xml",
        "cannot import: it declares XML entities (refused: entity expansion attack)",
    ),
    ("disqus-xxe.xml", "cannot import: it references an external entity (refused: XXE attack)"),
    ("disqus-truncated.xml", "not well-formed XML at line 8, column 1: unclosed CDATA section"),
]


@pytest.mark.parametrize(("name", "message"), REFUSED)
def test_import_hostile_xml_is_refused_and_nothing_is_stored(
    store: Store, name: str, message: str
) -> None:
    with pytest.raises(ImportFailed) as caught:
        import_file(store, "disqus", DATA / name, ImportOptions())
    assert str(caught.value) == f"{DATA / name}: {message}"
    assert store.scalar("SELECT count(*) FROM comments") == 0
    assert store.scalar("SELECT count(*) FROM pages") == 0


@pytest.mark.parametrize(("name", "message"), REFUSED)
@pytest.mark.usefixtures("site_dir")
def test_import_hostile_xml_cli_gives_one_line(name: str, message: str) -> None:
    result = CliRunner().invoke(main, ["import", "disqus", str(DATA / name)])
    assert result.exit_code == 1
    assert result.output == f"Error: {DATA / name}: {message}\n"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "not well-formed XML at line 1, column 1: no element found"),
        (b"\x89PNG\r\n\x1a\n", "not well-formed XML at line 1, column 1: not well-formed"),
        (b"<disqus><post></disqus>", "not well-formed XML at line 1, column 17: mismatched tag"),
    ],
)
def test_import_garbage_gives_line_and_column(
    store: Store, tmp_path: Path, content: bytes, message: str
) -> None:
    path = tmp_path / "export.xml"
    path.write_bytes(content)
    with pytest.raises(ImportFailed, match=message):
        import_file(store, "wordpress", path, ImportOptions())


def test_import_missing_file_is_a_clear_error(store: Store, tmp_path: Path) -> None:
    with pytest.raises(ImportFailed, match="no such file or folder"):
        import_file(store, "disqus", tmp_path / "nope.xml", ImportOptions())


def test_import_unknown_source_is_refused(store: Store) -> None:
    with pytest.raises(ImportFailed, match="unknown source 'blogger'"):
        import_file(store, "blogger", DATA, ImportOptions())


@pytest.fixture
def damaged(store: Store) -> ImportReport:
    return import_file(store, "disqus", DATA / "disqus-damaged.xml", ImportOptions())


def row(store: Store, external_id: str) -> dict[str, object]:
    found = store.query("SELECT * FROM comments WHERE external_id = ?", (external_id,))
    assert len(found) == 1
    return dict(found[0])


def test_import_damaged_disqus_skips_with_reasons(damaged: ImportReport) -> None:
    assert damaged.read == 17
    assert dict(damaged.imported) == {"approved": 9, "deleted": 1, "spam": 1}
    assert damaged.skipped == [
        ("post 105", "bad date 'yesterday-ish'"),
        ("post 106", "missing date"),
        ("post 100", "duplicate id 100 (the first one was kept)"),
        ("post 109", "thread 3 has no link"),
        ("post (no dsq:id)", "missing field: dsq:id"),
        ("post 108", "orphan: its thread is not in the file"),
    ]


def test_import_damaged_disqus_repairs_threading(store: Store, damaged: ImportReport) -> None:
    assert damaged.relinked == [
        ("107", "orphan: parent 999 is not in the file or the database"),
        ("112", "orphan: parent 100 is on another page"),
        ("110", "orphan: its parent chain is a cycle"),
    ]
    assert row(store, "101")["parent_id"] == row(store, "102")["id"]  # parent came later
    assert row(store, "102")["status"] == "deleted"  # reply to a deleted post keeps its place
    assert row(store, "102")["parent_id"] == row(store, "100")["id"]
    assert row(store, "111")["parent_id"] == row(store, "110")["id"]
    for orphan in ("107", "110", "112"):
        assert row(store, orphan)["parent_id"] is None


def test_import_damaged_disqus_keeps_spam_and_deleted_unpublished(
    store: Store, damaged: ImportReport
) -> None:
    assert row(store, "103")["status"] == "spam"
    assert damaged.pages == {"/a/", "/b/", "/c/"}
    assert damaged.pages_bumped == 3


def test_import_damaged_disqus_fixes_values(store: Store, damaged: ImportReport) -> None:
    huge = row(store, "9007199254740993")  # above 2**53: kept exact, as text
    assert huge["author"] == "Émilie Zoé"  # mojibake repaired
    assert huge["body_html"] == (
        '<p>Line one\nline two</p><a rel="nofollow ugc noopener">click</a>'
    )  # CRLF normalized, CDATA read, script and javascript: link gone
    assert huge["email"] == "emilie@example.org"
    assert huge["ip_hash"] not in ("", "203.0.113.9")
    assert row(store, "104")["created"] == "2020-01-04T08:30:00.000000Z"
    assert row(store, "113")["created"] == "2020-01-08T22:00:00.000000Z"  # +02:00 → UTC
    assert row(store, "113")["author"] == "Anonymous"
    assert damaged.notes["date without time zone, assumed UTC"] == 1
    assert damaged.notes["double-encoded UTF-8 repaired"] == 1
    assert damaged.dropped == {"author username": 1}


def test_import_damaged_disqus_title_entities_decoded(store: Store, damaged: ImportReport) -> None:
    assert store.scalar("SELECT title FROM pages WHERE key = '/a/'") == "Café & more"
    assert store.scalar("SELECT key FROM pages WHERE url LIKE '%?p=1#x'") == "/c/"


def test_import_damaged_disqus_twice_adds_nothing(store: Store, damaged: ImportReport) -> None:
    again = import_file(store, "disqus", DATA / "disqus-damaged.xml", ImportOptions())
    assert again.imported_total == 0
    assert again.already_present == 11
    assert store.scalar("SELECT count(*) FROM comments") == 11


def test_import_report_lists_everything(damaged: ImportReport) -> None:
    text = "\n".join(damaged.to_lines())
    assert "skipped: 6 (" in text
    assert "  post 105: bad date 'yesterday-ish'" in text
    data = damaged.to_dict()
    assert data["imported"] == 11
    assert data["skipped"][0] == {"record": "post 105", "reason": "bad date 'yesterday-ish'"}
    assert data["threading_repairs"][2]["reason"] == "orphan: its parent chain is a cycle"


def test_import_empty_or_unroutable_comments_are_skipped(store: Store, tmp_path: Path) -> None:
    path = tmp_path / "x.xml"
    path.write_text(
        '<disqus xmlns="http://disqus.com" xmlns:dsq="http://disqus.com/disqus-internals">'
        '<thread dsq:id="1"><link>https://e.example/a/</link></thread>'
        '<thread dsq:id="2"><link>https://e.example/%ff/</link></thread>'
        '<post dsq:id="1"><message>  </message><createdAt>2020-01-01T00:00:00Z</createdAt>'
        '<thread dsq:id="1"/></post>'
        '<post dsq:id="2"><message/><isDeleted>true</isDeleted>'
        '<createdAt>2020-01-01T00:00:00Z</createdAt><thread dsq:id="1"/></post>'
        '<post dsq:id="3"><message>hi</message><createdAt>2020-01-01T00:00:00Z</createdAt>'
        '<thread dsq:id="2"/></post></disqus>'
    )
    report = import_file(store, "disqus", path, ImportOptions())
    assert report.skipped == [
        ("post 1", "missing field: message (empty comment)"),
        (
            "post 3",
            "bad page URL 'https://e.example/%ff/': page URL is not valid UTF-8 once "
            "percent-decoded",
        ),
    ]
    assert dict(report.imported) == {"deleted": 1}  # a deleted post may be empty


def test_import_status_option_is_checked(store: Store) -> None:
    with pytest.raises(ImportFailed, match="--status must be approved or pending, not 'spam'"):
        import_file(store, "disqus", DATA / "disqus-damaged.xml", ImportOptions(status="spam"))


@pytest.mark.parametrize("kind", ["disqus", "wordpress", "commento"])
def test_import_a_folder_instead_of_a_file_is_one_line(
    store: Store, tmp_path: Path, kind: str
) -> None:
    with pytest.raises(ImportFailed, match="cannot read: Is a directory"):
        import_file(store, kind, tmp_path, ImportOptions())
