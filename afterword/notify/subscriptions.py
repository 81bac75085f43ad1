"""What a subscription link shows and does: the library side of ``/subscription/<token>``.

``show`` only reads: mail scanners fetch every link, so opening a confirmation link must not
confirm (that would defeat the double opt-in) and opening an unsubscribe link must not
unsubscribe; each page has one button that POSTs. ``act`` performs the token's kind in one
write transaction (``store.subscriptions``). Both are idempotent: a second confirmation or
unsubscription says so and changes nothing. Pages are ``notify.linkpage``'s, as the
moderation links' are; the answers are ``LinkAnswer``s for the HTTP layer to send.
"""

from __future__ import annotations

from afterword.errors import CommentRejected
from afterword.notify.act import LinkAnswer
from afterword.notify.linkpage import Button, render_page
from afterword.notify.subtokens import BadToken, SubscriptionToken, verify
from afterword.store import Store
from afterword.store.subscriptions import (
    Subscriber,
    confirm_subscriber,
    get_subscriber,
    unsubscribe,
)

GONE = "This address has no reply mails on this site any more (it was erased)."


def check_token(secret: bytes, text: str) -> SubscriptionToken:
    """The token's claims, or a 403 (forged, malformed or expired)."""
    try:
        return verify(secret, text)
    except BadToken as exc:
        if str(exc) == "expired":
            raise CommentRejected(
                "this link has expired", code="expired_link", status=403
            ) from None
        raise CommentRejected("this link is not valid", code="invalid_link", status=403) from None


def show(store: Store, secret: bytes, text: str) -> LinkAnswer:
    """The GET page: where the address stands, and the one button; nothing is written."""
    token = check_token(secret, text)
    subscriber = get_subscriber(store, token.subscriber_id)
    if token.kind == "confirm":
        return _show_confirm(subscriber, text)
    if subscriber is None or subscriber.state == "unsubscribed":
        return _page(200, "Unsubscribed", "No more reply mails go to this address.")
    return LinkAnswer(
        200,
        render_page(
            "Stop reply mails?",
            message=f"Replies to comments by {mask(subscriber.email_key)} are mailed to it.",
            buttons=(Button("Unsubscribe", text, text, primary=True),),
            footer="Nothing has changed yet: choose the button.",
        ),
    )


def _show_confirm(subscriber: Subscriber | None, text: str) -> LinkAnswer:
    if subscriber is None:
        return _page(404, "Nothing to confirm", GONE)
    if subscriber.state == "confirmed":
        return _page(200, "Already confirmed", "Replies to your comments are mailed to you.")
    if subscriber.state == "unsubscribed":
        return _page(409, "Unsubscribed", _UNSUBSCRIBED)
    return LinkAnswer(
        200,
        render_page(
            "Confirm reply mails?",
            message=f"Mail replies to comments by {mask(subscriber.email_key)} to that "
            "address. Nothing is sent to it until you confirm.",
            buttons=(Button("Confirm", text, text, primary=True),),
            footer="Nothing has changed yet: choose the button. If you did not ask for "
            "this, ignore this page: you will get no other mail.",
        ),
    )


_UNSUBSCRIBED = (
    "This address unsubscribed since this link was sent; tick \u201cMail me replies\u201d "
    "with your next comment to subscribe again."
)


def act(store: Store, secret: bytes, text: str) -> LinkAnswer:
    """The POST: confirm, or unsubscribe, in one transaction."""
    token = check_token(secret, text)
    with store.write() as conn:
        if token.kind == "confirm":
            before = confirm_subscriber(conn, token.subscriber_id)
        else:
            before = unsubscribe(conn, token.subscriber_id)
    if token.kind == "unsubscribe":
        if before in (None, "unsubscribed"):
            return _page(200, "Unsubscribed", "This address was already unsubscribed.")
        return _page(
            200, "Unsubscribed", "Done: no more reply mails go to this address from this site."
        )
    if before is None:
        return _page(404, "Nothing to confirm", GONE)
    if before == "unsubscribed":
        return _page(409, "Unsubscribed", _UNSUBSCRIBED)
    if before == "confirmed":
        return _page(200, "Already confirmed", "Replies to your comments are mailed to you.")
    return _page(
        200,
        "Confirmed",
        "Thank you. Replies to your comments are mailed to you once they are published; "
        "every mail has a link to stop them.",
    )


def mask(email_key: str) -> str:
    """``a…@example.org``: enough to recognise one's address, not to harvest it."""
    local, _, domain = email_key.rpartition("@")
    return f"{local[:1]}\u2026@{domain}"


def _page(status: int, title: str, message: str) -> LinkAnswer:
    return LinkAnswer(status, render_page(title, message=message))
