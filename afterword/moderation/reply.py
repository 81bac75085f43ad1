"""The owner's replies: ``afterword reply`` and the reply box behind a moderation link.

A reply is stored approved at once (``source = "owner"``, which the builder publishes with an
``owner`` mark and badge) under ``[moderation] owner`` / ``owner_website``, rendered exactly as
the intake renders a comment. Replying to a pending comment approves it in the same
transaction — a reply under an unpublished comment would hang under a "removed" placeholder;
a rejected, spam or deleted comment must be approved first. Both the reply and the approval
are in the moderation log; the next build publishes them.
"""

from __future__ import annotations

from dataclasses import dataclass

from afterword.config import Config
from afterword.errors import ModerationError
from afterword.markup import RENDERER_VERSION, render_markdown
from afterword.store import NewComment, Store, get_comment, insert_comment, moderate
from afterword.store.comments import log_action
from afterword.store.models import OWNER_SOURCE
from afterword.store.subscriptions import enqueue_reply_mails
from afterword.text import strip_forbidden
from afterword.urls import publishable_url


@dataclass(frozen=True)
class Reply:
    id: int
    parent_id: int
    page_key: str
    approved_parent: bool

    def summary(self) -> str:
        also = f" and approved comment {self.parent_id}" if self.approved_parent else ""
        return f"replied to comment {self.parent_id} on {self.page_key} (reply {self.id}){also}"


def owner_name(config: Config) -> str:
    return config.moderation.owner or config.site.title


def post_reply(config: Config, store: Store, parent_id: int, body: str, *, actor: str) -> Reply:
    """Store the owner's reply to ``parent_id``, approved, in one transaction."""
    text = strip_forbidden(body).strip()
    if not text:
        raise ModerationError("an empty reply cannot be posted", code="empty_reply")
    if len(text) > config.limits.body_max:
        raise ModerationError(
            f"the reply is {len(text)} characters; limits.body_max is {config.limits.body_max}",
            code="reply_too_long",
        )
    website = config.moderation.owner_website
    if website and publishable_url(website) is None:
        raise ModerationError(f"moderation.owner_website is not a publishable URL: {website}")
    with store.write() as conn:
        parent = get_comment(store, parent_id)
        if parent is None:
            raise ModerationError(f"no comment with id {parent_id}")
        if parent.status not in ("pending", "approved"):
            raise ModerationError(
                f"comment {parent_id} is {parent.status}; approve it before replying"
            )
        approved_parent = parent.status == "pending"
        if approved_parent:
            moderate(store, [parent_id], "approve", actor=actor, reason="replied to")
        reply_id = insert_comment(
            conn,
            NewComment(
                page_key=parent.page_key,
                author=owner_name(config),
                body=text,
                body_html=render_markdown(text),
                renderer=RENDERER_VERSION,
                parent_id=parent_id,
                website=website,
                status="approved",
                source=OWNER_SOURCE,
            ),
        )
        log_action(conn, reply_id, "reply", "approved", actor, f"reply to {parent_id}")
        enqueue_reply_mails(conn, [reply_id])  # approved at once: its parent's author hears now
    return Reply(reply_id, parent_id, parent.page_key, approved_parent)
