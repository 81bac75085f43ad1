"""The lossless export and its restore: export → empty database → export gives the same bytes."""

from __future__ import annotations

import json
import stat
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from afterword.cli import main
from afterword.errors import ImportFailed
from afterword.importers.erase import erase_person
from afterword.importers.export import export_person, export_site, read_export, restore_export
from afterword.importers.run import ImportOptions, import_file
from afterword.store import NewComment, Store, add_comment, moderate, open_store

REAL = Path(__file__).resolve().parents[2] / "shared" / "fixtures" / "real"
DATA = Path(__file__).resolve().parent / "data" / "import"
TABLES = {
    "pages": "SELECT key, url, title, closed, created FROM pages ORDER BY key",
    "comments": "SELECT * FROM comments ORDER BY id",
    "moderation_log": "SELECT * FROM moderation_log ORDER BY id",
}


def populate(store: Store) -> None:
    """Imports, intake-style comments, moderation and an erasure: every kind of row."""
    import_file(store, "disqus", DATA / "disqus-damaged.xml", ImportOptions())
    import_file(store, "staticman", DATA / "staticman-damaged", ImportOptions())
    new = add_comment(
        store,
        NewComment(page_key="/a/", author="Zoë", body="*hi*", body_html="<p><em>hi</em></p>",
                   renderer="md1", email="zoe@example.org", ip_hash="abc"),
    )  # fmt: skip
    moderate(store, [new.id], "approve", actor="mod", reason="fine")
    moderate(store, [1], "reject", actor="mod", reason="rude")
    erase_person(store, "ann@example.org", mode="anonymize", actor="mod")


def rows(store: Store) -> dict[str, list[tuple[Any, ...]]]:
    return {name: [tuple(r) for r in store.query(sql)] for name, sql in TABLES.items()}


def test_export_round_trip_gives_identical_json_and_rows(store: Store, tmp_path: Path) -> None:
    populate(store)
    first = tmp_path / "first.json"
    counts = export_site(store, first)
    assert counts == {"pages": 5, "comments": 18, "moderation_log": 3}
    with open_store(tmp_path / "empty.sqlite") as empty:
        result = restore_export(empty, first)
        assert result["imported"] == 18
        second = tmp_path / "second.json"
        export_site(empty, second)
        assert second.read_bytes() == first.read_bytes()
        assert rows(empty) == rows(store)
        dirty = empty.scalar("SELECT count(*) FROM pages WHERE version > built_version")
        assert dirty == 5


def test_export_round_trip_of_the_real_disqus_file(store: Store, tmp_path: Path) -> None:
    import_file(store, "disqus", REAL / "disqus" / "tanglei-disqus.xml", ImportOptions())
    first, second = tmp_path / "a.json", tmp_path / "b.json"
    export_site(store, first)
    with open_store(tmp_path / "copy.sqlite") as copy:
        restore_export(copy, first)
        export_site(copy, second)
        assert rows(copy) == rows(store)
    assert first.read_bytes() == second.read_bytes()
    assert "代码疯子" in first.read_text(encoding="utf-8")  # UTF-8, not \\u escapes


def test_export_restore_twice_adds_nothing(store: Store, tmp_path: Path) -> None:
    populate(store)
    path = tmp_path / "e.json"
    export_site(store, path)
    with open_store(tmp_path / "copy.sqlite") as copy:
        restore_export(copy, path)
        versions = copy.query("SELECT key, version FROM pages")
        again = restore_export(copy, path)
        assert (again["imported"], again["already_present"]) == (0, 18)
        assert copy.query("SELECT key, version FROM pages") == versions


def test_export_restore_refuses_a_different_row_under_the_same_id(
    store: Store, tmp_path: Path
) -> None:
    populate(store)
    path = tmp_path / "e.json"
    export_site(store, path)
    with open_store(tmp_path / "other.sqlite") as other:
        import_file(other, "disqus", DATA / "disqus-damaged.xml", ImportOptions())
        with pytest.raises(ImportFailed, match="comments row 1 already exists with other content"):
            restore_export(other, path)
        assert other.scalar("SELECT count(*) FROM comments") == 11


def test_export_dry_run_restore_stores_nothing(store: Store, tmp_path: Path) -> None:
    populate(store)
    path = tmp_path / "e.json"
    export_site(store, path)
    with open_store(tmp_path / "copy.sqlite") as copy:
        result = restore_export(copy, path, dry_run=True)
        assert result["imported"] == 18
        assert copy.scalar("SELECT count(*) FROM comments") == 0


