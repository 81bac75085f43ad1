"""POST /api/comments over real HTTP: what is accepted, stored, and every way it is refused."""

from __future__ import annotations

import json
import socket
import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fixtures_intake import UNLIMITED, RunningIntake, comment_fields, configured

from afterword.config import load_config
from afterword.intake.server import BackgroundServer
from afterword.intake.validate import body_hash
from afterword.markup import RENDERER_VERSION
from afterword.privacy import hash_address
from afterword.scaffold import write_config
from afterword.store import (
    NewComment,
    Store,
    insert_comment,
    moderate,
    open_store,
    set_page_closed,
    site_secret,
)

BIG = 70_000  # over the default 64 KiB cap


def stored_row(store: Store, comment_id: int) -> sqlite3.Row:
    row: sqlite3.Row = store.query("SELECT * FROM comments WHERE id = ?", (comment_id,))[0]
    return row


def page_row(store: Store, key: str) -> tuple[str, int]:
    row = store.query("SELECT url, version FROM pages WHERE key = ?", (key,))[0]
    return (row["url"], row["version"])


@pytest.fixture(scope="module")
def table_intake(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningIntake]:
    """One intake for the whole table: no rate limit, an allowlist, one approved parent."""
    folder = tmp_path_factory.mktemp("table-site")
    write_config(folder, site_url="https://blog.example.com")
    config = configured(
        load_config(folder / "afterword.toml", environ={}),
        limits=UNLIMITED,
        site={"pages": ["/blog/*"]},
    )
    with BackgroundServer(config) as server:
        yield RunningIntake(server, config)


def _multipart_file() -> dict[str, Any]:
    return {"data": {"page": "/blog/a/"}, "files": {"body": ("a.txt", b"hi", "text/plain")}}


