"""Links a reader asks for by mail: a fresh preferences link when theirs has expired, and the confirmation of a
download of their data or of their erasure.

The preferences link sits in the footer of every issue, and issues get forwarded: whoever holds one may pause
or rename, but taking the reader's data (their IP addresses among it) or erasing them needs a link sent to the
address itself, valid a day. Callers commit; the mail leaves after that commit.
"""

from datetime import timedelta

from sqlalchemy import func, select

from . import consent, tokens
from .extensions import db
from .links import external_url
from .models import Subscriber, SystemMail, utcnow

KIND = "reader_link"
MAILS_PER_HOUR = 3  # per address: a stranger holding an old link cannot fill the reader's inbox


def send_fresh_preferences_link(expired_token: str) -> Subscriber | None:
    """Mail a new preferences link to the person an expired (but authentic) one names; None if nobody."""
    try:
        subscriber = consent.subscriber_from_token(expired_token, check_age=False)
    except tokens.TokenInvalid:
        return None
    _send(subscriber, "preferences", external_url(
        "public.preferences", token=consent.token_for(tokens.PREFERENCES, subscriber)))
    return subscriber


def ask_for_download(subscriber: Subscriber) -> None:
    """Mail the reader a link to download their data."""
    _send(subscriber, "download", external_url(
        "public.download", token=consent.token_for(tokens.DOWNLOAD, subscriber)))


def ask_for_erasure(subscriber: Subscriber) -> None:
    """Mail the reader a link that confirms their erasure."""
    _send(subscriber, "erase", external_url("public.erase", token=consent.token_for(tokens.ERASE, subscriber)))


def subscriber_from_link(purpose: str, token: str) -> Subscriber:
    """The person a mailed download or erasure link names; TokenExpired after a day, TokenInvalid if forged."""
    return consent.subscriber_from_token(token, purpose)


def _send(subscriber: Subscriber, action: str, link: str) -> bool:
    latest = max(subscriber.subscriptions, key=lambda s: s.created_at, default=None)
    if latest is None or _recent_mails(subscriber.email) >= MAILS_PER_HOUR:
        return False  # the page answers the same: nothing tells a stranger what happened
    consent.queue_system_mail(KIND, latest, action=action, link_url=link)
    return True


def _recent_mails(address: str) -> int:
    return db.session.scalar(select(func.count(SystemMail.id)).where(
        SystemMail.recipient == address, SystemMail.kind == KIND,
        SystemMail.created_at > utcnow() - timedelta(hours=1)))
