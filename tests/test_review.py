"""``afterword review`` driven by scripted keys: CliRunner, the Review class, a subprocess."""

from __future__ import annotations

import io
import os
import pty
import select
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from conftest import add_rendered as add
from conftest import afterword_env, run_afterword
from conftest import status_of as status

from afterword.cli import main
from afterword.markup import render_markdown
from afterword.moderation.actions import apply_action
from afterword.moderation.keys import key_reader
from afterword.moderation.review import Review
from afterword.store import (
    Comment,
    Store,
    get_comment,
    get_page,
    moderation_history,
)

EDITOR_SCRIPT = """\
import os, sys
path = sys.argv[1]
with open(path, "w", encoding="utf-8") as f:
    f.write(os.environ.get("NEW_BODY", "Edited by the *moderator*") + "\\n")
"""


def three(store: Store) -> list[Comment]:
    """Three pending comments, created in this order (the queue order)."""
    return [
        add(store, "First comment", created="2026-01-01T00:00:00.000000Z"),
        add(store, "Second comment", created="2026-01-02T00:00:00.000000Z", page_key="/b/"),
        add(store, "Third comment", created="2026-01-03T00:00:00.000000Z"),
    ]


def review(keys: str, **env: str) -> Result:
    result = CliRunner().invoke(main, ["review"], input=keys, env=env or None)
    assert result.exit_code == 0, result.output
    assert "Traceback" not in result.output
    return result