def test_export_person_holds_only_that_person(store: Store, tmp_path: Path) -> None:
    populate(store)
    path = tmp_path / "zoe.json"
    counts = export_person(store, "ZOE@example.org", path)
    data = json.loads(path.read_text())
    assert counts == {"pages": 1, "comments": 1, "moderation_log": 1}
    assert data["scope"] == {"email": "ZOE@example.org"}
    assert [c["author"] for c in data["comments"]] == ["Zoë"]
    assert [p["key"] for p in data["pages"]] == ["/a/"]
    assert data["moderation_log"][0]["reason"] == "fine"
    other_people = {"ann@example.org", "emilie@example.org"}
    assert not any(address in path.read_text() for address in other_people)
    with pytest.raises(ImportFailed, match="a one-person export cannot be restored"):
        read_export(path)


def test_export_file_is_private_and_atomic(store: Store, tmp_path: Path) -> None:
    folder = tmp_path / "out"
    folder.mkdir()
    path = folder / "e.json"
    export_site(store, path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert [p.name for p in folder.iterdir()] == ["e.json"]  # no temp file left behind
    with pytest.raises(ImportFailed, match="cannot write the export"):
        export_site(store, tmp_path / "missing" / "e.json")


def mangle(tmp_path: Path, store: Store, change: Any) -> Path:
    populate(store)
    path = tmp_path / "e.json"
    export_site(store, path)
    data = json.loads(path.read_text())
    change(data)
    path.write_text(json.dumps(data))
    return path


BROKEN = [
    (lambda d: d.update(format="other"), 'not an afterword export \\(no "format"'),
    (lambda d: d.update(version=2), "export version 2 is not supported"),
    (lambda d: d.pop("comments"), "the export has no 'comments' list"),
    (lambda d: d["comments"][0].pop("email"), "comments\\[0\\] does not have the documented"),
    (lambda d: d["pages"][0].update(key="/a/../b"), "pages\\[0\\] has a page key that is not"),
    (lambda d: d["comments"][0].update(status="weird"), "the database refused a row: CHECK"),
    (lambda d: d["comments"][1].update(parent_id=999), "comments row 2 refers to a row the"),
]


@pytest.mark.parametrize(("change", "message"), BROKEN)
def test_export_restore_refuses_broken_files(
    store: Store, tmp_path: Path, change: Any, message: str
) -> None:
    path = mangle(tmp_path, store, change)
    with open_store(tmp_path / "copy.sqlite") as copy:
        with pytest.raises(ImportFailed, match=message):
            restore_export(copy, path)
        assert copy.scalar("SELECT count(*) FROM comments") == 0


def test_export_restore_of_garbage(store: Store, tmp_path: Path) -> None:
    path = tmp_path / "e.json"
    path.write_text("{nope")
    with pytest.raises(ImportFailed, match="not an afterword export: Expecting"):
        restore_export(store, path)
    with pytest.raises(ImportFailed, match="cannot read"):
        restore_export(store, tmp_path / "absent.json")


def test_export_cli_round_trip(site_dir: Path, store: Store, tmp_path: Path) -> None:
    populate(store)
    runner = CliRunner()
    result = runner.invoke(main, ["export", "all.json"])
    assert result.exit_code == 0, result.output
    assert result.output == (
        "Exported 18 comments, 5 pages and 3 moderation log entries to all.json\n"
    )
    person = runner.invoke(main, ["export", "--email", "zoe@example.org", "zoe.json", "--json"])
    assert json.loads(person.output)["comments"] == 1
    fresh = tmp_path / "fresh"
    fresh.mkdir()
    (fresh / "afterword.toml").write_text((site_dir / "afterword.toml").read_text())
    args = ["--config", str(fresh / "afterword.toml")]
    restored = runner.invoke(main, [*args, "import", "afterword", str(site_dir / "all.json")])
    assert restored.output == (
        "afterword: restored 18 comments on 5 pages (0 already present, 3 moderation log entries)\n"
    )
    runner.invoke(main, [*args, "export", str(fresh / "again.json")])
    assert (fresh / "again.json").read_bytes() == (site_dir / "all.json").read_bytes()
