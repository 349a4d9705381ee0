"""The reader lifecycle as plain functions: subscribe, confirm, unsubscribe, pause, resume, erase.

Callers commit; mail asked for here leaves only after that commit (see sending.system_mail).
"""

import hashlib
from datetime import datetime, timedelta
from enum import StrEnum

from flask import current_app
from flask_babel import force_locale, gettext
from sqlalchemy import func, insert, or_, select, update
from sqlalchemy.exc import IntegrityError

from . import sending_domains, suppression, tokens
from .addresses import clean_display_name, has_header_breaker, normalise_address
from .errors import InvalidInput, NotFound, Refused
from .extensions import db
from .links import external_url
from .mail.headers import instance_domain, list_unsubscribe
from .mail.system import return_path, system_message
from .models import (
    ConsentWording,
    Feedback,
    Newsletter,
    Subscriber,
    Subscription,
    SubscriptionEvent,
    new_nonce,
    utcnow,
)
from .sending.system_mail import forget_system_mails, queue_raw_mail
from .stats.attribution import issue_behind_unsubscribe
from .states import UNSUBSCRIBE_REASONS, UnsubscribeReason
from .states import SubscriptionStatus as S
from .transitions import move_record, transition

MAX_REASON_LENGTH = 500
CONFIRM_RESEND_AFTER = timedelta(minutes=10)
PAUSE_MONTHS = (1, 3)
READER_ACTIONS = ("pause1", "pause3", "resume", "unsubscribe")
PAUSE_ACTIONS = {"pause1": 1, "pause3": 3}


class SubscribeOutcome(StrEnum):
    CONFIRMATION_QUEUED = "confirmation_queued"
    ALREADY_CONFIRMED = "already_confirmed"
    THROTTLED = "throttled"


class LinkNoLongerValid(Refused):
    code = "link_no_longer_valid"
    status = 410


def consent_wording(newsletter: Newsletter) -> str:
    """The sentence a reader agrees to on the subscribe form, in the newsletter's language."""
    with force_locale(newsletter.language):
        return gettext(
            "Yes, send me %(name)s by e-mail. I confirm by e-mail first, and I can leave at any time "
            "with one click.",
            name=newsletter.name,
        )


def clean_name(raw: str | None) -> str:
    """A reader's name, trimmed; names reach mail headers, so addresses.clean_display_name decides."""
    return clean_display_name(raw)


def subscribe(newsletter: Newsletter, email: str, name: str | None, *, ip: str | None, source: str,
              wording: str) -> SubscribeOutcome:
    """Start (or restart) the double opt-in. The caller answers the same whatever the outcome."""
    address = normalise_address(email)
    name = clean_name(name)
    subscriber = _subscriber_for(address, name)
    evidence = dict(consent_at=utcnow(), consent_ip=ip, consent_source=source[:500],
                    consent_wording_sha256=_store_wording(wording))
    subscription = _subscription_for(subscriber, newsletter, evidence)
    outcome = _restart_opt_in(subscription, evidence)
    # The same work whatever the outcome: the confirmation mail (rendering, CSS inlining, DKIM) is the costly
    # part, so it is built on every path and only queued when due. The answer's timing tells nothing either.
    raw = _confirmation_mail(subscription)
    if outcome == SubscribeOutcome.CONFIRMATION_QUEUED:
        _queue_raw_system_mail("confirm", subscription, raw)
    return outcome


def _restart_opt_in(subscription: Subscription, evidence: dict) -> SubscribeOutcome:
    if subscription.status == S.CONFIRMED:
        return SubscribeOutcome.ALREADY_CONFIRMED
    if subscription.status != S.PENDING:
        # A new request after leaving: the resend window counts from here (only the reader can leave), and the
        # links of the subscription that ended die with a new nonce: an old confirm link (anyone's, still
        # within its age) cannot confirm this request. Not at the leaving itself: RFC 8058 asks that the
        # unsubscribe link keeps answering 200, however often a mail client repeats it.
        _move(subscription, S.PENDING, confirm_sent_at=None, token_nonce=new_nonce())
        _record(subscription, "resubscribed")
    for key, value in evidence.items():
        setattr(subscription, key, value)
    db.session.flush()
    if not _take_confirmation_slot(subscription):
        return SubscribeOutcome.THROTTLED
    return SubscribeOutcome.CONFIRMATION_QUEUED


def confirm(token: str, ip: str | None) -> Subscription:
    """Confirm from the link's token (idempotent), record the evidence, queue the welcome mail."""
    subscription = subscription_from_token(tokens.CONFIRM, token)
    if subscription.status == S.CONFIRMED:
        return subscription
    if subscription.status != S.PENDING:
        raise LinkNoLongerValid("You left this newsletter after this link was sent. To come back, subscribe again.")
    if _move(subscription, S.CONFIRMED, confirmed_at=utcnow(), confirm_ip=ip, paused_until=None):
        suppression.lift(subscription.subscriber.email_hmac, subscription.newsletter_id)
        _record(subscription, "confirmed")
        _queue_welcome(subscription)
    return subscription


