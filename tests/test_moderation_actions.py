"""Moderation actions: the library functions and the approve/reject/spam/delete commands."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import add_rendered as add
from conftest import run_afterword, status_of

from afterword.cli import main
from afterword.errors import ModerationError
from afterword.markup import RENDERER_VERSION, render_markdown
from afterword.moderation.actions import (
    apply_action,
    edit_body,
    restore_body,
    summarize,
    undo_action,
)
from afterword.store import (
    Store,
    Transition,
    get_page,
    moderation_history,
)


def version_of(store: Store, key: str) -> int:
    page = get_page(store, key)
    assert page is not None
    return page.version


def test_apply_action_many_ids_one_summary(store: Store) -> None:
    a, b = add(store, page_key="/one/"), add(store, page_key="/one/")
    c = add(store, page_key="/two/")
    result = apply_action(store, [a.id, b.id, c.id], "approve", actor="mod")
    assert result.summary() == "approved 3 comments on 2 pages"
    assert result.pages == ["/one/", "/two/"]
    assert {status_of(store, x) for x in (a, b, c)} == {"approved"}
    assert version_of(store, "/one/") == 2
    assert version_of(store, "/two/") == 1


def test_apply_action_one_bad_id_changes_nothing(store: Store) -> None:
    good = add(store)
    with pytest.raises(ModerationError, match="no comment with id 999"):
        apply_action(store, [good.id, 999], "approve", actor="mod")
    assert status_of(store, good) == "pending"
    assert moderation_history(store, good.id) == []


def test_apply_action_already_handled_is_an_error(store: Store) -> None:
    done = add(store, status="spam")
    with pytest.raises(ModerationError, match=f"comment {done.id} is already spam; cannot spam"):
        apply_action(store, [done.id], "spam", actor="mod")


@pytest.mark.parametrize(
    ("ids", "action", "message"),
    [([1], "publish", "unknown action 'publish'"), ([], "approve", "no comment ids given")],
)
def test_apply_action_bad_arguments(
    store: Store, ids: list[int], action: str, message: str
) -> None:
    with pytest.raises(ModerationError, match=message):
        apply_action(store, ids, action, actor="mod")


def test_apply_action_logs_actor_and_reason(store: Store) -> None:
    comment = add(store)
    apply_action(store, [comment.id], "reject", actor="moderator-1", reason="off topic")
    (entry,) = moderation_history(store, comment.id)
    assert (entry["action"], entry["from_status"], entry["to_status"]) == (
        "reject",
        "pending",
        "rejected",
    )
    assert (entry["actor"], entry["reason"]) == ("moderator-1", "off topic")


def test_undo_action_restores_and_refuses_stale(store: Store) -> None:
    comment = add(store)
    (step,) = apply_action(store, [comment.id], "approve", actor="m").transitions
    back = undo_action(store, step, actor="m")
    assert back == Transition(comment.id, "/blog/post/", "approved", "pending")
    assert status_of(store, comment) == "pending"
    with pytest.raises(ModerationError, match="changed since"):
        undo_action(store, step, actor="m")


def test_edit_body_rerenders_and_keeps_status(store: Store) -> None:
    comment = add(store, "old text", status="approved")
    before = version_of(store, "/blog/post/")
    edited = edit_body(store, comment.id, "  new *text*\n", actor="m")
    assert (edited.body, edited.status) == ("new *text*", "approved")
    assert edited.body_html == render_markdown("new *text*")
    assert edited.renderer == RENDERER_VERSION
    assert version_of(store, "/blog/post/") == before + 1
    restored = restore_body(store, comment, actor="m")
    assert (restored.body, restored.body_html) == (comment.body, comment.body_html)


def test_edit_body_refuses_empty_and_unknown(store: Store) -> None:
    comment = add(store)
    with pytest.raises(ModerationError, match="empty body"):
        edit_body(store, comment.id, " \n ", actor="m")
    with pytest.raises(ModerationError, match="no comment with id 424242"):
        edit_body(store, 424242, "text", actor="m")


@pytest.mark.parametrize(
    ("action", "pages", "expected"),
    [
        ("approve", ["/a/"], "approved 1 comment on 1 page"),
        ("reject", ["/a/", "/a/"], "rejected 2 comments on 1 page"),
        ("spam", ["/a/", "/b/"], "marked 2 comments as spam on 2 pages"),
        ("delete", ["/a/"], "deleted 1 comment on 1 page"),
    ],
)
def test_summarize_wording(action: str, pages: list[str], expected: str) -> None:
    transitions = [Transition(i, key, "pending", "x") for i, key in enumerate(pages)]
    assert summarize(action, transitions) == expected


@pytest.mark.parametrize(
    ("command", "status"),
    [("approve", "approved"), ("reject", "rejected"), ("spam", "spam"), ("delete", "deleted")],
)
def test_action_commands_change_status(store: Store, command: str, status: str) -> None:
    first, second = add(store), add(store, page_key="/other/")
    result = CliRunner().invoke(main, [command, str(first.id), str(second.id)])
    assert result.exit_code == 0, result.output
    assert "2 comments" in result.output
    assert result.output.endswith(" on 2 pages\n")
    assert status_of(store, first) == status_of(store, second) == status


def test_action_command_json(store: Store) -> None:
    comment = add(store)
    result = CliRunner().invoke(main, ["approve", str(comment.id), "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output) == {
        "action": "approve",
        "count": 1,
        "pages": ["/blog/post/"],
        "comments": [
            {"id": comment.id, "page": "/blog/post/", "from": "pending", "to": "approved"}
        ],
        "revisions": [],
    }


def test_reject_command_reason_and_configured_actor(store: Store, site_dir: Path) -> None:
    comment = add(store)
    env = {"AFTERWORD_MODERATION_MODERATOR": "Mod Squad"}
    result = CliRunner().invoke(main, ["reject", str(comment.id), "--reason", "rude"], env=env)
    assert result.exit_code == 0, result.output
    (entry,) = moderation_history(store, comment.id)
    assert (entry["actor"], entry["reason"]) == ("Mod Squad", "rude")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["approve", "1", "999"], "Error: no comment with id 999\n"),
        (["spam", "2"], "Error: comment 2 is already spam; cannot spam it\n"),
    ],
)
def test_action_command_errors_change_nothing(store: Store, args: list[str], message: str) -> None:
    first, second = add(store), add(store, status="spam")
    assert (first.id, second.id) == (1, 2)
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 1
    assert result.output == message
    assert status_of(store, first) == "pending"
    assert moderation_history(store, first.id) == []


@pytest.mark.parametrize("args", [["approve"], ["approve", "abc"], ["delete", "0"]])
def test_action_command_usage_errors(site_dir: Path, args: list[str]) -> None:
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 2
    assert "Traceback" not in result.output


def test_approve_subprocess(store: Store, site_dir: Path) -> None:
    comment = add(store)
    done = run_afterword("approve", str(comment.id), "424242", cwd=site_dir)
    assert done.returncode == 1
    assert done.stderr == "Error: no comment with id 424242\n"
    done = run_afterword("approve", str(comment.id), cwd=site_dir)
    assert done.returncode == 0, done.stderr
    assert done.stdout == "approved 1 comment on 1 page\n"
    assert status_of(store, comment) == "approved"
