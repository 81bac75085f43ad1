"""Moderation: the queue, the actions on it, and the interactive review.

The CLI commands in ``afterword.cli.moderation`` are thin wrappers over these functions; the
store does the SQL and keeps each action one transaction.
"""

from afterword.moderation.actions import ActionResult, apply_action, edit_body, summarize
from afterword.moderation.keys import key_reader
from afterword.moderation.queue import (
    QUEUE_STATUSES,
    echo_text,
    format_table,
    list_queue,
    queue_item,
)
from afterword.moderation.review import Review, ReviewSummary
from afterword.moderation.signals import Signals, spam_signals

__all__ = [
    "QUEUE_STATUSES",
    "ActionResult",
    "Review",
    "ReviewSummary",
    "Signals",
    "apply_action",
    "echo_text",
    "edit_body",
    "format_table",
    "key_reader",
    "list_queue",
    "queue_item",
    "spam_signals",
    "summarize",
]
