"""Per-person erasure: the e-mail (and name, website, IP hash) gone everywhere, logged, rebuilt."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from afterword.cli import main
from afterword.errors import ModerationError
from afterword.importers.erase import count_person, erase_person
from afterword.importers.run import ImportOptions, import_file
from afterword.store import Store

DATA = Path(__file__).resolve().parent / "data" / "import"
SECOND = """<disqus xmlns="http://disqus.com" xmlns:dsq="http://disqus.com/disqus-internals">
<thread dsq:id="9"><link>https://blog.example.com/z/</link><title>Z</title></thread>
<post dsq:id="900"><message>pending one</message><createdAt>2020-02-01T00:00:00Z</createdAt>
<author><name>Ann Again</name><email>ANN@Example.org</email><link>https://ann.example</link>
</author><ipAddress>198.51.100.1</ipAddress><thread dsq:id="9"/></post></disqus>"""


@pytest.fixture
def people(store: Store, tmp_path: Path) -> Store:
    """Ann has an approved comment on /a/ and (other case) a pending one on /z/."""
    import_file(store, "disqus", DATA / "disqus-damaged.xml", ImportOptions())
    second = tmp_path / "second.xml"
    second.write_text(SECOND)
    import_file(store, "disqus", second, ImportOptions(status="pending"))
    return store


def versions(store: Store) -> dict[str, int]:
    return {str(k): int(v) for k, v in store.query("SELECT key, version FROM pages")}


def test_erase_anonymize_keeps_text_and_drops_identity(people: Store) -> None:
    before = versions(people)
    result = erase_person(people, "ann@example.org", mode="anonymize", actor="mod")
    assert (result.comments, result.pages_bumped) == (2, 1)
    rows = people.query("SELECT * FROM comments WHERE external_id IN ('100', '900') ORDER BY id")
    assert [(r["author"], r["email"], r["website"], r["ip_hash"]) for r in rows] == [
        ("Anonymous", "", "", ""),
        ("Anonymous", "", "", ""),
    ]
    assert [r["status"] for r in rows] == ["approved", "pending"]
    assert rows[0]["body"] == "<p>top</p>"
    after = versions(people)
    assert after["/a/"] == before["/a/"] + 1  # it showed the approved comment
    assert after["/z/"] == before["/z/"]  # nothing published there changed


def test_erase_delete_empties_text_and_marks_deleted(people: Store) -> None:
    erase_person(people, "ann@example.org", mode="delete", actor="mod")
    rows = people.query("SELECT * FROM comments WHERE external_id IN ('100', '900')")
    assert {(r["status"], r["body"], r["body_html"], r["author"]) for r in rows} == {
        ("deleted", "", "", "Anonymous")
    }


def test_erase_leaves_no_trace_of_the_address(people: Store) -> None:
    erase_person(people, "ann@example.org", mode="anonymize", actor="mod")
    dump = "\n".join(people.conn.iterdump()).lower()
    assert "ann@example.org" not in dump
    assert "ann again" not in dump
    assert "ann.example" not in dump
    log = people.query("SELECT action, from_status, to_status, actor, reason FROM moderation_log")
    assert [tuple(r) for r in log] == [
        ("erase", "approved", "approved", "mod", "personal data erased (anonymize)"),
        ("erase", "pending", "pending", "mod", "personal data erased (anonymize)"),
    ]
    assert count_person(people, "ann@example.org") == 0


def test_erase_touches_nobody_else(people: Store) -> None:
    others = people.query("SELECT * FROM comments WHERE email NOT LIKE 'ann@%' COLLATE NOCASE")
    erase_person(people, "ann@example.org", mode="delete", actor="mod")
    assert [tuple(r) for r in people.query(
        "SELECT * FROM comments WHERE external_id NOT IN ('100', '900') ORDER BY id"
    )] == [tuple(r) for r in others]  # fmt: skip


@pytest.mark.parametrize(
    ("email", "mode", "message"),
    [
        ("ann@example.org", "shred", "unknown erase mode 'shred'"),
        ("not-an-address", "delete", "'not-an-address' is not an e-mail address"),
    ],
)
def test_erase_refuses_bad_input(people: Store, email: str, mode: str, message: str) -> None:
    with pytest.raises(ModerationError, match=message):
        erase_person(people, email, mode=mode, actor="mod")


@pytest.mark.usefixtures("people")
def test_erase_cli_confirms_first() -> None:
    runner = CliRunner()
    refused = runner.invoke(main, ["erase", "--email", "ann@example.org"], input="n\n")
    assert refused.exit_code == 1
    assert "Erase the personal data of 2 comments (anonymize) by ann@example.org?" in refused.output
    assert refused.output.rstrip().endswith("Aborted!")
    agreed = runner.invoke(main, ["erase", "--email", "ann@example.org"], input="y\n")
    assert agreed.exit_code == 0
    assert agreed.output.endswith(
        "Erased: 2 comments (anonymize); 1 pages marked for the next build.\n"
    )


def test_erase_cli_yes_and_delete_mode(people: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AFTERWORD_PRIVACY_ERASE_MODE", "delete")
    result = CliRunner().invoke(main, ["erase", "--email", "ann@example.org", "--yes", "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output) == {
        "comments": 2,
        "mode": "delete",
        "pages_bumped": 1,
        "subscriptions": 0,
        "queued_mails": 0,
    }
    assert people.scalar("SELECT count(*) FROM comments WHERE status = 'deleted'") == 3


@pytest.mark.usefixtures("people")
def test_erase_cli_unknown_address_changes_nothing() -> None:
    result = CliRunner().invoke(main, ["erase", "--email", "nobody@example.org"])
    assert result.exit_code == 0
    assert result.output == "Erased: 0 comments (anonymize); 0 pages marked for the next build.\n"
