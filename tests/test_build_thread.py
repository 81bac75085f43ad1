"""Thread assembly and fragment details: depth, reply links, JSON fields, empty.html, avatars."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

from test_build_support import add

from afterword.builder import build_site
from afterword.builder.thread import DEPTH_CAP
from afterword.builder.view import safe_website
from afterword.config import Config
from afterword.store import Store

PUBLIC_FIELDS = {
    "owner",
    "id",
    "parent",
    "depth",
    "removed",
    "author",
    "website",
    "avatar",
    "html",
    "created",
    "edited",
}


def test_build_thread_deep_chain_renders_without_recursion(config: Config, store: Store) -> None:
    parent = None
    ids = []
    for n in range(1500):
        parent = add(store, "/deep/", f"level {n}", parent=parent)
        ids.append(parent)
    build_site(config, store)
    out = Path(config.output_dir) / "threads/deep"
    data = json.loads((out / "comments.json").read_bytes())
    assert [c["depth"] for c in data["comments"]] == list(range(1500))
    html = (out / "comments.html").read_text()
    assert html.count("<li") == html.count("</li>") == 1500
    assert html.count("<ol") == html.count("</ol>") == 1500
    assert f'data-depth="{DEPTH_CAP + 1}"' in html
    assert f'class="afterword-in-reply-to" href="#c{ids[DEPTH_CAP]}"' in html
    assert f'href="#c{ids[DEPTH_CAP - 1]}">In reply to' not in html


# bench/widget.py's thread: five kinds of text (Markdown, code, French, a quote, a list).
BENCH_TEXTS = [
    "I tried this on a **large** site and the build stayed *fast*: "
    "see [the notes](https://example.org/notes).",
    "Could the same work with `hugo server`? I'd like to keep my theme as it is.",
    "Merci pour l'article ! Une petite coquille au deuxième paragraphe : "
    "« cela » plutôt que « ça ».",
    "> Reading comments never touches a Python process.\n\nThat is the part that sold me.",
    "- one\n- two\n- three\n\nAll three steps worked here, 日本語のテキストも大丈夫です。",
]


def test_build_thread_fragment_weight_within_budget(config: Config, store: Store) -> None:
    """Issue 13: at most 500 bytes of fragment per comment for the benchmark's thread (50
    comments with identicons, a third of them replies), text, heading and form included."""
    ids: list[int] = []
    for n in range(50):
        body = f"{BENCH_TEXTS[n % len(BENCH_TEXTS)]}\n\nComment {n}."
        parent = ids[n - 1] if n % 3 == 2 else None
        ids.append(add(store, "/blog/post/", body, author=f"Reader {n}", parent=parent,
                       email=f"reader{n}@example.com"))  # fmt: skip
    build_site(config, store)
    html = (Path(config.output_dir) / "threads/blog/post/comments.html").read_bytes()
    assert html.count(b'<li class="afterword-comment"') == 50
    assert html.count(b" data-identicon=") == 50
    assert len(html) / 50 <= 500, len(html) / 50


def test_build_thread_json_has_only_public_fields(config: Config, store: Store) -> None:
    first = add(store, "/p/", "Hi", author="Zoë", website="https://zoe.example")
    add(store, "/p/", "Re", parent=first, website="javascript:alert(1)")
    build_site(config, store)
    data = json.loads((Path(config.output_dir) / "threads/p/comments.json").read_bytes())
    assert list(data) == ["version", "page", "part", "parts", "count", "closed", "next", "comments"]
    assert all(set(c) == PUBLIC_FIELDS for c in data["comments"])
    top, reply = data["comments"]
    assert (top["author"], top["website"], top["parent"]) == ("Zoë", "https://zoe.example", None)
    assert (reply["website"], reply["parent"], reply["depth"]) == (None, first, 1)
    assert top["avatar"].startswith("data:image/svg+xml,")


def test_build_thread_empty_html_is_a_blank_thread_with_form(config: Config, store: Store) -> None:
    build_site(config, store)
    html = (Path(config.output_dir) / "empty.html").read_text()
    assert 'data-page=""' in html
    assert 'data-count="0"' in html
    assert '<input type="hidden" name="page" value="">' in html
    assert '<input type="hidden" name="redirect" value="">' in html
    assert f'action="{config.intake_url}"' in html
    assert "No comments yet" in html


def test_build_thread_form_posts_page_and_redirect(config: Config, store: Store) -> None:
    add(store, "/blog/café/")
    build_site(config, store)
    html = (Path(config.output_dir) / "threads/blog/caf%C3%A9/comments.html").read_text()
    assert '<input type="hidden" name="page" value="/blog/café/">' in html
    assert 'name="redirect" value="https://blog.example.com/blog/café/"' in html
    for field in ("author", "email", "website", "body", "aw_x9k", "parent"):
        assert f'name="{field}"' in html


def test_build_thread_avatar_styles(config: Config, store: Store) -> None:
    add(store, "/p/", email="Ana@Example.com")
    gravatar = replace(config, build=replace(config.build, avatar="gravatar"))
    build_site(gravatar, store)
    data = json.loads((Path(config.output_dir) / "threads/p/comments.json").read_bytes())
    # md5("ana@example.com"): Gravatar's own scheme, only when the site owner opts in.
    assert data["comments"][0]["avatar"].startswith(
        "https://www.gravatar.com/avatar/cdb9d6a1dddc375a09cc83e3001598dc?"
    )
    none = replace(config, build=replace(config.build, avatar="none"))
    build_site(none, store)
    data = json.loads((Path(config.output_dir) / "threads/p/comments.json").read_bytes())
    assert data["comments"][0]["avatar"] is None
    html = (Path(config.output_dir) / "threads/p/comments.html").read_text()
    assert "afterword-avatar" not in html
    assert "data-identicon" not in html


def test_build_thread_safe_website_table() -> None:
    assert safe_website("https://a.example/x?y=1") == "https://a.example/x?y=1"
    assert safe_website(" http://a.example ") == "http://a.example"
    for bad in ("javascript:alert(1)", "ftp://a.example", "https://", "//a.example", "a b", ""):
        assert safe_website(bad) is None


def test_a_pulled_comment_carries_its_submission_id_and_an_intake_one_does_not(
    config: Config, store: Store
) -> None:
    """The widget recognises an SQS intake's pending receipt by it (no database id then)."""
    pulled = add(store, "/blog/q/", "from the queue")
    plain = add(store, "/blog/q/", "straight in")
    with store.write() as conn:
        conn.execute(
            "UPDATE comments SET external_id = ? WHERE id = ?", ("c0ffee" * 5 + "ab", pulled)
        )
    build_site(config, store)
    html = (config.output_dir / "threads" / "blog" / "q" / "comments.html").read_text()
    assert f'id="c{pulled}" data-submission="{"c0ffee" * 5 + "ab"}">' in html
    assert f'id="c{plain}">' in html
