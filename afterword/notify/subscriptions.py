"""What a subscription link shows and does: the library side of ``/subscription/<token>``.

``show`` only reads: mail scanners fetch every link, so opening a confirmation link must not
confirm (that would defeat the double opt-in) and opening an unsubscribe link must not
unsubscribe; each page has one button that POSTs. ``act`` performs the token's kind in one
write transaction (``store.subscriptions``). Both are idempotent: a second confirmation or
unsubscription says so and changes nothing. Pages are ``notify.linkpage``'s, as the
moderation links' are, and every word on them is a ``page_sub_*`` string of the
``PageStrings`` the caller passes (the site's language); the answers are ``LinkAnswer``s for
the HTTP layer to send.
"""

from __future__ import annotations

from afterword.errors import CommentRejected
from afterword.notify.act import LinkAnswer
from afterword.notify.linkpage import ENGLISH, Button, PageStrings, render_page
from afterword.notify.subtokens import BadToken, SubscriptionToken, verify
from afterword.store import Store
from afterword.store.subscriptions import (
    Subscriber,
    confirm_subscriber,
    get_subscriber,
    unsubscribe,
)


def check_token(secret: bytes, text: str) -> SubscriptionToken:
    """The token's claims, or a 403 (forged, malformed or expired)."""
    try:
        return verify(secret, text)
    except BadToken as exc:
        if str(exc) == "expired":
            raise CommentRejected(
                "this link has expired", code="expired_subscription_link", status=403
            ) from None
        raise CommentRejected("this link is not valid", code="invalid_link", status=403) from None


def show(store: Store, secret: bytes, text: str, strings: PageStrings = ENGLISH) -> LinkAnswer:
    """The GET page: where the address stands, and the one button; nothing is written."""
    token = check_token(secret, text)
    subscriber = get_subscriber(store, token.subscriber_id)
    if token.kind == "confirm":
        return _show_confirm(subscriber, text, strings)
    if subscriber is None or subscriber.state == "unsubscribed":
        return _page(200, "unsubscribed_title", "unsubscribed", strings)
    return LinkAnswer(
        200,
        render_page(
            strings["page_sub_stop_title"],
            message=strings.fill("page_sub_stop", address=mask(subscriber.email_key)),
            buttons=(Button(strings["page_sub_unsubscribe_button"], text, text, primary=True),),
            footer=strings["page_sub_choose"],
            strings=strings,
        ),
    )


def _show_confirm(subscriber: Subscriber | None, text: str, strings: PageStrings) -> LinkAnswer:
    if subscriber is None:
        return _page(404, "nothing_title", "gone", strings)
    if subscriber.state == "confirmed":
        return _page(200, "already_confirmed_title", "already_confirmed", strings)
    if subscriber.state == "unsubscribed":
        return _resubscribe(strings)
    return LinkAnswer(
        200,
        render_page(
            strings["page_sub_confirm_title"],
            message=strings.fill("page_sub_confirm", address=mask(subscriber.email_key)),
            buttons=(Button(strings["page_sub_confirm_button"], text, text, primary=True),),
            footer=strings["page_sub_confirm_footer"],
            strings=strings,
        ),
    )


def act(store: Store, secret: bytes, text: str, strings: PageStrings = ENGLISH) -> LinkAnswer:
    """The POST: confirm, or unsubscribe, in one transaction."""
    token = check_token(secret, text)
    with store.write() as conn:
        if token.kind == "confirm":
            before = confirm_subscriber(conn, token.subscriber_id)
        else:
            before = unsubscribe(conn, token.subscriber_id)
    if token.kind == "unsubscribe":
        if before in (None, "unsubscribed"):
            return _page(200, "unsubscribed_title", "already_unsubscribed", strings)
        return _page(200, "unsubscribed_title", "done", strings)
    if before is None:
        return _page(404, "nothing_title", "gone", strings)
    if before == "unsubscribed":
        return _resubscribe(strings)
    if before == "confirmed":
        return _page(200, "already_confirmed_title", "already_confirmed", strings)
    return _page(200, "confirmed_title", "confirmed", strings)


def mask(email_key: str) -> str:
    """``a…@example.org``: enough to recognise one's address, not to harvest it."""
    local, _, domain = email_key.rpartition("@")
    return f"{local[:1]}\u2026@{domain}"


def _resubscribe(strings: PageStrings) -> LinkAnswer:
    """Unsubscribed after the confirmation was mailed: the form's box (in its own words)
    is the way back, not this old link."""
    message = strings.fill("page_sub_resubscribe", box=strings["notify_replies_label"])
    return LinkAnswer(
        409, render_page(strings["page_sub_unsubscribed_title"], message=message, strings=strings)
    )


def _page(status: int, title: str, message: str, strings: PageStrings) -> LinkAnswer:
    """A page of a ``page_sub_<title>`` title and a ``page_sub_<message>`` text."""
    return LinkAnswer(
        status,
        render_page(
            strings[f"page_sub_{title}"], message=strings[f"page_sub_{message}"], strings=strings
        ),
    )
