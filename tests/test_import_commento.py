"""Commento import: the real export used by Remark42's tests, and broken variants."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from afterword.errors import ImportFailed
from afterword.importers.run import ImportOptions, import_file
from afterword.store import Store

REAL = Path(__file__).resolve().parents[2] / "shared" / "fixtures" / "real"
COMMENTO = REAL / "other" / "remark42-commento.json"


def test_commento_real_file(store: Store) -> None:
    report = import_file(store, "commento", COMMENTO, ImportOptions())
    raw = json.loads(COMMENTO.read_text())
    assert report.imported_total == len(raw["comments"]) == 3
    assert report.pages == {"/blog/post/1/", "/blog/post/2/"}
    assert report.dropped == {"commenter photo": 2, "login provider": 2, "score (votes)": 1}
    rows = {r["author"]: r for r in store.query("SELECT * FROM comments")}
    assert set(rows) == {"Anonymous", "User5276", "Saturnin Uf"}
    assert rows["Saturnin Uf"]["parent_id"] == rows["User5276"]["id"]
    assert rows["User5276"]["email"] == "commenter525@example.invalid"
    assert rows["User5276"]["website"] == "https://example.com/profile/257"
    assert rows["Anonymous"]["email"] == ""
    assert rows["User5276"]["created"] == "2021-03-17T12:09:47.722181Z"
    assert rows["Anonymous"]["body_html"] == "<p>Example comment created by user.</p>\n"
    assert import_file(store, "commento", COMMENTO, ImportOptions()).already_present == 3


def write(tmp_path: Path, data: object) -> Path:
    path = tmp_path / "commento.json"
    path.write_text(json.dumps(data))
    return path


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"version": 2, "comments": []}, "Commento export version 2 is not supported"),
        ({"version": 1}, 'not a Commento export \\(no "comments" list\\)'),
        ([1, 2], 'not a Commento export \\(no "comments" list\\)'),
    ],
)
def test_commento_wrong_shape_is_refused(
    store: Store, tmp_path: Path, data: object, message: str
) -> None:
    with pytest.raises(ImportFailed, match=message):
        import_file(store, "commento", write(tmp_path, data), ImportOptions())


def test_commento_not_json_is_refused(store: Store, tmp_path: Path) -> None:
    path = tmp_path / "commento.json"
    path.write_bytes(b"\xff\xfe garbage")
    with pytest.raises(ImportFailed, match="not Commento JSON"):
        import_file(store, "commento", path, ImportOptions())


def test_commento_damaged_records(store: Store, tmp_path: Path) -> None:
    base = {
        "url": "/p/",
        "creationDate": "2021-01-01T00:00:00Z",
        "markdown": "hi",
        "state": "approved",
    }
    comments = [
        {"commentHex": ""},
        {**base, "commentHex": "a1", "url": ""},
        {**base, "commentHex": "a2", "creationDate": "2021-13-45"},
        {**base, "commentHex": "a3", "deleted": True, "state": "approved"},
        {**base, "commentHex": "a4", "state": "unapproved", "parentHex": "a3"},
        {**base, "commentHex": "a5", "markdown": "", "html": "<b>x</b><img src=x>"},
    ]
    report = import_file(
        store, "commento", write(tmp_path, {"comments": comments}), ImportOptions()
    )
    assert report.skipped == [
        ("comment #1", "missing field: commentHex"),
        ("comment a1", "missing field: url"),
        ("comment a2", "bad date '2021-13-45'"),
    ]
    assert dict(report.imported) == {"deleted": 1, "pending": 1, "approved": 1}
    html = store.scalar("SELECT body_html FROM comments WHERE external_id = 'a5'")
    assert html == "x"
