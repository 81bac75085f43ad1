"""The owner's replies: ``afterword reply`` (flag or $EDITOR) and the link page's reply box;
approved at once, marked ``owner`` in the published JSON and HTML."""

from __future__ import annotations

import json
import stat
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from conftest import add_rendered, run_afterword
from fixtures_intake import UNLIMITED, RunningIntake
from fixtures_notify import SmtpServer, free_port

from afterword.config import Config
from afterword.intake.server import BackgroundServer
from afterword.notify.links import make_links
from afterword.store import Store, get_comment, open_store, site_secret

OWNER = {"owner": "Site Owner", "owner_website": "https://owner.example/"}


def thread(site: Path, page: str = "blog/post") -> dict[str, object]:
    return json.loads((site / "output" / "threads" / page / "comments.json").read_text())


def test_reply_by_flag_is_approved_marked_and_published(
    site_dir: Path, notify_site: Callable[..., Config], store: Store
) -> None:
    notify_site(moderation=OWNER)
    parent = add_rendered(store, "Is this thing on?", status="pending", email="a@example.org")
    done = run_afterword("reply", str(parent.id), "--body", "Yes, *it is*.", "--json", cwd=site_dir)
    assert done.returncode == 0, done.stderr
    answer = json.loads(done.stdout)
    assert answer["parent"] == parent.id
    assert answer["approved_parent"] is True  # replying to a pending comment approves it
    reply = get_comment(store, answer["id"])
    assert reply is not None
    assert (reply.status, reply.author, reply.website, reply.source) == (
        "approved", "Site Owner", "https://owner.example/", "owner"
    )  # fmt: skip
    assert reply.email == ""
    found = get_comment(store, parent.id)
    assert found is not None
    assert found.status == "approved"
    log = store.query("SELECT action, reason FROM moderation_log ORDER BY id")
    assert [(r["action"], r["reason"]) for r in log] == [
        ("approve", "replied to"),
        ("reply", f"reply to {parent.id}"),
    ]
    assert run_afterword("build", cwd=site_dir).returncode == 0
    comments = thread(site_dir)["comments"]
    assert isinstance(comments, list)
    assert [(c["id"], c["owner"]) for c in comments] == [(parent.id, False), (reply.id, True)]
    html = (site_dir / "output" / "threads" / "blog" / "post" / "comments.html").read_text()
    assert 'class="afterword-comment afterword-by-owner"' in html
    assert '<span class="afterword-owner-badge">Author</span>' in html
    assert html.count("afterword-owner-badge") == 1
    assert "a@example.org" not in html


def test_reply_from_the_editor(site_dir: Path, store: Store, tmp_path: Path) -> None:
    parent = add_rendered(store, "Question", status="approved")
    editor = tmp_path / "editor.sh"
    editor.write_text('#!/bin/sh\nprintf "Written in the editor" > "$1"\n')
    editor.chmod(editor.stat().st_mode | stat.S_IXUSR)
    done = run_afterword("reply", str(parent.id), cwd=site_dir, env={"EDITOR": str(editor)})
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"replied to comment {parent.id} on /blog/post/")
    rows = store.query("SELECT author, body FROM comments WHERE source = 'owner'")
    assert [(r["author"], r["body"]) for r in rows] == [("My site", "Written in the editor")]


def test_reply_editor_closed_without_saving(site_dir: Path, store: Store) -> None:
    parent = add_rendered(store, "Question", status="approved")
    done = run_afterword("reply", str(parent.id), cwd=site_dir, env={"EDITOR": "true"})
    assert done.returncode == 1
    assert done.stderr == "Error: no reply written (the editor was closed without saving)\n"


@pytest.mark.parametrize(
    ("status", "args", "message"),
    [
        ("approved", ["999", "--body", "hi"], "Error: no comment with id 999\n"),
        ("spam", ["PARENT", "--body", "hi"], "is spam; approve it before replying"),
        ("rejected", ["PARENT", "--body", "hi"], "is rejected; approve it before replying"),
        ("approved", ["PARENT", "--body", "   "], "Error: an empty reply cannot be posted\n"),
        ("approved", ["PARENT", "--body", "x" * 10001], "limits.body_max is 10000"),
    ],
)
def test_reply_errors_change_nothing(
    site_dir: Path, store: Store, status: str, args: list[str], message: str
) -> None:
    parent = add_rendered(store, "Question", status=status)
    argv = [parent.id.__str__() if a == "PARENT" else a for a in args]
    done = run_afterword("reply", *argv, cwd=site_dir)
    assert done.returncode == 1
    assert message in done.stderr
    assert done.stderr.startswith("Error: ")
    assert store.scalar("SELECT count(*) FROM comments") == 1
    found = get_comment(store, parent.id)
    assert found is not None
    assert found.status == status


def test_reply_refuses_an_unpublishable_owner_website(
    site_dir: Path, notify_site: Callable[..., Config], store: Store
) -> None:
    notify_site(moderation={"owner_website": "javascript:alert(1)"})
    parent = add_rendered(store, "Question", status="approved")
    done = run_afterword("reply", str(parent.id), "--body", "hi", cwd=site_dir)
    assert done.returncode == 1
    assert "moderation.owner_website is not a publishable URL" in done.stderr


@pytest.fixture
def link_intake(
    site_dir: Path, notify_site: Callable[..., Config], smtp_server: SmtpServer
) -> RunningIntake:
    port = free_port()
    config = notify_site(
        notify={"mode": "off"},
        intake={"public_url": f"http://127.0.0.1:{port}"},
        limits=UNLIMITED,
        moderation=OWNER,
    )
    return RunningIntake(BackgroundServer(config, port=port).start(), config)


def test_reply_box_on_the_link_page(site_dir: Path, link_intake: RunningIntake) -> None:
    try:
        config = link_intake.config
        parent = link_intake.post(body="Reply to me").json()["data"]["id"]
        with open_store(config.database_path) as store:
            links = make_links(site_secret(store), link_intake.url, parent, "pending", 7)
        page = httpx.get(links["approve"])
        assert '<textarea id="reply-body" name="body"' in page.text
        assert "Reply as Site Owner" in page.text
        token = links["reply"].rsplit("/", 1)[1]
        headers = {"Origin": link_intake.url}
        empty = httpx.post(links["reply"], data={"token": token, "body": " "}, headers=headers)
        assert empty.status_code == 422
        assert "empty reply" in empty.text
        posted = httpx.post(
            links["reply"], data={"token": token, "body": "Thanks **a lot**"}, headers=headers
        )
        assert posted.status_code == 200
        assert "Your reply is posted as Site Owner" in posted.text
        assert "approved too" in posted.text
        with open_store(config.database_path) as store:
            rows = store.query("SELECT * FROM comments WHERE source = 'owner'")
            assert [(r["parent_id"], r["status"], r["body"]) for r in rows] == [
                (parent, "approved", "Thanks **a lot**")
            ]
            actors = [r["actor"] for r in store.query("SELECT actor FROM moderation_log")]
            assert actors == ["moderator via link", "moderator via link"]
        again = httpx.post(links["reply"], data={"token": token, "body": "twice"}, headers=headers)
        assert again.status_code == 409  # the parent is approved now: the link is spent
        with open_store(config.database_path) as store:
            assert store.scalar("SELECT count(*) FROM comments WHERE source = 'owner'") == 1
    finally:
        link_intake.stop()
