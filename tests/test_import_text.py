"""Through ``afterword import``: ids scoped by post, deleted Disqus threads, text that must
survive unchanged or be repaired, and the intake's text and URL rules applied to archives."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

import defusedxml.ElementTree as SafeXML
import pytest
from click.testing import CliRunner

from afterword.builder import build_site
from afterword.cli import main
from afterword.config import Config
from afterword.importers.disqus import DELETED_THREAD
from afterword.importers.fields import REPAIRED_MOJIBAKE
from afterword.importers.run import INVISIBLE_NAME, WEBSITE_DROPPED
from afterword.store import Store
from afterword.text import has_forbidden

DATA = Path(__file__).resolve().parent / "data" / "import"
SHARED_IDS = DATA / "wordpress-shared-ids.xml"
DELETED = DATA / "disqus-deleted-thread.xml"
ATOM = "{http://www.w3.org/2005/Atom}"

# Correct text that a careless mojibake "repair" damages: all-caps Turkish, German and French
# with curly quotes (``Ü’`` is the cp1252 spelling of the UTF-8 bytes of U+071C), and other
# real-world correct text. Every one must be imported exactly as written.
CORRECT = [
    "ÖZGÜ’NÜN",
    "İSTANBUL’DA ŞİŞLİ’YE “GİDİYORUM”",
    "ÇOK GÜZEL, TEŞEKKÜRLER ÖĞRETMENİM’",
    "GRÜẞE AUS MÜNCHEN – „SCHÖN“",
    "ÜBER’S WOCHENENDE: ÄRGER MIT DER STRAẞE",
    "L’ÉTÉ À PARIS – « TRÈS BIEN »",
    "ÇA VA ? OÙ ÊTES-VOUS’ À NOËL",
    "Zażółć gęślą jaźń — „cytat”",
    "Příliš žluťoučký kůň úpěl ďábelské ódy",
    "Ξεσκεπάζω την ψυχοφθόρα βδελυγμία",
    "Съешь же ещё этих мягких французских булок",
    "👍🏽 👨‍👩‍👧 🇹🇷 ❤️",
    "日本語のテキスト、中文文本，한국어",
    "naïve café «x» Ångström ½ © ™",
    "Â is a letter, Ã too",
    "The letter “Â” is Romanian",
    "Ã  la carte",
]
# Real mojibake: UTF-8 read as cp1252 (or latin-1) and stored again.
MOJIBAKE = [
    ("Ã–ZGÃœâ€™NÃœN", "ÖZGÜ’NÜN"),
    ("â€œquotedâ€\x9d", "“quoted”"),
    ("doesnâ€™t", "doesn’t"),
    ("CristÃ³bal", "Cristóbal"),
    ("Ã‰milie ZoÃ©", "Émilie Zoé"),
    ("mÃ¶chte GrÃ¼ÃŸe", "möchte Grüße"),
    ("ZaÅ¼Ã³Å‚Ä‡", "Zażółć"),
    ("ðŸ‘\x8d", "👍"),
    ("café and Ã¼ber", "café and über"),  # one bad run in correct text
    ("Itâ€™s â€œquotedâ€\x9d â€” café", "It’s “quoted” — café"),
]


def import_cli(kind: str, path: Path, *extra: str) -> dict[str, Any]:
    result = CliRunner().invoke(main, ["import", kind, str(path), "--json", *extra])
    assert result.exit_code == 0, result.output
    data: dict[str, Any] = json.loads(result.output)
    return data


def wxr(tmp_path: Path, names: list[str]) -> Path:
    """A WXR file with one post (its title the first name) and one comment per name."""
    comments = "".join(
        f"<wp:comment><wp:comment_id>{n}</wp:comment_id>"
        f"<wp:comment_author>{escape(name)}</wp:comment_author>"
        f"<wp:comment_date_gmt>2021-01-01 10:00:{n:02d}</wp:comment_date_gmt>"
        f"<wp:comment_content>{escape(name)}</wp:comment_content>"
        "<wp:comment_approved>1</wp:comment_approved></wp:comment>"
        for n, name in enumerate(names)
    )
    path = tmp_path / "text.xml"
    path.write_text(
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<rss version="2.0" xmlns:wp="http://wordpress.org/export/1.2/"><channel><item>'
        f"<title>{escape(names[0])}</title><link>https://blog.example.com/t/</link>"
        f"<wp:post_id>1</wp:post_id>{comments}</item></channel></rss>",
        encoding="utf-8",
    )
    return path


def rows(store: Store) -> dict[str, Any]:
    return {r["external_id"]: r for r in store.query("SELECT * FROM comments ORDER BY id")}


@pytest.mark.usefixtures("site_dir")
def test_import_text_correct_text_comes_out_unchanged(store: Store, tmp_path: Path) -> None:
    data = import_cli("wordpress", wxr(tmp_path, CORRECT))
    assert data["imported"] == len(CORRECT)
    assert REPAIRED_MOJIBAKE not in data["notes"]
    stored = rows(store)
    for n, text in enumerate(CORRECT):
        assert (stored[f"1/{n}"]["author"], stored[f"1/{n}"]["body"]) == (text, text)
    assert store.scalar("SELECT title FROM pages WHERE key = '/t/'") == CORRECT[0]


@pytest.mark.usefixtures("site_dir")
def test_import_text_real_mojibake_is_repaired_and_counted(store: Store, tmp_path: Path) -> None:
    data = import_cli("wordpress", wxr(tmp_path, [bad for bad, _ in MOJIBAKE]))
    stored = rows(store)
    assert [stored[f"1/{n}"]["author"] for n in range(len(MOJIBAKE))] == [
        good for _, good in MOJIBAKE
    ]
    assert [stored[f"1/{n}"]["body"] for n in range(len(MOJIBAKE))] == [g for _, g in MOJIBAKE]
    assert data["notes"][REPAIRED_MOJIBAKE] == 2 * len(MOJIBAKE)  # names and bodies
    assert store.scalar("SELECT title FROM pages WHERE key = '/t/'") == MOJIBAKE[0][1]


@pytest.mark.usefixtures("site_dir")
def test_import_text_wordpress_ids_are_scoped_by_post(store: Store) -> None:
    data = import_cli("wordpress", SHARED_IDS)
    assert data["imported_by_status"] == {"approved": 5}
    assert data["skipped"] == [
        {"record": "comment 3 on post 11", "reason": "duplicate id 11/3 (the first one was kept)"}
    ]
    assert data["threading_repairs"] == []
    stored = rows(store)
    assert sorted(stored) == ["10/1", "10/2", "11/1", "11/2", "11/3"]
    assert stored["10/2"]["parent_id"] == stored["10/1"]["id"]
    assert stored["11/2"]["parent_id"] == stored["11/1"]["id"]  # its parent came later
    assert (stored["10/1"]["author"], stored["11/1"]["author"]) == ("Ann", "Dee")
    again = import_cli("wordpress", SHARED_IDS)
    assert (again["imported"], again["already_present"]) == (0, 5)


@pytest.mark.usefixtures("site_dir")
def test_import_text_wordpress_reimport_over_the_old_unscoped_ids(store: Store) -> None:
    """A database imported before ids were scoped holds bare ``comment_id`` values and lost
    the second post's comments. Importing again keeps what is there and adds only those."""
    import_cli("wordpress", SHARED_IDS)
    with store.write() as conn:  # what the old importer left: post 10 under bare ids only
        conn.execute("DELETE FROM comments WHERE external_id LIKE '11/%'")
        conn.execute("UPDATE comments SET external_id = substr(external_id, 4)")
    before = {r["external_id"]: r["id"] for r in store.query("SELECT * FROM comments")}
    assert sorted(before) == ["1", "2"]
    data = import_cli("wordpress", SHARED_IDS)
    assert (data["imported"], data["already_present"]) == (3, 2)
    stored = rows(store)
    assert sorted(stored) == ["1", "11/1", "11/2", "11/3", "2"]
    assert {k: stored[k]["id"] for k in ("1", "2")} == before  # kept as they were
    assert stored["11/2"]["parent_id"] == stored["11/1"]["id"]
    third = import_cli("wordpress", SHARED_IDS)
    assert (third["imported"], third["already_present"]) == (0, 5)


