"""What a moderation link shows and does: the library side of ``/moderate/<token>``.

``show`` only reads (mail scanners and link previewers fetch every link in a mail: a GET must
change nothing). ``act`` checks the token, then — in one write transaction — that the comment
is still in the state the link was made for, and performs the action through
``moderation.apply_action``, the code the CLI uses; the log's actor ends in "via link".
Answers are ``LinkAnswer``s (status + HTML); the HTTP layer only sends them. Every word on
them comes from the ``PageStrings`` the caller passes (the site's language).
"""

from __future__ import annotations

from dataclasses import dataclass

from afterword.config import Config
from afterword.errors import CommentRejected, ModerationError
from afterword.markup import excerpt, sanitize_html
from afterword.moderation.actions import apply_action
from afterword.moderation.reply import owner_name, post_reply
from afterword.moderation.signals import spam_signals
from afterword.notify.linkpage import (
    ENGLISH,
    Button,
    CommentView,
    PageStrings,
    ParentView,
    ReplyBox,
    render_page,
)
from afterword.notify.links import BadToken, LinkToken, verify
from afterword.store import Comment, Store, get_comment, get_page
from afterword.store.models import OWNER_SOURCE

ACTIONS = ("approve", "reject", "spam")  # the buttons, in this order; "reply" is the box


@dataclass(frozen=True)
class LinkAnswer:
    status: int
    html: str


def check_token(secret: bytes, text: str) -> LinkToken:
    """The token's claims, or a 403 (a forged, malformed or expired link)."""
    try:
        return verify(secret, text)
    except BadToken as exc:
        expired = str(exc) == "expired"
        message = "this link has expired" if expired else "this link is not valid"
        code = "expired_link" if expired else "invalid_link"
        raise CommentRejected(message, code=code, status=403) from None


def show(
    config: Config, store: Store, secret: bytes, text: str, strings: PageStrings = ENGLISH
) -> LinkAnswer:
    """The GET page: the comment and its buttons; nothing is written."""
    token = check_token(secret, text)
    comment = get_comment(store, token.comment_id)
    if comment is None or comment.status != token.status:
        return _handled(config, store, comment, strings)
    buttons = tuple(
        Button(
            strings[f"notify_{action}"],
            token.sibling(action).sign(secret),
            token.sibling(action).sign(secret),  # relative: works behind any path prefix
            primary=action == token.action,
        )
        for action in ACTIONS
    )
    reply_token = token.sibling("reply").sign(secret)
    html = render_page(
        strings[f"page_title_{token.action}"],
        view=_view(config, store, comment),
        buttons=buttons,
        reply=ReplyBox(reply_token, reply_token, owner_name(config), config.limits.body_max),
        footer=strings["page_choose"],
        strings=strings,
    )
    return LinkAnswer(200, html)


def act(
    config: Config,
    store: Store,
    secret: bytes,
    text: str,
    fields: dict[str, object],
    strings: PageStrings = ENGLISH,
) -> LinkAnswer:
    """The POST: perform the token's action if the comment is still as the link found it."""
    token = check_token(secret, text)
    actor = f"{config.moderation.moderator or 'moderator'} via link"
    with store.write():  # the state check and the action: one transaction
        comment = get_comment(store, token.comment_id)
        if comment is None or comment.status != token.status:
            return _handled(config, store, comment, strings)
        if token.action == "reply":
            return _reply(config, store, comment, fields, actor, strings)
        try:
            apply_action(store, [comment.id], token.action, actor=actor, reason="via link")
        except ModerationError:
            return _handled(config, store, comment, strings)
    done = get_comment(store, comment.id)
    assert done is not None
    return LinkAnswer(
        200,
        render_page(
            strings[f"page_done_{token.action}"],
            message=_outcome(config, token.action, comment, strings),
            view=_view(config, store, done),
            strings=strings,
        ),
    )


def _reply(
    config: Config,
    store: Store,
    comment: Comment,
    fields: dict[str, object],
    actor: str,
    strings: PageStrings,
) -> LinkAnswer:
    body = fields.get("body")
    try:
        reply = post_reply(
            config, store, comment.id, body if isinstance(body, str) else "", actor=actor
        )
    except ModerationError as exc:
        raise CommentRejected(str(exc), code=exc.code, fields={"body": str(exc)}) from None
    key = "page_reply_posted_approved" if reply.approved_parent else "page_reply_posted"
    message = strings.fill(key, owner=owner_name(config), seconds=_settle(config))
    done = get_comment(store, comment.id) or comment
    return LinkAnswer(
        200,
        render_page(
            strings["page_reply_done"],
            message=message,
            view=_view(config, store, done),
            strings=strings,
        ),
    )


def _outcome(config: Config, action: str, comment: Comment, strings: PageStrings) -> str:
    author = comment.author or "Anonymous"
    if action == "approve":
        return strings.fill("page_approved", author=author, seconds=_settle(config))
    key = "page_rejected" if action == "reject" else "page_spam"
    if comment.status == "approved":  # it was on the page: it leaves at the next build
        key += "_leaves"
    return strings.fill(key, author=author)


def _settle(config: Config) -> str:
    return f"{config.watch.settle_seconds:g}"


def _handled(
    config: Config, store: Store, comment: Comment | None, strings: PageStrings
) -> LinkAnswer:
    """The link's comment moved on (or is gone): say so, do nothing."""
    title = strings["page_handled_title"]
    if comment is None:
        return LinkAnswer(409, render_page(title, message=strings["page_gone"], strings=strings))
    current = get_comment(store, comment.id) or comment
    return LinkAnswer(
        409,
        render_page(
            title,
            message=strings.fill("page_handled", status=strings.status(current.status)),
            view=_view(config, store, current),
            strings=strings,
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
