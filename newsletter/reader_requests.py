"""What a publisher may do for one reader, each with a reason kept in the reader's history: unsubscribe or erase
them when they ask (by mail, in person), send their confirmation mail again, or invite someone met in person.

None of these makes anyone a confirmed reader (SPEC principle 1): an invitation and a resent confirmation are
the standard confirmation mail, and only the person's own click confirms. Mail a publisher asks for goes at most
once a week to an address, so the readers page cannot be used to pester anyone. Callers commit.
"""

from datetime import datetime, timedelta

from flask_babel import format_date
from flask_babel import gettext as _
from sqlalchemy import func, select, update

from . import consent, suppression
from .addresses import has_header_breaker, normalise_address
from .errors import InvalidInput, Refused
from .extensions import db
from .models import Delivery, Feedback, Newsletter, Subscriber, Subscription, SubscriptionEvent, User, utcnow
from .sending.system_mail import forget_system_mails
from .states import SubscriptionStatus as S
from .states import UnsubscribeReason

PUBLISHER_MAIL_INTERVAL = timedelta(days=7)
PUBLISHER_MAIL_KINDS = ("invited", "confirmation_resent")
MAX_REASON_LENGTH = 300


def clean_reason(reason: str | None) -> str:
    """The publisher's reason on one line; InvalidInput when it is missing (the history must say why)."""
    text = " ".join((reason or "").split())[:MAX_REASON_LENGTH]
    if has_header_breaker(text):
        raise InvalidInput(_("Write the reason on one line, without control characters."))
    if not text:
        raise InvalidInput(_("Say why, in a few words (for example: “asked by e-mail on 3 May”)."))
    return text


def unsubscribe_on_request(subscription: Subscription, reason: str | None) -> Subscription:
    """The reader asked the publisher to stop their mail: unsubscribed at once, the reason in the history."""
    reason = clean_reason(reason)
    if subscription.status not in (S.PENDING, S.CONFIRMED):
        raise Refused(_("This reader receives nothing already."))
    return consent.unsubscribe(subscription, UnsubscribeReason.ON_REQUEST, reason)


def erase_on_request(subscription: Subscription, reason: str | None) -> None:
    """The reader asked the publisher to erase them: everything this newsletter holds about them goes.

    Their address is kept only as a keyed hash on this newsletter's suppression list (no import brings them
    back); what they have with other publishers' newsletters is not this publisher's to erase.
    """
    reason = clean_reason(reason)
    subscriber, newsletter_id = subscription.subscriber, subscription.newsletter_id
    db.session.add(SubscriptionEvent(newsletter_id=newsletter_id, kind="erased", reason=reason,
                                     from_status=subscription.status))
    suppression.suppress(subscriber.email_hmac, "erased", newsletter_id)
    # The figures stay true; the rows stop saying who they were about.
    db.session.execute(update(Delivery).where(Delivery.subscription_id == subscription.id).values(subscriber_id=None))
    db.session.execute(update(Feedback).where(Feedback.subscriber_id == subscriber.id,
                                              Feedback.newsletter_id == newsletter_id)
                       .values(subscriber_id=None, diagnostic=None))
    if any(other.id != subscription.id for other in subscriber.subscriptions):
        # Its confirmation or welcome mail, if still queued, would carry a dead link or a greeting: not sent.
        forget_system_mails(subscriber.email, subscription.newsletter.from_email)
        db.session.delete(subscription)
    else:
        forget_system_mails(subscriber.email)
        db.session.delete(subscriber)
    db.session.flush()


def resend_confirmation(subscription: Subscription, reason: str | None) -> Subscription:
    """Send a waiting reader's confirmation mail again (they lost it), at most once a week per address."""
    reason = clean_reason(reason)
    if subscription.status != S.PENDING:
        raise Refused(_("Only a reader who has not confirmed yet can get the confirmation mail again."))
    _refuse_within_interval(subscription.subscriber)
    if not consent.send_confirmation(subscription):
        raise Refused(_("A confirmation mail went to this address a few minutes ago. Try again later."))
    consent.record_event(subscription, "confirmation_resent", reason)
    db.session.flush()
    return subscription


def invite(newsletter: Newsletter, email: str, name: str | None, note: str | None, publisher: User) -> Subscription:
    """Someone the publisher met asked to receive the newsletter: send them the standard confirmation mail.

    They are not on the list until they confirm it themselves. Anyone who left, bounced, complained or was
    erased is not invited: only their own subscribing brings them back.
    """
    note = clean_reason(note)
    address = normalise_address(email)
    subscriber = db.session.scalar(select(Subscriber).where(Subscriber.email == address))
    if subscriber is not None:
        _refuse_existing(subscriber, newsletter)
    if suppression.is_suppressed(suppression.hmac_of(address), newsletter.id):
        raise Refused(_("This address asked to receive nothing more, or cannot receive mail: it cannot be invited."))
    source = _("Invited in person by %(publisher)s: %(note)s", publisher=publisher.email, note=note)
    outcome = consent.subscribe(newsletter, address, name, ip=None, source=source,
                                wording=consent.consent_wording(newsletter))
    if outcome != consent.SubscribeOutcome.CONFIRMATION_QUEUED:
        raise Refused(_("A confirmation mail went to this address a short while ago. Try again later."))
    subscription = db.session.scalar(select(Subscription).where(
        Subscription.newsletter_id == newsletter.id, Subscription.subscriber.has(Subscriber.email == address)))
    consent.record_event(subscription, "invited", note)
    db.session.flush()
    return subscription


def _refuse_existing(subscriber: Subscriber, newsletter: Newsletter) -> None:
    current = next((s for s in subscriber.subscriptions if s.newsletter_id == newsletter.id), None)
    if current is not None and current.status == S.CONFIRMED:
        raise Refused(_("This address is already a confirmed reader."))
    if current is not None and current.status != S.PENDING:
        raise Refused(_("This address left the newsletter or could not receive it: only they can subscribe again."))
    _refuse_within_interval(subscriber)


def _refuse_within_interval(subscriber: Subscriber, now: datetime | None = None) -> None:
    """Refused if a publisher had mail sent to this address in the last week."""
    last = db.session.scalar(
        select(func.max(SubscriptionEvent.at))
        .join(Subscription, Subscription.id == SubscriptionEvent.subscription_id)
        .where(Subscription.subscriber_id == subscriber.id, SubscriptionEvent.kind.in_(PUBLISHER_MAIL_KINDS))
    )
    if last is not None and last > (now or utcnow()) - PUBLISHER_MAIL_INTERVAL:
        raise Refused(_("A confirmation mail was sent to this address at a publisher's request on %(date)s. "
                        "The next one can go from %(next)s.", date=format_date(last, "long"),
                        next=format_date(last + PUBLISHER_MAIL_INTERVAL, "long")))
