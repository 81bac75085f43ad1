"""WordPress WXR import: the real CC Labs export, and a hand-made damaged one."""

from __future__ import annotations

import io
import json
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from click.testing import CliRunner

from afterword.cli import main
from afterword.cli.transfer import import_progress
from afterword.importers.report import ImportReport
from afterword.importers.run import ImportOptions, import_file
from afterword.store import Store

REAL = Path(__file__).resolve().parents[2] / "shared" / "fixtures" / "real"
WXR = REAL / "wordpress" / "cc-labs-wordpress.xml"
DATA = Path(__file__).resolve().parent / "data" / "import"
WP = "{http://wordpress.org/export/1.2/}"


def raw_comments() -> list[tuple[ET.Element, ET.Element]]:
    root = ET.parse(WXR).getroot()
    return [(item, c) for item in root.iter("item") for c in item.findall(f"{WP}comment")]


def scoped(item: ET.Element, comment: ET.Element) -> str:
    """The external id: the comment's id scoped by its post's."""
    return f"{item.findtext(f'{WP}post_id')}/{comment.findtext(f'{WP}comment_id')}"


def test_wordpress_real_counts_match_the_raw_file(store: Store) -> None:
    report = import_file(store, "wordpress", WXR, ImportOptions())
    comments = raw_comments()
    kept = [(i, c) for i, c in comments if c.findtext(f"{WP}comment_type") != "pingback"]
    assert report.read == len(comments) == 181
    assert dict(report.imported) == {"approved": len(kept)} == {"approved": 119}
    assert len(report.skipped) == len(comments) - len(kept) == 62
    assert {reason for _, reason in report.skipped} == {
        "pingback (afterword does not show link notifications)"
    }
    replies = [c for _, c in kept if c.findtext(f"{WP}comment_parent") != "0"]
    assert store.scalar("SELECT count(*) FROM comments WHERE parent_id IS NOT NULL") == 3
    assert len(replies) == 3
    depth2 = "SELECT count(*) FROM comments c JOIN comments p ON c.parent_id = p.id "
    assert store.scalar(depth2 + "WHERE p.parent_id IS NOT NULL") == 0  # max depth 1
    pages = {i.findtext("link") for i, _ in kept}
    assert report.pages_bumped == len(report.pages) == len(pages) == 53
    users = sum(c.findtext(f"{WP}comment_user_id") != "0" for _, c in kept)
    assert report.dropped == {
        "WordPress user id": users,
        "meta akismet_history": 1,
        "meta akismet_result": 1,
    }
    assert users == 29


def test_wordpress_real_text_and_names_are_exact(store: Store) -> None:
    import_file(store, "wordpress", WXR, ImportOptions())
    stored = {r[0]: r for r in store.query("SELECT external_id, body, author FROM comments")}
    non_ascii = 0
    for item, comment in raw_comments():
        found = stored.get(scoped(item, comment))
        if found is None:
            continue
        raw_author = (comment.findtext(f"{WP}comment_author") or "").strip()
        assert found["author"].encode() == raw_author.encode()
        assert found["body"] == (comment.findtext(f"{WP}comment_content") or "").strip()
        non_ascii += not raw_author.isascii()
    assert non_ascii == 2


def test_wordpress_real_reimport_adds_nothing(store: Store) -> None:
    import_file(store, "wordpress", WXR, ImportOptions())
    again = import_file(store, "wordpress", WXR, ImportOptions())
    assert again.imported_total == 0
    assert again.already_present == 119


@pytest.fixture
def damaged(store: Store) -> ImportReport:
    return import_file(store, "wordpress", DATA / "wordpress-damaged.xml", ImportOptions())


def by_id(store: Store, comment_id: str, post_id: str = "5") -> dict[str, object]:
    external_id = f"{post_id}/{comment_id}"
    return dict(store.query("SELECT * FROM comments WHERE external_id = ?", (external_id,))[0])


def test_wordpress_damaged_statuses_and_skips(store: Store, damaged: ImportReport) -> None:
    assert dict(damaged.imported) == {"approved": 2, "pending": 1, "spam": 1, "deleted": 1}
    assert damaged.skipped == [
        ("comment 25 on post 5", "trackback (afterword does not show link notifications)"),
        ("comment 26 on post 5", "bad date '0000-00-00 00:00:00'"),
    ]
    assert by_id(store, "22")["status"] == "pending"
    assert by_id(store, "23")["status"] == "spam"
    assert by_id(store, "24")["status"] == "deleted"


def test_wordpress_damaged_threading_and_dates(store: Store, damaged: ImportReport) -> None:
    reply, parent = by_id(store, "21"), by_id(store, "20")
    assert reply["parent_id"] == parent["id"]  # the parent came later in the file
    assert reply["created"] == "2020-01-02T09:00:00.000000Z"  # the GMT date wins
    assert parent["created"] == "2020-01-01T10:00:00.000000Z"  # local date, assumed UTC
    assert damaged.notes["date without time zone, assumed UTC"] == 1


def test_wordpress_damaged_html_and_privacy(store: Store, damaged: ImportReport) -> None:
    reply = by_id(store, "21")
    assert reply["body_html"] == (
        "<p>A reply whose parent comes later.</p><p>Second paragraph<br>\nwith a line break.</p>"
    )
    assert reply["website"] == ""  # javascript: URL dropped
    assert reply["ip_hash"] != ""
    assert by_id(store, "20")["body_html"] == "<p>Already <em>HTML</em> ’quoted’</p>"
    assert damaged.dropped == {"WordPress user id": 1, "meta akismet_result": 1}


def test_wordpress_damaged_title_mojibake_repaired(store: Store, damaged: ImportReport) -> None:
    title = store.scalar("SELECT title FROM pages WHERE key = '/2020/01/quoted/'")
    assert title == "It’s “quoted” — café"
    assert (
        store.scalar("SELECT count(*) FROM pages") == 1
    )  # the post without comments is not a page


class FakeTerminal(io.StringIO):
    """stderr that says it is a terminal, so the progress bar is drawn."""

    def isatty(self) -> bool:
        return True


@pytest.mark.usefixtures("site_dir")
def test_wordpress_cli_draws_progress_on_a_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    terminal = FakeTerminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    monkeypatch.setenv("TERM", "xterm")
    with import_progress("wordpress", WXR, quiet=False, as_json=False) as tick:
        assert tick is not None
        tick(WXR.stat().st_size // 2)
        tick(WXR.stat().st_size)
    assert "Importing wordpress" in terminal.getvalue()
    assert "100%" in terminal.getvalue()
    with import_progress("wordpress", WXR, quiet=True, as_json=False) as silent:
        assert silent is None


@pytest.mark.usefixtures("site_dir")
def test_wordpress_cli_dry_run_json(store: Store) -> None:
    result = CliRunner().invoke(
        main, ["import", "wordpress", str(WXR), "--dry-run", "--json", "--status", "pending"]
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["dry_run"] is True
    assert data["imported_by_status"] == {"pending": 119}
    assert store.scalar("SELECT count(*) FROM comments") == 0
    quiet = CliRunner().invoke(main, ["import", "wordpress", str(WXR), "--quiet"])
    assert quiet.output == ""
    assert store.scalar("SELECT count(*) FROM comments") == 119