def renew_confirmation(token: str) -> Subscription:
    """Send a fresh confirmation mail for an expired (but authentic) confirm link."""
    subscription = subscription_from_token(tokens.CONFIRM, token, check_age=False)
    if subscription.status == S.PENDING and _take_confirmation_slot(subscription):
        _queue_confirmation(subscription)
    return subscription


def unsubscribe(subscription: Subscription, reason: str | None = None, comment: str | None = None) -> Subscription:
    """Stop all mail of this newsletter at once; repeating it changes nothing.

    `reason` is one of UNSUBSCRIBE_REASONS (anything else is dropped: leaving never fails on a bad field);
    `comment` is the reader's own words, kept short.
    """
    if subscription.status in (S.PENDING, S.CONFIRMED):
        reason = unsubscribe_reason(reason, comment)
        left, now = subscription.status, utcnow()
        if _move(subscription, S.UNSUBSCRIBED, unsubscribed_at=now, unsubscribe_reason=reason, paused_until=None):
            _record(subscription, "unsubscribed", reason, from_status=left,
                    issue_id=issue_behind_unsubscribe(subscription.id, now))
    return subscription


def unsubscribe_reason(reason: str | None, comment: str | None) -> str | None:
    """'code' or 'code: comment' as stored; None when the reader said nothing."""
    code = reason if reason in UNSUBSCRIBE_REASONS else ""
    # On one line without controls, like every text that may reach a header; dropped, not refused.
    comment = " ".join("".join(" " if has_header_breaker(ch) else ch for ch in comment or "").split())
    if comment and not code:
        code = UnsubscribeReason.OTHER.value
    text = f"{code}: {comment}" if comment else code
    return text[:MAX_REASON_LENGTH] or None


def pause(subscription: Subscription, months: int) -> Subscription:
    """Receive nothing for 1 or 3 months, then mail resumes by itself."""
    if months not in PAUSE_MONTHS:
        raise InvalidInput("A pause lasts 1 or 3 months.")
    if subscription.status != S.CONFIRMED:
        raise Refused("Only a confirmed subscription can be paused.")
    subscription.paused_until = add_months(utcnow(), months)
    _record(subscription, "paused", f"{months} month(s)")
    db.session.flush()
    return subscription


def resume(subscription: Subscription) -> Subscription:
    """End a pause now."""
    if subscription.paused_until is not None:
        subscription.paused_until = None
        _record(subscription, "resumed")
        db.session.flush()
    return subscription


def leave(subscription: Subscription, action: str | None, reason: str | None = None,
          comment: str | None = None) -> bool:
    """The unsubscribe page's button (and RFC 8058 one-click, which sends no action): a confirmed reader who
    chose a pause (pause1, pause3) is paused; anything else unsubscribes. True if the reader was paused."""
    months = PAUSE_ACTIONS.get(action or "")
    if months and subscription.status == S.CONFIRMED:
        pause(subscription, months)
        return True
    unsubscribe(subscription, reason, comment)
    return False


def apply_reader_action(subscription: Subscription, action: str) -> Subscription:
    """One of READER_ACTIONS, chosen on the preferences page."""
    if action not in READER_ACTIONS:
        raise InvalidInput("Choose pause for 1 or 3 months, resume, or unsubscribe.")
    if action == "unsubscribe":
        return unsubscribe(subscription)
    if action == "resume":
        return resume(subscription)
    return pause(subscription, int(action[-1]))


def subscription_of(subscriber: Subscriber, subscription_id: int) -> Subscription:
    """One of this person's subscriptions; NotFound for anyone else's."""
    subscription = db.session.get(Subscription, subscription_id)
    if subscription is None or subscription.subscriber_id != subscriber.id:
        raise NotFound("No such subscription.")
    return subscription


def language_of_subscription(subscription_id: int | None) -> str:
    """The language a page about this subscription is shown in."""
    subscription = db.session.get(Subscription, subscription_id) if subscription_id else None
    return subscription.newsletter.language if subscription else "en"


def language_of_subscriber(subscriber: Subscriber) -> str:
    """The language of the newsletter this person joined last."""
    latest = max(subscriber.subscriptions, key=lambda s: s.created_at, default=None)
    return latest.newsletter.language if latest else "en"


def rename(subscriber: Subscriber, name: str | None) -> Subscriber:
    """Change the name used to greet the reader."""
    subscriber.name = clean_name(name)
    db.session.flush()
    return subscriber


