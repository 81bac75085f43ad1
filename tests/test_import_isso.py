"""Isso import: the real generic JSON, and a real SQLite database in Isso's schema."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from afterword.errors import ImportFailed
from afterword.importers.run import ImportOptions, import_file
from afterword.store import Store

REAL = Path(__file__).resolve().parents[2] / "shared" / "fixtures" / "real"
GENERIC = REAL / "other" / "isso-generic.json"

ISSO_SCHEMA = """
CREATE TABLE threads (id INTEGER PRIMARY KEY, uri VARCHAR(256) UNIQUE, title VARCHAR(256));
CREATE TABLE comments (
    tid REFERENCES threads(id), id INTEGER PRIMARY KEY, parent INTEGER,
    created FLOAT NOT NULL, modified FLOAT, mode INTEGER, remote_addr VARCHAR,
    text VARCHAR, author VARCHAR, email VARCHAR, website VARCHAR,
    likes INTEGER DEFAULT 0, dislikes INTEGER DEFAULT 0, voters BLOB NOT NULL,
    notification INTEGER DEFAULT 0);
"""


def make_isso_db(path: Path) -> Path:
    """A database as Isso writes it: Markdown text, Unix times, mode 1/2/4, votes."""
    conn = sqlite3.connect(path)
    conn.executescript(ISSO_SCHEMA)
    conn.execute("INSERT INTO threads VALUES (1, '/posts/hello/', 'Hello')")
    rows = [
        (1, 1, None, 1500000000.5, 1, "192.168.1.0", "**Bold** start", "Ann", "a@x.org", "", 3),
        (1, 2, 1, 1500000100.0, 1, "", "reply ü", "Bøb", "", "https://b.example", 0),
        (1, 3, 1, 1500000200.0, 2, "", "waiting", "Cy", "", "", 0),
        (1, 4, None, 1500000300.0, 4, "", "", None, None, None, 0),
        (1, 5, 4, 1500000400.0, 1, "", "reply to deleted", "Dee", "", "", 0),
    ]
    conn.executemany(
        """INSERT INTO comments (tid, id, parent, created, mode, remote_addr, text, author,
               email, website, likes, voters) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, x'')""",
        rows,
    )
    conn.commit()
    conn.close()
    return path


def test_isso_generic_real_file(store: Store) -> None:
    report = import_file(store, "isso", GENERIC, ImportOptions())
    assert dict(report.imported) == {"approved": 2}
    assert report.pages == {"/posts/0001/", "/posts/0007/"}
    assert report.notes == {"date without time zone, assumed UTC": 2}
    rows = store.query("SELECT external_id, author, created, body FROM comments ORDER BY id")
    assert [tuple(r) for r in rows] == [
        ("/posts/0001/#0", "texas holdem", "2005-02-24T04:03:37.000000Z",
         "Great men can't be ruled. by free online poker"),
        ("/posts/0007/#0", "Richard Crinshaw", "2005-05-08T06:50:26.000000Z",
         "Ja-make-a me crazzy mon :)"),
    ]  # fmt: skip
    titles = [r[0] for r in store.query("SELECT title FROM pages ORDER BY key")]
    assert titles == ["Test post", "Nat & Miguel"]
    again = import_file(store, "isso", GENERIC, ImportOptions())
    assert again.already_present == 2


def test_isso_database_statuses_threads_and_votes(store: Store, tmp_path: Path) -> None:
    report = import_file(store, "isso", make_isso_db(tmp_path / "comments.db"), ImportOptions())
    assert dict(report.imported) == {"approved": 3, "pending": 1, "deleted": 1}
    assert report.dropped == {"likes": 1}
    rows = {r["external_id"]: r for r in store.query("SELECT * FROM comments")}
    assert rows["2"]["parent_id"] == rows["1"]["id"]
    assert rows["5"]["parent_id"] == rows["4"]["id"]
    assert rows["4"]["status"] == "deleted"
    assert rows["4"]["author"] == "Anonymous"
    assert rows["1"]["body_html"] == "<p><strong>Bold</strong> start</p>\n"
    assert rows["1"]["created"] == "2017-07-14T02:40:00.500000Z"
    assert rows["2"]["author"] == "Bøb"
    assert rows["2"]["body"] == "reply ü"


def test_isso_database_that_is_not_isso_is_refused(store: Store, tmp_path: Path) -> None:
    path = tmp_path / "other.db"
    sqlite3.connect(path).execute("CREATE TABLE x (y)").connection.close()
    with pytest.raises(ImportFailed, match="not a readable Isso database: no such table"):
        import_file(store, "isso", path, ImportOptions())
    assert store.scalar("SELECT count(*) FROM comments") == 0


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{not json", "neither an Isso database nor Isso JSON"),
        ('{"id": 1}', "Isso JSON must be a list of threads"),
    ],
)
def test_isso_bad_json_is_refused(store: Store, tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "isso.json"
    path.write_text(content)
    with pytest.raises(ImportFailed, match=message):
        import_file(store, "isso", path, ImportOptions())


def test_isso_json_with_damaged_records(store: Store, tmp_path: Path) -> None:
    path = tmp_path / "isso.json"
    path.write_text(
        '[{"title": "no id"}, {"id": "/p/", "comments": ['
        '{"author": "no id"}, {"id": 1, "created": "not a date", "text": "x"},'
        '{"id": 2, "created": "2020-01-01 00:00:00", "text": "ok"},'
        '{"id": 3, "parent": 2, "created": 1577836900, "text": "reply"}]}]'
    )
    report = import_file(store, "isso", path, ImportOptions())
    assert report.skipped == [
        ("thread #1", "missing field: id"),
        ("comment in thread /p/", "missing field: id"),
        ("comment /p/#1", "bad date 'not a date'"),
    ]
    assert report.imported_total == 2
    assert store.scalar("SELECT count(*) FROM comments WHERE parent_id IS NOT NULL") == 1


def test_isso_unreadable_path_is_one_line(store: Store, tmp_path: Path) -> None:
    folder = tmp_path / "a-folder.json"
    folder.mkdir()
    with pytest.raises(ImportFailed, match="cannot read: Is a directory"):
        import_file(store, "isso", folder, ImportOptions())