@pytest.mark.usefixtures("site_dir")
def test_import_text_wordpress_new_reply_links_to_a_parent_stored_under_an_old_id(
    store: Store, tmp_path: Path
) -> None:
    import_cli("wordpress", SHARED_IDS)
    with store.write() as conn:  # old scheme, and the reply arrived after that import
        conn.execute("DELETE FROM comments WHERE external_id LIKE '11/%' OR external_id = '10/2'")
        conn.execute("UPDATE comments SET external_id = '1' WHERE external_id = '10/1'")
    data = import_cli("wordpress", SHARED_IDS)
    assert (data["imported"], data["already_present"], data["threading_repairs"]) == (4, 1, [])
    stored = rows(store)
    assert stored["10/2"]["parent_id"] == stored["1"]["id"]


@pytest.mark.usefixtures("site_dir")
def test_import_text_disqus_deleted_thread_is_imported_as_deleted(
    store: Store, config: Config
) -> None:
    data = import_cli("disqus", DELETED)
    assert data["imported_by_status"] == {"approved": 1, "deleted": 3, "spam": 1}
    assert data["notes"] == {DELETED_THREAD: 3}
    stored = rows(store)
    assert {k: stored[k]["status"] for k in stored} == {
        "201": "deleted",
        "202": "deleted",
        "203": "spam",
        "204": "approved",
        "205": "deleted",
    }
    assert stored["202"]["parent_id"] == stored["201"]["id"]  # kept in place, never shown
    text = CliRunner().invoke(main, ["import", "disqus", str(DELETED), "--dry-run"])
    assert text.exit_code == 0, text.output
    build_site(config, store)
    out = Path(config.output_dir)
    assert not (out / "threads/gone").exists()
    assert not (out / "threads/gone-later").exists()
    site = SafeXML.fromstring((out / "feed.atom").read_bytes())
    assert [e.text for e in site.iter(f"{ATOM}name")] == ["Cy"]