def erase(subscriber: Subscriber) -> None:
    """Delete everything about a person; keep only the keyed hash of the address on the suppression list."""
    for subscription in subscriber.subscriptions:
        db.session.add(SubscriptionEvent(newsletter_id=subscription.newsletter_id, kind="erased",
                                         from_status=subscription.status))
    suppression.suppress(subscriber.email_hmac, "erased")
    forget_system_mails(subscriber.email)
    # Bounce texts may quote the address; the counts stay for the statistics, the words go.
    db.session.execute(update(Feedback).where(Feedback.subscriber_id == subscriber.id).values(diagnostic=None))
    db.session.delete(subscriber)
    db.session.flush()


def subscription_from_token(purpose: str, token: str, check_age: bool = True) -> Subscription:
    """The subscription a confirm or unsubscribe token names; TokenInvalid if it is gone or tampered."""
    max_age = current_app.config["CONFIRM_TOKEN_MAX_AGE"] if purpose == tokens.CONFIRM and check_age else None
    claim = tokens.read_token(current_app.config["SECRET_KEY"], purpose, token, max_age)
    subscription = db.session.get(Subscription, claim.record_id)
    if subscription is None or subscription.token_nonce != claim.nonce:
        raise tokens.TokenInvalid()
    return subscription


def subscriber_from_token(token: str, purpose: str = tokens.PREFERENCES, check_age: bool = True) -> Subscriber:
    """The person a preferences token names (TokenExpired past PREFERENCES_LINK_MAX_AGE), or a mailed download
    or erase token when `purpose` says so (TokenExpired after a day)."""
    max_age = None
    if check_age:
        max_age = (current_app.config["PREFERENCES_LINK_MAX_AGE"] if purpose == tokens.PREFERENCES
                   else tokens.MAILED_LINK_MAX_AGE)
    claim = tokens.read_token(current_app.config["SECRET_KEY"], purpose, token, max_age)
    subscriber = db.session.get(Subscriber, claim.record_id)
    if subscriber is None or subscriber.token_nonce != claim.nonce:
        raise tokens.TokenInvalid()
    return subscriber


def token_for(purpose: str, record: Subscription | Subscriber) -> str:
    """A signed link token for a subscription (confirm, unsubscribe) or a subscriber (preferences)."""
    return tokens.make_token(current_app.config["SECRET_KEY"], purpose, record.id, record.token_nonce)


def add_months(moment: datetime, months: int) -> datetime:
    """Same day of month, months later (clamped to the month's last day)."""
    month_index = moment.month - 1 + months
    year, month = moment.year + month_index // 12, month_index % 12 + 1
    for day in (moment.day, 30, 29, 28):
        try:
            return moment.replace(year=year, month=month, day=day)
        except ValueError:
            continue
    raise ValueError("unreachable: every month has 28 days")


def send_confirmation(subscription: Subscription) -> bool:
    """Queue a pending reader's confirmation mail again if the per-address caps allow; False if they do not."""
    if subscription.status != S.PENDING or not _take_confirmation_slot(subscription):
        return False
    _queue_confirmation(subscription)
    return True


def restore_after_refusal(subscriptions: list[Subscription], reason: str) -> int:
    """Undo the bounces that were refusals about the sender (feedback/restore.py decides when): the subscriptions
    still bounced are confirmed again, with the evidence they had, each with its event; how many. Two statements
    whatever their number (the admin's "Restore all" of thousands of readers)."""
    if not subscriptions:
        return 0
    now = utcnow()
    moved = list(db.session.scalars(
        transition(Subscription, S.CONFIRMED, Subscription.id.in_([s.id for s in subscriptions]), from_=[S.BOUNCED],
                   updated_at=now).returning(Subscription.id).execution_options(synchronize_session=False)))
    by_id = {s.id: s for s in subscriptions}
    if moved:
        db.session.execute(insert(SubscriptionEvent), [
            dict(newsletter_id=by_id[i].newsletter_id, subscription_id=i, kind="restored", reason=reason,
                 from_status=S.BOUNCED.value, at=now) for i in moved])
    for subscription_id in moved:
        db.session.expire(by_id[subscription_id])
    return len(moved)


def record_event(subscription: Subscription, kind: str, reason: str | None = None) -> None:
    """Add a line to the subscription's history (a publisher's action on request, with its reason)."""
    _record(subscription, kind, reason)


