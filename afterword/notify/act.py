"""What a moderation link shows and does: the library side of ``/moderate/<token>``.

``show`` only reads (mail scanners and link previewers fetch every link in a mail: a GET must
change nothing). ``act`` checks the token, then — in one write transaction — that the comment
is still in the state the link was made for, and performs the action through
``moderation.apply_action``, the code the CLI uses; the log's actor ends in "via link".
Answers are ``LinkAnswer``s (status + HTML); the HTTP layer only sends them.
"""

from __future__ import annotations

from dataclasses import dataclass

from afterword.config import Config
from afterword.errors import CommentRejected, ModerationError
from afterword.markup import excerpt, sanitize_html
from afterword.moderation.actions import apply_action
from afterword.moderation.reply import owner_name, post_reply
from afterword.moderation.signals import spam_signals
from afterword.notify.linkpage import Button, CommentView, ParentView, ReplyBox, render_page
from afterword.notify.links import BadToken, LinkToken, verify
from afterword.store import Comment, Store, get_comment, get_page
from afterword.store.models import OWNER_SOURCE

TITLES = {
    "approve": "Approve this comment?",
    "reject": "Reject this comment?",
    "spam": "Mark this comment as spam?",
    "reply": "Reply to this comment",
}
LABELS = {"approve": "Approve", "reject": "Reject", "spam": "Spam"}
DONE = {"approve": "Approved", "reject": "Rejected", "spam": "Marked as spam"}


@dataclass(frozen=True)
class LinkAnswer:
    status: int
    html: str


def check_token(secret: bytes, text: str) -> LinkToken:
    """The token's claims, or a 403 (a forged, malformed or expired link)."""
    try:
        return verify(secret, text)
    except BadToken as exc:
        message = "this link has expired" if str(exc) == "expired" else "this link is not valid"
        raise CommentRejected(message, code="invalid_link", status=403) from None


def show(config: Config, store: Store, secret: bytes, text: str) -> LinkAnswer:
    """The GET page: the comment and its buttons; nothing is written."""
    token = check_token(secret, text)
    comment = get_comment(store, token.comment_id)
    if comment is None or comment.status != token.status:
        return _handled(config, store, comment)
    buttons = tuple(
        Button(
            LABELS[action],
            token.sibling(action).sign(secret),
            token.sibling(action).sign(secret),  # relative: works behind any path prefix
            primary=action == token.action,
        )
        for action in LABELS
    )
    reply_token = token.sibling("reply").sign(secret)
    html = render_page(
        TITLES[token.action],
        view=_view(config, store, comment),
        buttons=buttons,
        reply=ReplyBox(reply_token, reply_token, owner_name(config), config.limits.body_max),
        footer="Nothing has changed yet: choose a button.",
    )
    return LinkAnswer(200, html)


def act(
    config: Config, store: Store, secret: bytes, text: str, fields: dict[str, object]
) -> LinkAnswer:
    """The POST: perform the token's action if the comment is still as the link found it."""
    token = check_token(secret, text)
    actor = f"{config.moderation.moderator or 'moderator'} via link"
    with store.write():  # the state check and the action: one transaction
        comment = get_comment(store, token.comment_id)
        if comment is None or comment.status != token.status:
            return _handled(config, store, comment)
        if token.action == "reply":
            return _reply(config, store, comment, fields, actor)
        try:
            apply_action(store, [comment.id], token.action, actor=actor, reason="via link")
        except ModerationError:
            return _handled(config, store, comment)
    done = get_comment(store, comment.id)
    assert done is not None
    return LinkAnswer(
        200,
        render_page(
            DONE[token.action],
            message=_outcome(config, token.action, comment),
            view=_view(config, store, done),
        ),
    )


def _reply(
    config: Config, store: Store, comment: Comment, fields: dict[str, object], actor: str
) -> LinkAnswer:
    body = fields.get("body")
    try:
        reply = post_reply(
            config, store, comment.id, body if isinstance(body, str) else "", actor=actor
        )
    except ModerationError as exc:
        raise CommentRejected(str(exc), fields={"body": str(exc)}) from None
    settle = f"{config.watch.settle_seconds:g}"
    also = " The comment you answered is approved too." if reply.approved_parent else ""
    message = (
        f"Your reply is posted as {owner_name(config)}.{also} It is published by the next "
        f"build: within about {settle} s while `afterword watch` runs."
    )
    done = get_comment(store, comment.id) or comment
    return LinkAnswer(
        200, render_page("Reply posted", message=message, view=_view(config, store, done))
    )


def _outcome(config: Config, action: str, comment: Comment) -> str:
    who = f"The comment by {comment.author or 'Anonymous'}"
    if action == "approve":
        settle = f"{config.watch.settle_seconds:g}"
        return (
            f"{who} is approved. It is published by the next build: within about {settle} s "
            "while `afterword watch` runs, otherwise at the next `afterword rebuild`."
        )
    if comment.status == "approved":
        return f"{who} is {DONE[action].lower()} and leaves the page at the next build."
    return f"{who} is {DONE[action].lower()}; it will not be published."


def _handled(config: Config, store: Store, comment: Comment | None) -> LinkAnswer:
    """The link's comment moved on (or is gone): say so, do nothing."""
    if comment is None:
        return LinkAnswer(409, render_page("Already handled", message="This comment is gone."))
    current = get_comment(store, comment.id) or comment
    return LinkAnswer(
        409,
        render_page(
            "Already handled",
            message=f"This comment was already handled: it is {current.status} now. "
            "Nothing was changed.",
            view=_view(config, store, current),
        ),
    )


def _view(config: Config, store: Store, comment: Comment) -> CommentView:
    page = get_page(store, comment.page_key)
    page_url = (page.url if page and page.url else "") or (
        config.site.url.rstrip("/") + comment.page_key
    )
    parent = get_comment(store, comment.parent_id) if comment.parent_id else None
    signals = spam_signals(store, comment, max_links=config.moderation.max_links)
    return CommentView(
        author=comment.author or "Anonymous",
        website=comment.website,
        created=comment.created,
        created_text=comment.created[:16].replace("T", " ") + " UTC",
        page_key=comment.page_key,
        page_url=page_url,
        status=comment.status,
        html=sanitize_html(comment.body_html),
        signals=signals.flags,
        parent=None if parent is None else ParentView(parent.author, excerpt(parent.body, 200)),
        owner=comment.source == OWNER_SOURCE,
    )
