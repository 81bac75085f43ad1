"""The small readers every importer shares: dates, mojibake, paragraphs, URL maps, streaming."""

from __future__ import annotations

import tracemalloc
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path

import pytest

from afterword.errors import ImportFailed
from afterword.importers import disqus
from afterword.importers.fields import BadValue, autop, parse_date, repair_mojibake
from afterword.importers.records import ImportedComment
from afterword.importers.report import MAX_LISTED, ImportReport
from afterword.importers.run import map_url, parse_mapping


@pytest.mark.parametrize(
    ("value", "expected", "assumed"),
    [
        ("2015-10-14T18:32:40Z", "2015-10-14T18:32:40.000000Z", False),
        ("2017-03-05T15:41:06.676Z", "2017-03-05T15:41:06.676000Z", False),
        ("2020-01-01T02:00:00+02:00", "2020-01-01T00:00:00.000000Z", False),
        ("2005-02-24 04:03:37", "2005-02-24T04:03:37.000000Z", True),
        ("2016-12-26T23:47:19", "2016-12-26T23:47:19.000000Z", True),
        ("Wed, 11 Apr 2007 00:52:59 +0000", "2007-04-11T00:52:59.000000Z", False),
        ("1500000000", "2017-07-14T02:40:00.000000Z", False),
        (1500000000.25, "2017-07-14T02:40:00.250000Z", False),
        (datetime(2019, 1, 2, 3, 4, 5, tzinfo=UTC), "2019-01-02T03:04:05.000000Z", False),
        (datetime(2019, 1, 2, 3, 4, 5), "2019-01-02T03:04:05.000000Z", True),
        (
            datetime(2019, 1, 2, 3, 4, 5, tzinfo=timezone(timedelta(hours=-5))),
            "2019-01-02T08:04:05.000000Z",
            False,
        ),
        (date(2019, 1, 2), "2019-01-02T00:00:00.000000Z", True),
    ],
)
def test_parse_date_accepts_export_shapes(value: object, expected: str, assumed: bool) -> None:
    assert parse_date(value) == (expected, assumed)


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        (None, "missing date"),
        ("", "missing date"),
        ("   ", "missing date"),
        ("0000-00-00 00:00:00", "bad date '0000-00-00 00:00:00'"),
        ("yesterday", "bad date 'yesterday'"),
        ("1969-12-31T00:00:00Z", "bad date '1969-12-31T00:00:00Z'"),
        (1e20, "bad date 1e+20"),
        (True, "missing date"),
        (["2020"], "missing date"),
    ],
)
def test_parse_date_refuses_with_a_reason(value: object, reason: str) -> None:
    with pytest.raises(BadValue) as caught:
        parse_date(value)
    assert str(caught.value) == reason


@pytest.mark.parametrize(
    ("text", "fixed", "changed"),
    [
        ("â€œquotedâ€\x9d", "“quoted”", True),
        ("Itâ€™s", "It’s", True),
        ("CristÃ³bal", "Cristóbal", True),
        ("Ã‰milie ZoÃ©", "Émilie Zoé", True),
        ("ä¸­æ–‡", "中文", True),
        ("ðŸ˜€", "😀", True),
        ("naïve café «x» Ångström", "naïve café «x» Ångström", False),
        ("支教前奏", "支教前奏", False),
        ("Â", "Â", False),
        ("plain", "plain", False),
        ("ÖZGÜ’NÜN", "ÖZGÜ’NÜN", False),  # Ü’ spells the bytes of U+071C; correct all the same
        ("Â is a letter", "Â is a letter", False),  # not a lost U+00A0
        ("Itâ€™s â€œquotedâ€\x9d â€” café", "It’s “quoted” — café", True),  # partly damaged
    ],
)
def test_repair_mojibake_only_touches_double_encoding(text: str, fixed: str, changed: bool) -> None:
    assert repair_mojibake(text) == (fixed, changed)


@pytest.mark.parametrize(
    ("text", "html"),
    [
        ("one", "<p>one</p>"),
        ("one\ntwo", "<p>one<br>\ntwo</p>"),
        ("one\n\n\ntwo", "<p>one</p><p>two</p>"),
        ("<p>kept</p>\n\nas is", "<p>kept</p>\n\nas is"),
        ("", ""),
    ],
)
def test_autop_makes_paragraphs_like_wordpress(text: str, html: str) -> None:
    assert autop(text) == html


def test_map_url_replaces_the_first_matching_prefix() -> None:
    pairs = parse_mapping(("http://old.example=https://new.example", "http://x=https://y"))
    assert map_url("http://old.example/a/?p=1", pairs) == "https://new.example/a/?p=1"
    assert map_url("http://other.example/a/", pairs) == "http://other.example/a/"
    with pytest.raises(ImportFailed, match="--map-url needs OLD=NEW, got '=x'"):
        parse_mapping(("=x",))


def test_report_text_lists_at_most_a_screenful() -> None:
    report = ImportReport(source="disqus", path="x.xml")
    for n in range(MAX_LISTED + 5):
        report.skip(f"post {n}", "bad date 'x'")
    lines = report.to_lines()
    assert f"skipped: {MAX_LISTED + 5} ({MAX_LISTED + 5} bad date)" in lines
    assert "  … and 5 more (use --json for all)" in lines
    assert len(report.to_dict()["skipped"]) == MAX_LISTED + 5


def write_disqus(path: Path, posts: int) -> None:
    with path.open("w", encoding="utf-8") as out:
        out.write(
            '<disqus xmlns="http://disqus.com" xmlns:dsq="http://disqus.com/disqus-internals">'
        )
        out.write('<thread dsq:id="1"><link>https://e.example/p/</link><title>P</title></thread>\n')
        text = "<p>" + "Lorem ipsum dolor sit amet. " * 40 + "</p>"
        for n in range(posts):
            out.write(
                f'<post dsq:id="{n}"><message><![CDATA[{text}]]></message>'
                "<createdAt>2020-01-01T00:00:00Z</createdAt><author><name>A</name></author>"
                '<thread dsq:id="1"/></post>\n'
            )
        out.write("</disqus>\n")


def test_disqus_reader_memory_is_bounded(tmp_path: Path) -> None:
    """Reading 5,000 posts (~6.5 MB) must not build the tree: peak well under the file size."""
    path = tmp_path / "big.xml"
    write_disqus(path, 5_000)
    tracemalloc.start()
    count = sum(isinstance(item, ImportedComment) for item in disqus.read(path))
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert count == 5_000
    assert path.stat().st_size > 6_000_000
    assert peak < 1_000_000