@pytest.mark.usefixtures("site_dir")
def test_import_text_disqus_deleted_thread_is_said_in_the_text_report(store: Store) -> None:
    result = CliRunner().invoke(main, ["import", "disqus", str(DELETED)])
    assert result.exit_code == 0, result.output
    assert "imported 5 comments (1 approved, 3 deleted, 1 spam)" in result.output
    assert f"note: {DELETED_THREAD} (3)" in result.output


HOSTILE = "\x01\x0b\x1f\ufffe\uffff\ufdd0\U0001fffe\U0010ffff\ud800"


def commento(tmp_path: Path, people: list[tuple[str, str]]) -> Path:
    """A Commento export, one comment per (name, website); JSON carries any code point."""
    data = {
        "version": 1,
        "comments": [
            {
                "commentHex": f"c{n}",
                "url": f"/blog/p{HOSTILE}/",
                "commenterHex": f"p{n}",
                "markdown": f"Comment {n}{HOSTILE} *here*",
                "parentHex": "root",
                "state": "approved",
                "creationDate": f"2021-03-12T11:21:{n:02d}Z",
            }
            for n in range(len(people))
        ],
        "commenters": [
            {"commenterHex": f"p{n}", "name": name, "link": link, "email": f"p{n}@x.example"}
            for n, (name, link) in enumerate(people)
        ],
    }
    path = tmp_path / "commento.json"
    path.write_text(json.dumps(data), encoding="ascii")
    return path


@pytest.mark.usefixtures("site_dir")
def test_import_text_intake_rules_apply_to_archives(
    store: Store, config: Config, tmp_path: Path
) -> None:
    people = [
        (f"Ann{HOSTILE}", f"https://ann.example/{HOSTILE}"),
        ("\u200b\u3164", "https://ok.example/"),
        (f"\u2800{HOSTILE}\u0301", "httpx://evil.example/"),
        ("Cy", "https://bank.example@evil.example/"),
        ("Dee", "https://dee.example/a b"),
        ("Eve", "javascript:alert(1)"),
        ("Fay", "https://fay.example/" + "x" * 500),
    ]
    data = import_cli("commento", commento(tmp_path, people))
    assert data["imported"] == len(people)
    assert data["notes"] == {INVISIBLE_NAME: 2, WEBSITE_DROPPED: 5}
    stored = rows(store)
    authors = [stored[f"c{n}"]["author"] for n in range(len(people))]
    assert authors == ["Ann", "Anonymous", "Anonymous", "Cy", "Dee", "Eve", "Fay"]
    websites = [stored[f"c{n}"]["website"] for n in range(len(people))]
    assert websites == ["https://ann.example/", "https://ok.example/", "", "", "", "", ""]
    for row in stored.values():
        for column in ("author", "body", "body_html", "website", "email", "page_key"):
            assert not has_forbidden(str(row[column])), column
    assert stored["c0"]["body"] == "Comment 0 *here*"
    assert store.scalar("SELECT count(*) FROM pages WHERE key = '/blog/p/'") == 1
    build_site(config, store)
    feed = SafeXML.fromstring((Path(config.output_dir) / "feed.atom").read_bytes())
    assert len(list(feed.iter(f"{ATOM}entry"))) == len(people)
