"""How ``afterword review`` shows one comment: plain lines that read well over SSH.

No colours or cursor movement are required: a moderator on a slow link or a script reading
the transcript sees the same text. Everything a stranger wrote goes through
``terminal_safe`` first.
"""

from __future__ import annotations

import difflib
from datetime import datetime

import click

from afterword.markup import excerpt
from afterword.moderation.queue import format_age, terminal_safe
from afterword.moderation.signals import Signals
from afterword.store import Comment
from afterword.store.revisions import Revision

PARENT_EXCERPT_CHARS = 120

HELP = """\
Keys:
  a  approve          r  reject           s  mark as spam     d  delete
  e  edit in $EDITOR (keeps the status; the text is re-rendered)
  n  skip to the next comment (it stays pending)
  u  undo the last action, edit or skip
  q  quit (a summary is printed)
  ?  show this help
On an author's revision of a published comment (shown as a diff): a publishes the new text,
r keeps the published one, s and d act on the comment itself."""

PROMPT = "[a]pprove [r]eject [s]pam [d]elete [e]dit [n]ext [u]ndo [q]uit [?] > "
END_PROMPT = "End of the queue. [u]ndo [q]uit > "


def render_card(
    comment: Comment,
    *,
    position: int,
    total: int,
    signals: Signals,
    parent: Comment | None,
    now: datetime | None = None,
) -> str:
    """The block printed before each prompt."""
    age = format_age(comment.created, now)
    lines = [
        f"── {position} of {total} ── #{comment.id} ({comment.status})",
        _field("Page", comment.page_key),
    ]
    if comment.parent_id is not None:
        lines.append(_field("Reply to", _describe_parent(comment.parent_id, parent)))
    lines += [
        _field("Author", comment.author),
        _field("E-mail", comment.email or "(none)"),
        _field("Website", comment.website or "(none)"),
        _field("Links", str(signals.links)),
        _field("Signals", signals.describe()),
        _field("Age", f"{age} (posted {comment.created})"),
        "",
        _indent(terminal_safe(comment.body, keep_newlines=True)),
        "",
    ]
    return "\n".join(lines)


def render_revision_card(
    comment: Comment,
    revision: Revision,
    *,
    position: int,
    total: int,
    signals: Signals,
    now: datetime | None = None,
) -> str:
    """A published comment's revision by its author: the published text against the new one.

    The diff lines are styled (red removed, green added) with ``click.style``; ``click.echo``
    drops the colours unless the output is a terminal, so a transcript or a pipe gets plain
    ``-``/``+`` lines.
    """
    lines = [
        f"── {position} of {total} ── #{comment.id} (published; edited by its author)",
        _field("Page", comment.page_key),
        _field("Author", comment.author),
        _field("E-mail", comment.email or "(none)"),
        _field("Links", str(signals.links)),
        _field("Signals", signals.describe()),
        _field("Edited", f"{format_age(revision.created, now)} ago (revision {revision.id})"),
        "",
        *revision_diff(comment.body, revision.body),
        "",
        "a publishes the new text, r keeps the published one.",
        "",
    ]
    return "\n".join(lines)


def revision_diff(published: str, revised: str) -> list[str]:
    """A unified diff of the Markdown, line by line, every line made terminal-safe."""
    old = [terminal_safe(line) for line in published.splitlines()]
    new = [terminal_safe(line) for line in revised.splitlines()]
    diff = difflib.unified_diff(old, new, "published", "revision", lineterm="", n=2)
    lines = []
    for line in diff:
        if line.startswith(("---", "+++")):
            lines.append(click.style(f"    {line}", bold=True))
        elif line.startswith("-"):
            lines.append(click.style(f"    {line}", fg="red"))
        elif line.startswith("+"):
            lines.append(click.style(f"    {line}", fg="green"))
        elif line.startswith("@@"):
            lines.append(click.style(f"    {line}", fg="cyan"))
        else:
            lines.append(f"    {line}")
    return lines or ["    (no change to the text)"]


def _field(name: str, value: str) -> str:
    return f"{name + ':':<10}{terminal_safe(value)}"


def _describe_parent(parent_id: int, parent: Comment | None) -> str:
    if parent is None:
        return f"#{parent_id} (missing)"
    text = excerpt(parent.body, PARENT_EXCERPT_CHARS)
    return f"#{parent.id} by {parent.author}: {text}"


def _indent(body: str) -> str:
    return "\n".join(f"    {line}".rstrip() for line in body.splitlines()) or "    (empty)"
