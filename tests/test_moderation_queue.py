"""The queue listing: library functions and ``afterword queue`` through click's runner."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import add_rendered as add

from afterword.cli import main
from afterword.errors import ModerationError
from afterword.moderation.queue import (
    format_age,
    format_table,
    list_queue,
    queue_item,
    terminal_safe,
)
from afterword.store import Store, format_time, parse_time
from afterword.store.migrations import STATUSES


def ago(**delta: float) -> str:
    return format_time(parse_time("2026-01-10T12:00:00.000000Z") - timedelta(**delta))


def test_list_queue_pending_oldest_first(store: Store) -> None:
    newer = add(store, "newer", created=ago(minutes=1))
    older = add(store, "older", created=ago(hours=2))
    add(store, "visible", status="approved")
    assert [c.id for c in list_queue(store)] == [older.id, newer.id]


def test_list_queue_all_and_single_status(store: Store) -> None:
    add(store, "a")
    add(store, "b", status="spam")
    add(store, "c", status="deleted")
    assert len(list_queue(store, status="all")) == 3
    assert [c.body for c in list_queue(store, status="spam")] == ["b"]
    assert [c.body for c in list_queue(store, status="deleted")] == ["c"]


def test_list_queue_page_filter_normalizes_urls(store: Store) -> None:
    add(store, "here", page_key="/blog/post/")
    add(store, "elsewhere", page_key="/about/")
    found = list_queue(store, page="https://blog.example.com/blog//post/?x=1#c")
    assert [c.body for c in found] == ["here"]


def test_list_queue_unknown_status_is_an_error(store: Store) -> None:
    with pytest.raises(ModerationError, match="unknown status 'waiting'"):
        list_queue(store, status="waiting")


@pytest.mark.parametrize(
    ("delta", "expected"),
    [
        ({"seconds": 0}, "0s"),
        ({"seconds": 59}, "59s"),
        ({"seconds": 60}, "1m"),
        ({"minutes": 59, "seconds": 59}, "59m"),
        ({"hours": 3}, "3h"),
        ({"days": 1}, "1d"),
        ({"days": 400}, "1y"),
        ({"seconds": -30}, "0s"),  # clock skew: never a negative age
    ],
)
def test_format_age_units(delta: dict[str, float], expected: str) -> None:
    now = parse_time("2026-01-10T12:00:00.000000Z")
    assert format_age(ago(**delta), now) == expected


def test_terminal_safe_drops_escapes_and_bidi() -> None:
    hostile = "Bob\x1b[2J\x1b]0;pwned\x07\u202eevil\u2066"
    cleaned = terminal_safe(hostile)
    assert "\x1b" not in cleaned
    assert "\x07" not in cleaned
    assert "\u202e" not in cleaned
    assert cleaned.startswith("Bob")
    assert terminal_safe("a\nb", keep_newlines=True) == "a\nb"
    assert terminal_safe("a\nb") == "a b"


def test_queue_item_has_email_but_never_ip_hash(store: Store) -> None:
    comment = add(store, "Zoë says **hi**", email="zoe@example.com", ip_hash="abc123")
    item = queue_item(comment)
    assert item["email"] == "zoe@example.com"
    assert item["excerpt"] == "Zoë says hi"
    assert "ip_hash" not in item
    assert "abc123" not in json.dumps(item)


def test_format_table_columns_and_width(store: Store) -> None:
    add(store, "word " * 200, author="Ünïcode Author", created=ago(hours=3))
    table = format_table(list_queue(store), width=80)
    header, row = table.splitlines()
    assert header.split() == ["ID", "AGE", "PAGE", "AUTHOR", "EXCERPT"]
    assert "/blog/post/" in row
    assert "Ünïcode Author" in row
    assert row.endswith("…")
    assert len(row) <= 80


def test_format_table_empty_is_empty() -> None:
    assert format_table([]) == ""


def test_queue_command_table(store: Store) -> None:
    comment = add(store, "A *fine* post", author="Carol")
    result = CliRunner().invoke(main, ["queue"])
    assert result.exit_code == 0, result.output
    assert "Carol" in result.output
    assert f"{comment.id}  " in result.output
    assert "A fine post" in result.output


def test_queue_command_empty(site_dir: Path) -> None:
    result = CliRunner().invoke(main, ["queue", "--status", "spam"])
    assert result.exit_code == 0
    assert result.output == "No spam comments.\n"


def test_queue_command_json_non_ascii(store: Store) -> None:
    add(store, "日本語のコメント 🎉", author="Zoë", email="zoë@example.com", ip_hash="secret")
    result = CliRunner().invoke(main, ["queue", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["count"] == 1
    (item,) = data["comments"]
    assert item["author"] == "Zoë"
    assert item["body"] == "日本語のコメント 🎉"
    assert item["email"] == "zoë@example.com"
    assert "secret" not in result.output


def test_queue_command_status_and_page_filters(store: Store) -> None:
    add(store, "pending one", page_key="/a/")
    add(store, "approved one", page_key="/a/", status="approved")
    add(store, "approved elsewhere", page_key="/b/", status="approved")
    result = CliRunner().invoke(main, ["queue", "--status", "approved", "--page", "/a", "--json"])
    assert result.exit_code == 0, result.output
    assert [c["body"] for c in json.loads(result.output)["comments"]] == ["approved one"]


def test_queue_command_bad_status_is_usage_error(site_dir: Path) -> None:
    result = CliRunner().invoke(main, ["queue", "--status", "waiting"])
    assert result.exit_code == 2
    assert "Invalid value for '--status'" in result.output


def test_queue_command_bad_page_is_one_line_error(site_dir: Path) -> None:
    result = CliRunner().invoke(main, ["queue", "--page", "/" + "x" * 5000])
    assert result.exit_code == 1
    assert result.output.startswith("Error: ")
    assert len(result.output.strip().splitlines()) == 1


def test_queue_command_status_all_shows_each_status(store: Store) -> None:
    """Mixed statuses must be told apart: a STATUS column in the table, status in JSON."""
    made = {status: add(store, f"{status} body", status=status) for status in STATUSES}
    result = CliRunner().invoke(main, ["queue", "--status", "all"], terminal_width=120)
    assert result.exit_code == 0, result.output
    header, *rows = result.output.splitlines()
    assert header.split() == ["ID", "AGE", "STATUS", "PAGE", "AUTHOR", "EXCERPT"]
    assert len(rows) == len(STATUSES)
    for row in rows:
        cells = row.split()
        comment = next(c for c in made.values() if str(c.id) == cells[0])
        assert cells[2] == comment.status
        assert f"{comment.status} body" in row
    data = json.loads(CliRunner().invoke(main, ["queue", "--status", "all", "--json"]).output)
    assert {c["id"]: c["status"] for c in data["comments"]} == {
        c.id: status for status, c in made.items()
    }


def test_queue_command_single_status_has_no_status_column(store: Store) -> None:
    add(store, "waiting")
    result = CliRunner().invoke(main, ["queue"])
    assert result.output.splitlines()[0].split() == ["ID", "AGE", "PAGE", "AUTHOR", "EXCERPT"]


def test_format_table_status_column_keeps_the_width(store: Store) -> None:
    add(store, "word " * 200, status="spam")
    table = format_table(list_queue(store, status="all"), width=80, show_status=True)
    header, row = table.splitlines()
    assert header.split()[2] == "STATUS"
    assert " spam " in row
    assert len(row) <= 80