def _subscriber_for(address: str, name: str) -> Subscriber:
    subscriber = db.session.scalar(select(Subscriber).where(Subscriber.email == address))
    if subscriber is None:
        try:
            with db.session.begin_nested():
                subscriber = Subscriber(email=address, email_hmac=suppression.hmac_of(address), name=name)
                db.session.add(subscriber)
        except IntegrityError:  # the same address, subscribed at the same moment by another request
            subscriber = db.session.scalar(select(Subscriber).where(Subscriber.email == address))
    # An existing reader's name is theirs: anyone can subscribe any address, so a later subscribe (form or API)
    # never renames them, pending or confirmed; the reader changes it on their preferences page.
    return subscriber


def _subscription_for(subscriber: Subscriber, newsletter: Newsletter, evidence: dict) -> Subscription:
    query = select(Subscription).where(
        Subscription.subscriber_id == subscriber.id, Subscription.newsletter_id == newsletter.id
    )
    subscription = db.session.scalar(query)
    if subscription is None:
        try:
            with db.session.begin_nested():
                subscription = Subscription(subscriber=subscriber, newsletter=newsletter, **evidence)
                db.session.add(subscription)
                _record(subscription, "subscribed")
        except IntegrityError:
            subscription = db.session.scalar(query)
    return subscription


def _store_wording(wording: str) -> str:
    digest = hashlib.sha256(wording.encode("utf-8")).hexdigest()
    if db.session.get(ConsentWording, digest) is None:
        try:
            with db.session.begin_nested():
                db.session.add(ConsentWording(sha256=digest, text=wording))
        except IntegrityError:
            pass
    return digest


def _move(subscription: Subscription, new: S, **values) -> bool:
    """Change status through the transition table, as a conditional update: of two racing requests one wins."""
    return move_record(subscription, new, updated_at=utcnow(), **values)


def _take_confirmation_slot(subscription: Subscription) -> bool:
    """At most one confirmation mail per (address, newsletter) per window, and a few per address per hour."""
    now = utcnow()
    recent = db.session.scalar(
        select(func.count(Subscription.id)).where(
            Subscription.subscriber_id == subscription.subscriber_id,
            Subscription.confirm_sent_at > now - timedelta(hours=1),
        )
    )
    if recent >= current_app.config["CONFIRM_MAILS_PER_HOUR"]:
        return False
    result = db.session.execute(
        update(Subscription)
        .where(Subscription.id == subscription.id)
        .where(or_(Subscription.confirm_sent_at.is_(None), Subscription.confirm_sent_at <= now - CONFIRM_RESEND_AFTER))
        .values(confirm_sent_at=now)
        .execution_options(synchronize_session=False)
    )
    db.session.refresh(subscription)
    return result.rowcount == 1


def _record(subscription: Subscription, kind: str, reason: str | None = None, **details) -> None:
    db.session.add(SubscriptionEvent(newsletter=subscription.newsletter, subscription=subscription,
                                     kind=kind, reason=reason, **details))


def _queue_confirmation(subscription: Subscription) -> None:
    _queue_raw_system_mail("confirm", subscription, _confirmation_mail(subscription))


def _confirmation_mail(subscription: Subscription) -> bytes:
    # Without the name: whoever typed it has not shown they own the address, and it would carry their words
    # (a link, an advert) to a stranger's inbox under our name.
    return _system_mail("confirm", subscription, to_name="", confirm_url=external_url(
        "public.confirm", token=token_for(tokens.CONFIRM, subscription)))


def _queue_welcome(subscription: Subscription) -> None:
    token = token_for(tokens.UNSUBSCRIBE, subscription)
    unsubscribe_url = external_url("public.unsubscribe", token=token)
    queue_system_mail(
        "welcome", subscription,
        unsubscribe=list_unsubscribe(unsubscribe_url, token, instance_domain(current_app.config["BASE_URL"])),
        unsubscribe_url=unsubscribe_url,
        preferences_url=external_url("public.preferences", token=token_for(tokens.PREFERENCES, subscription.subscriber)),
        archive_url=external_url("public.newsletter", slug=subscription.newsletter.slug),
    )


def queue_system_mail(kind: str, subscription: Subscription, to_name: str | None = None, **context) -> None:
    """Queue a system mail about this subscription to its reader, as its newsletter's mail."""
    _queue_raw_system_mail(kind, subscription, _system_mail(kind, subscription, to_name, **context))


def _system_mail(kind: str, subscription: Subscription, to_name: str | None = None, **context) -> bytes:
    subscriber, newsletter = subscription.subscriber, subscription.newsletter
    name = subscriber.name if to_name is None else to_name
    message = system_message(kind, newsletter, subscriber.email, name, **context)
    return sending_domains.signed(newsletter, message.as_bytes())  # by the key that signs its issues


def _queue_raw_system_mail(kind: str, subscription: Subscription, raw: bytes) -> None:
    subscriber = subscription.subscriber
    queue_raw_mail(kind, raw, subscriber.email, return_path(subscription.newsletter, subscriber.id))