def _chunked(size: int) -> Iterator[bytes]:
    for _ in range(size // 10_000 + 1):
        yield b"x" * 10_000


BAD_REQUESTS: list[tuple[str, str, str, dict[str, Any], int, str, set[str]]] = [
    ("no-content-type", "POST", "/api/comments", {"content": b"body=x"}, 415,
     "unsupported_media_type", set()),
    ("text-plain", "POST", "/api/comments",
     {"content": b"x", "headers": {"content-type": "text/plain"}}, 415,
     "unsupported_media_type", set()),
    ("json-latin1", "POST", "/api/comments",
     {"content": b"{}", "headers": {"content-type": "application/json; charset=latin-1"}}, 415,
     "unsupported_media_type", set()),
    ("bad-json", "POST", "/api/comments",
     {"content": b"{oops", "headers": {"content-type": "application/json"}}, 400, "malformed",
     set()),
    ("empty-json", "POST", "/api/comments",
     {"content": b"", "headers": {"content-type": "application/json"}}, 400, "malformed", set()),
    ("json-array", "POST", "/api/comments", {"json": [1, 2]}, 400, "malformed", set()),
    ("json-invalid-utf8", "POST", "/api/comments",
     {"content": b'{"body": "\xc3\x28"}', "headers": {"content-type": "application/json"}}, 400,
     "malformed", set()),
    ("form-invalid-utf8", "POST", "/api/comments",
     {"content": b"page=/blog/a/&author=A&body=%C3%28",
      "headers": {"content-type": "application/x-www-form-urlencoded",
                  "accept": "application/json"}}, 400, "malformed", set()),
    ("multipart-file", "POST", "/api/comments",
     {**_multipart_file(), "headers": {"accept": "application/json"}}, 400, "malformed", set()),
    ("multipart-no-boundary", "POST", "/api/comments",
     {"content": b"x", "headers": {"content-type": "multipart/form-data",
                                   "accept": "application/json"}}, 400, "malformed", set()),
    ("too-large-declared", "POST", "/api/comments",
     {"content": b"{" + b" " * BIG, "headers": {"content-type": "application/json"}}, 413,
     "too_large", set()),
    ("too-large-chunked", "POST", "/api/comments",
     {"content": _chunked(BIG), "headers": {"content-type": "application/json"}}, 413,
     "too_large", set()),
    ("missing-everything", "POST", "/api/comments", {"json": {}}, 422, "invalid",
     {"page", "author", "body"}),
    ("nul-in-author", "POST", "/api/comments", {"json": comment_fields(author="A\x00")}, 422,
     "invalid", {"author"}),
    ("bad-page", "POST", "/api/comments", {"json": comment_fields(page="/%FF/")}, 422, "invalid",
     {"page"}),
    ("page-not-allowed", "POST", "/api/comments", {"json": comment_fields(page="/shop/")}, 404,
     "unknown_page", set()),
    ("unknown-parent", "POST", "/api/comments", {"json": comment_fields(parent=999_999)}, 422,
     "invalid", {"parent"}),
    ("parent-not-a-number", "POST", "/api/comments", {"json": comment_fields(parent="1; drop")},
     422, "invalid", {"parent"}),
    ("javascript-website", "POST", "/api/comments",
     {"json": comment_fields(website="javascript:alert(1)")}, 422, "invalid", {"website"}),
    ("body-too-long", "POST", "/api/comments", {"json": comment_fields(body="x" * 10_001)}, 422,
     "invalid", {"body"}),
    ("foreign-origin", "POST", "/api/comments",
     {"json": comment_fields(), "headers": {"origin": "https://evil.example"}}, 403,
     "forbidden_origin", set()),
    ("get-api", "GET", "/api/comments", {}, 405, "method_not_allowed", set()),
    ("unknown-route", "GET", "/api/commentz/1", {}, 404, "not_found", set()),
]  # fmt: skip


@pytest.mark.parametrize(
    ("method", "path", "kwargs", "status", "code", "fields"),
    [pytest.param(*case[1:], id=case[0]) for case in BAD_REQUESTS],
)
def test_post_comment_bad_request_gets_exact_error(
    table_intake: RunningIntake,
    method: str,
    path: str,
    kwargs: dict[str, Any],
    status: int,
    code: str,
    fields: set[str],
) -> None:
    response = httpx.request(method, table_intake.url + path, timeout=10, **kwargs)
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert (error["code"], set(error["fields"])) == (code, fields)
    assert error["message"]
    assert response.headers["x-response-time"].endswith("ms")


def test_post_comment_accepted_answer_hides_private_fields(
    intake_server: RunningIntake, store: Store
) -> None:
    response = intake_server.post(body="Hello **there** <script>x</script>", parent="")
    assert response.status_code == 202
    data = response.json()["data"]
    assert set(data) == {
        "id", "page", "parent", "author", "website", "html", "created", "status",
        "capability", "editable_until", "edit_window_minutes",
    }  # fmt: skip
    assert "<strong>there</strong>" in data["html"]
    assert "<script" not in data["html"]
    assert (data["page"], data["parent"], data["status"]) == ("/blog/hello/", None, "pending")
    assert "ada@example.org" not in response.text
    assert response.headers["vary"] == "Origin"


def test_post_comment_stores_what_the_moderator_needs(
    intake_server: RunningIntake, store: Store
) -> None:
    data = intake_server.post(body=" Text\u202e with   spacing \x07").json()["data"]
    comment = stored_row(store, data["id"])
    assert (comment["status"], comment["source"], comment["email"]) == (
        "pending",
        "intake",
        "ada@example.org",
    )
    assert comment["body"] == "Text with   spacing"
    assert comment["renderer"] == RENDERER_VERSION
    assert comment["body_html"] == data["html"]
    assert comment["created"] == data["created"]
    assert comment["ip_hash"] == hash_address(site_secret(store), "127.0.0.1")
    assert comment["body_hash"] == body_hash("Text with spacing")
    assert page_row(store, "/blog/hello/") == ("https://blog.example.com/blog/hello/", 0)


@pytest.mark.parametrize("encoding", ["urlencoded", "multipart"])
def test_post_comment_form_encodings_with_json_accept(
    intake_server: RunningIntake, encoding: str
) -> None:
    fields = comment_fields(body="from a form", author="Bé")
    files = {"x-unused": (None, "1")} if encoding == "multipart" else None
    response = httpx.post(
        intake_server.api,
        data=fields,
        files=files,
        headers={"accept": "application/json"},
        timeout=10,
    )
    assert response.status_code == 202, response.text
    assert response.json()["data"]["author"] == "Bé"


def test_post_comment_reply_needs_approved_parent_on_same_page(
    start_intake: Callable[..., RunningIntake], store: Store
) -> None:
    intake = start_intake(limits=UNLIMITED)
    parent = intake.post().json()["data"]["id"]
    other_page = intake.post(page="/blog/other/", body="elsewhere").json()["data"]["id"]
    pending = intake.post(parent=parent, body="reply to pending")
    assert pending.status_code == 422
    assert pending.json()["error"]["fields"] == {
        "parent": "is not a published comment on this page"
    }
    moderate(store, [parent, other_page], "approve", actor="test")
    reply = intake.post(parent=str(parent), body="a reply")
    assert reply.status_code == 202
    assert reply.json()["data"]["parent"] == parent
    assert intake.post(parent=other_page, body="wrong page").status_code == 422


def test_post_comment_duplicate_is_409(start_intake: Callable[..., RunningIntake]) -> None:
    intake = start_intake(limits=UNLIMITED)
    assert intake.post(body="Same words").status_code == 202
    again = intake.post(body="  Same   words ")
    assert again.status_code == 409
    assert again.json()["error"]["code"] == "duplicate"
    assert intake.post(body="Same words", page="/blog/other/").status_code == 202


def test_post_comment_duplicate_window_zero_allows_repeats(
    start_intake: Callable[..., RunningIntake],
) -> None:
    intake = start_intake(limits={**UNLIMITED, "duplicate_window_seconds": 0})
    assert [intake.post(body="again").status_code for _ in range(2)] == [202, 202]


def test_post_comment_trusted_author_is_approved_and_bumps_page(
    start_intake: Callable[..., RunningIntake], store: Store
) -> None:
    intake = start_intake(moderation={"trusted": ["@example.org"]})
    data = intake.post().json()["data"]
    assert data["status"] == "approved"
    assert page_row(store, "/blog/hello/")[1] == 1
    links = " ".join(f"https://l{i}.example" for i in range(4))
    assert intake.post(body=links).json()["data"]["status"] == "pending"


def test_post_comment_auto_approve_after_counts_approved(
    start_intake: Callable[..., RunningIntake], store: Store
) -> None:
    intake = start_intake(limits=UNLIMITED, moderation={"auto_approve_after": 1})
    first = intake.post(body="first").json()["data"]
    assert first["status"] == "pending"
    moderate(store, [first["id"]], "approve", actor="test")
    assert intake.post(body="second", email="ADA@example.org").json()["data"]["status"] == (
        "approved"
    )


def test_post_comment_honeypot_looks_accepted_but_is_spam(
    intake_server: RunningIntake, store: Store
) -> None:
    response = intake_server.post(aw_x9k="+1 555 0100")
    assert response.status_code == 202
    data = response.json()["data"]
    assert data["status"] == "pending"
    assert stored_row(store, data["id"])["status"] == "spam"


def test_post_comment_declared_length_refused_before_body_arrives(
    intake_server: RunningIntake,
) -> None:
    """413 comes back while the client has sent headers only: nothing was read or parsed."""
    with socket.create_connection((intake_server.server.host, intake_server.server.port)) as sock:
        sock.settimeout(5)
        sock.sendall(
            b"POST /api/comments HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Content-Length: 50000000\r\n\r\n{"
        )
        head = sock.recv(65536).decode("latin-1")
    assert head.startswith("HTTP/1.1 413 ")
    body = head.split("\r\n\r\n", 1)[1]
    assert json.loads(body)["error"]["code"] == "too_large"


def test_post_comment_body_cap_follows_config(
    start_intake: Callable[..., RunningIntake],
) -> None:
    intake = start_intake(intake={"max_request_bytes": 400})
    assert intake.post(body="x" * 100).status_code == 202
    assert intake.post(body="y" * 400).status_code == 413


def test_post_comment_storage_failure_is_503(intake_server: RunningIntake, store: Store) -> None:
    store.conn.execute("ALTER TABLE comments RENAME TO comments_gone")
    response = intake_server.post()
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "unavailable"
    assert response.headers["retry-after"] == "5"


def test_create_app_without_argument_reads_afterword_config(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from afterword.intake import create_app

    write_config(tmp_path / "elsewhere", site_url="https://other.example")
    open_store(tmp_path / "elsewhere" / "afterword.db").close()  # as `afterword init` does
    monkeypatch.setenv("AFTERWORD_CONFIG", str(tmp_path / "elsewhere" / "afterword.toml"))
    app = create_app()
    assert app.state.intake.config.site.url == "https://other.example"


def _old_approved_comment(store: Store, page: str) -> None:
    with store.write() as conn:
        insert_comment(
            conn,
            NewComment(
                page_key=page,
                author="Early",
                body="first!",
                body_html="<p>first!</p>",
                renderer=RENDERER_VERSION,
                status="approved",
                created="2020-01-01T00:00:00.000000Z",
            ),
        )


def test_post_comment_closed_thread_is_403(
    start_intake: Callable[..., RunningIntake], store: Store
) -> None:
    intake = start_intake(
        limits=UNLIMITED, build={"closed_pages": ["/archive/*"], "close_after_days": 30}
    )
    _old_approved_comment(store, "/blog/old/")
    assert intake.post(page="/blog/shut/").status_code == 202
    set_page_closed(store, "/blog/shut/", True)
    for page in ("/archive/2019/", "/blog/old/", "/blog/shut/"):
        response = intake.post(page=page)
        assert response.status_code == 403, page
        assert response.json()["error"]["code"] == "closed"
    assert intake.post(page="/blog/new/").status_code == 202