@pytest.fixture
def editor(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    script = tmp_path / "editor.py"
    script.write_text(EDITOR_SCRIPT, encoding="utf-8")
    monkeypatch.delenv("VISUAL", raising=False)
    command = f"{sys.executable} {script}"
    monkeypatch.setenv("EDITOR", command)
    return command


def test_review_actions_oldest_first(store: Store) -> None:
    first, second, third = three(store)
    result = review("a r s")
    assert [status(store, c) for c in (first, second, third)] == ["approved", "rejected", "spam"]
    assert result.output.index("First comment") < result.output.index("Second comment")
    assert "── 1 of 3 ── #1 (pending)" in result.output
    assert result.output.endswith(
        "Review finished: approved 1, rejected 1, spam 1; 0 still pending.\n"
    )


def test_review_delete_then_quit_leaves_rest(store: Store) -> None:
    first, second, third = three(store)
    result = review("d q")
    assert [status(store, c) for c in (first, second, third)] == ["deleted", "pending", "pending"]
    assert "Third comment" not in result.output
    assert result.output.endswith("Review finished: deleted 1; 2 still pending.\n")


def test_review_undo_restores_and_logs(store: Store) -> None:
    first, second, _ = three(store)
    result = review("a u r q")
    assert status(store, first) == "rejected"
    assert status(store, second) == "pending"
    assert "Undid approve of #1; it is pending again." in result.output
    actions = [row["action"] for row in moderation_history(store, first.id)]
    assert actions == ["approve", "undo", "reject"]
    page = get_page(store, "/blog/post/")
    assert page is not None
    assert page.version == 2  # approved, then unapproved: both change what the page shows


def test_review_undo_with_nothing_to_undo(store: Store) -> None:
    three(store)
    result = review("u q")
    assert "Nothing to undo." in result.output
    assert result.output.endswith("nothing changed; 3 still pending.\n")


def test_review_skip_and_undo_skip(store: Store) -> None:
    first, second, _ = three(store)
    result = review("n u a n q")
    assert "Back to the skipped comment." in result.output
    assert status(store, first) == "approved"
    assert status(store, second) == "pending"
    assert "approved 1, skipped 1" in result.output


def test_review_unknown_key_and_help(store: Store) -> None:
    first, *_ = three(store)
    result = review("x?q")
    assert "Unknown key 'x'; press ? for help." in result.output
    assert "u  undo the last action, edit or skip" in result.output
    assert status(store, first) == "pending"
    assert result.output.count("── 1 of 3") == 1  # the card is not repeated for a hint


def test_review_edit_keeps_status_and_rerenders(store: Store, editor: str) -> None:
    first, *_ = three(store)
    result = review("e q")
    edited = get_comment(store, first.id)
    assert edited is not None
    assert edited.body == "Edited by the *moderator*"
    assert edited.body_html == render_markdown("Edited by the *moderator*")
    assert edited.status == "pending"
    assert "#1 edited; it is still pending." in result.output
    assert "Review finished: edited 1; 3 still pending." in result.output


def test_review_edit_undo_restores_text(store: Store, editor: str) -> None:
    first, *_ = three(store)
    review("e u q")
    restored = get_comment(store, first.id)
    assert restored is not None
    assert (restored.body, restored.body_html) == (first.body, first.body_html)
    actions = [row["action"] for row in moderation_history(store, first.id)]
    assert actions == ["edit", "edit"]


@pytest.mark.parametrize(
    ("editor_command", "message"),
    [("true", "Not changed."), ("false", "Error: false: Editing failed")],
)
def test_review_edit_not_saved_or_failed(
    store: Store, monkeypatch: pytest.MonkeyPatch, editor_command: str, message: str
) -> None:
    first, *_ = three(store)
    monkeypatch.delenv("VISUAL", raising=False)
    result = review("e q", EDITOR=editor_command)
    assert message in result.output
    assert get_comment(store, first.id) == first


def test_review_edit_to_empty_is_refused(store: Store, editor: str) -> None:
    first, *_ = three(store)
    result = review("e q", NEW_BODY="   ")
    assert "an empty body cannot be saved" in result.output
    assert get_comment(store, first.id) == first


def test_review_empty_queue(site_dir: Path) -> None:
    assert review("a").output == "No pending comments.\n"


def test_review_end_of_queue_allows_undo(store: Store) -> None:
    only = add(store, "Only one")
    result = review("a x u q")
    assert "End of the queue. [u]ndo [q]uit > x" in result.output
    assert "Nothing left to review: press u to undo or q to quit." in result.output
    assert status(store, only) == "pending"


def test_review_end_of_input_quits(store: Store) -> None:
    first, second, _ = three(store)
    result = review("a\n")
    assert status(store, first) == "approved"
    assert status(store, second) == "pending"
    assert result.output.endswith("approved 1; 2 still pending.\n")


def test_review_shows_reply_context_and_signals(store: Store) -> None:
    parent = add(store, "The **parent** says something", author="Pat", status="approved")
    add(
        store,
        "SEE [THIS](https://a.example) AND https://b.example NOW!!!!!!",
        parent_id=parent.id,
        author="Eve\x1b[2J",
        email="eve@example.com",
        website="https://eve.example",
    )
    output = review("q").output
    assert f"Reply to: #{parent.id} by Pat: The parent says something" in output
    assert "E-mail:   eve@example.com" in output
    assert "Website:  https://eve.example" in output
    assert "Links:    2" in output
    assert "Signals:  all caps, repeated characters, first-time author" in output
    assert "\x1b" not in output


def test_review_page_option_filters(store: Store) -> None:
    three(store)
    output = review("q", AFTERWORD_CONFIG="afterword.toml").output
    assert "── 1 of 3" in output
    result = CliRunner().invoke(main, ["review", "--page", "https://x.example/b"], input="q")
    assert "── 1 of 1 ── #2" in result.output


def test_review_skips_comments_handled_elsewhere(store: Store) -> None:
    first, second, third = three(store)
    keys = iter(["n", "a", "q"])

    def read_key() -> str:
        key = next(keys)
        if key == "n":  # another moderator approves #2 while #1 is on screen
            apply_action(store, [second.id], "approve", actor="other")
        return key

    summary = Review(store, actor="me", max_links=3, read_key=read_key).run()
    assert status(store, third) == "approved"
    assert status(store, first) == "pending"
    assert summary.counts == {"skip": 1, "approve": 1}


def test_key_reader_ignores_whitespace_and_reports_end() -> None:
    read = key_reader(io.StringIO("a\n r\r\n\tq"))
    assert [read(), read(), read(), read()] == ["a", "r", "q", ""]


def test_review_subprocess_with_keys_on_stdin(store: Store, site_dir: Path, editor: str) -> None:
    first, second, third = three(store)
    done = run_afterword("review", input="e\na\nn\nu\nx\nr\ns\nu\nq\n", cwd=site_dir)
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    edited = get_comment(store, first.id)
    assert edited is not None
    assert (edited.body, edited.status) == ("Edited by the *moderator*", "approved")
    assert status(store, second) == "rejected"
    assert status(store, third) == "pending"
    assert "Unknown key 'x'" in done.stdout
    assert done.stdout.endswith(
        "Review finished: approved 1, rejected 1, edited 1; 1 still pending.\n"
    )


def read_until(fd: int, marker: bytes, seen: bytearray, deadline: float) -> None:
    """Collect the child's output until ``marker`` appears (or the terminal closes)."""
    while marker not in seen:
        ready, _, _ = select.select([fd], [], [], max(0.0, deadline - time.monotonic()))
        assert ready, f"timed out waiting for {marker!r}; got {bytes(seen)!r}"
        try:
            chunk = os.read(fd, 4096)
        except OSError:  # EIO: the child closed the terminal
            return
        if not chunk:
            return
        seen += chunk


def test_review_on_a_real_terminal_reads_single_keys(store: Store, site_dir: Path) -> None:
    """Over SSH stdin is a terminal: single keys without Enter, and type-ahead kept."""
    first, second, _ = three(store)
    main_fd, child_fd = pty.openpty()
    process = subprocess.Popen(
        [sys.executable, "-m", "afterword", "review"],
        stdin=child_fd,
        stdout=child_fd,
        stderr=child_fd,
        cwd=site_dir,
        env=afterword_env(),
    )
    os.close(child_fd)
    seen, deadline = bytearray(), time.monotonic() + 60
    try:
        read_until(main_fd, b"[?] > ", seen, deadline)
        os.write(main_fd, b"r")  # no Enter: the terminal delivers the key alone
        read_until(main_fd, b"#1 rejected.", seen, deadline)
        os.write(main_fd, b"nq")  # typed ahead, faster than the screen: none may be lost
        read_until(main_fd, b"still pending.", seen, deadline)
        assert process.wait(timeout=30) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        os.close(main_fd)
    output = seen.decode("utf-8", "replace")
    assert "Traceback" not in output
    assert status(store, first) == "rejected"
    assert status(store, second) == "pending"
    assert "Review finished: rejected 1, skipped 1; 2 still pending." in output
