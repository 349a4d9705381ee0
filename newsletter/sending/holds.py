"""A receiving domain that refuses an issue because of the sender holds its own part of the send, not the rest.

Sender-side refusals (the reason table's sender group: authentication, blocklists, reputation, policy, spam
filters, rate) are never the reader's doing. Each one, answered by the SMTP server during the send or reported
later by a delivery status notification, is a feedback row of the issue and the reader's domain. Once
SEND_HOLD_DOMAIN_AFTER of them come from one domain, the domain is held: its messages not yet handed over wait
as HELD, the rest of the list keeps going, and the issue page says what the refusals mean and what to do. The
publisher then retries the domain once the cause is fixed (its held messages are queued again, its refusals
counted anew) or gives it up for this issue (they are skipped). An issue does not finish while one of its
domains is held; a refused message of a domain that never reached the threshold fails when the rest is done.

"Relaying denied" is the relay's own refusal, whatever the domain: it fails the message and counts toward
SEND_MAX_CONSECUTIVE_FAILURES, which pauses the whole send, as before.
"""

import logging
from dataclasses import dataclass, field

from flask_babel import gettext as _
from sqlalchemy import and_, exists, func, or_, select
from sqlalchemy.dialects import postgresql, sqlite

from ..addresses import mail_domain
from ..errors import NotFound, Refused
from ..extensions import db
from ..feedback.parsers import REFUSAL
from ..feedback.reasons import Reason, classify, is_sender_side
from ..feedback.record import record_send_refusal
from ..models import Delivery, Feedback, Issue, SendHold, Subscriber, User, utcnow
from ..states import DeliveryStatus as D
from ..states import HoldStatus as H
from ..states import IssueStatus, check_transition
from ..transitions import initial, move, move_record

log = logging.getLogger(__name__)
HELD_NOTE = "held: {domain} refused this issue because of the sender; waiting for the publisher's decision"
GIVEN_UP_NOTE = "not sent: the publisher gave up {domain} for this issue"
DECIDABLE = (IssueStatus.SENDING, IssueStatus.PAUSED)


def holds_the_domain(reason: str) -> bool:
    """True for a refusal that counts toward holding its domain: about the sender, and not the relay's own."""
    return is_sender_side(reason) and reason != Reason.RELAYING_DENIED


@dataclass
class DomainHolds:
    """One batch's view of an issue's domains: which ones nothing may go to, and their refusals so far."""

    issue_id: int
    threshold: int
    stopped: dict[str, str] = field(default_factory=dict)  # domain -> HoldStatus (held or given up)
    refusals: dict[str, int] = field(default_factory=dict)  # counted since the domain was last retried

    @classmethod
    def load(cls, issue_id: int, threshold: int) -> "DomainHolds":
        """Read the issue's holds, and hold the domains whose later notices reached the threshold. Commits."""
        holds = cls(issue_id, threshold, dict(db.session.execute(
            select(SendHold.domain, SendHold.status)
            .where(SendHold.issue_id == issue_id, SendHold.status != H.RETRIED.value)).all()))
        for domain, count, reason, example in refusal_counts(issue_id):
            holds.refusals[domain] = count
            if count >= threshold and domain not in holds.stopped:
                holds.hold(domain, reason, example)
        db.session.commit()
        return holds

    def stops(self, address: str) -> str | None:
        """The hold status of the address's domain when nothing may go there now, else None."""
        return self.stopped.get(mail_domain(address) or "") if self.stopped else None

    def refused(self, delivery_id: int, address: str, reply: str) -> bool:
        """Take a permanent refusal: True when it is about the sender (recorded, counted toward its domain's
        hold; the message is to be HELD, not failed). Commits."""
        reason = classify(None, reply)
        domain = mail_domain(address)
        if not holds_the_domain(reason) or domain is None:
            return False
        record_send_refusal(delivery_id, reason.value, reply)
        self.refusals[domain] = self.refusals.get(domain, 0) + 1
        if self.refusals[domain] >= self.threshold and domain not in self.stopped:
            self.hold(domain, reason.value, reply)
        db.session.commit()
        return True

    def hold(self, domain: str, reason: str, example: str) -> None:
        """Hold the domain: a hold row (one per issue and domain), and its queued messages set aside."""
        hold_domain(self.issue_id, domain, reason, example, self.refusals.get(domain, 0))
        self.stopped[domain] = H.HELD.value


def refusal_counts(issue_id: int) -> list[tuple[str, int, str, str]]:
    """Per domain of the issue: deliveries refused because of the sender since the domain was last retried
    (never, if it was not), with one reason and one example of the server's words."""
    hold = and_(SendHold.issue_id == Feedback.issue_id, SendHold.domain == Feedback.domain)
    return [tuple(row) for row in db.session.execute(
        select(Feedback.domain, func.count(func.distinct(Feedback.delivery_id)), func.max(Feedback.reason),
               func.max(Feedback.diagnostic))
        .outerjoin(SendHold, hold)
        .where(Feedback.issue_id == issue_id, Feedback.kind == REFUSAL, Feedback.domain.is_not(None),
               Feedback.reason != Reason.RELAYING_DENIED.value,
               or_(SendHold.id.is_(None), and_(SendHold.status == H.RETRIED.value,
                                               Feedback.received_at > SendHold.decided_at)))
        .group_by(Feedback.domain)
    )]


def hold_domain(issue_id: int, domain: str, reason: str, example: str, refusals: int) -> None:
    """Record the hold (a retried domain is held again), then set the domain's queued messages aside. Flushes."""
    now = utcnow()
    insert = (postgresql.insert if db.engine.dialect.name == "postgresql" else sqlite.insert)(SendHold)
    values = dict(reason=reason[:24], refusals=refusals, example=example[:1000], held_at=now)
    db.session.execute(insert.values(issue_id=issue_id, domain=domain, status=initial(H.HELD), **values)
                       .on_conflict_do_nothing(index_elements=["issue_id", "domain"]))
    move(SendHold, H.HELD, SendHold.issue_id == issue_id, SendHold.domain == domain, from_=[H.RETRIED],
         decided_at=None, decided_by_id=None, **values)
    moved = _move(issue_id, domain, D.QUEUED, D.HELD, smtp_reply=HELD_NOTE.format(domain=domain))
    log.warning("issue %s: %s refused %s messages because of the sender (%s); %s more held",
                issue_id, domain, refusals, reason, moved)


def holding(issue_id: int) -> bool:
    """True while one of the issue's domains is held (the issue is not finished until the publisher decides)."""
    return db.session.scalar(select(exists().where(SendHold.issue_id == issue_id,
                                                   SendHold.status == H.HELD.value)))


def settle(issue_id: int) -> None:
    """At the end of a send with no domain held: what is still HELD was refused, and fails. Flushes."""
    now = utcnow()
    move(Delivery, D.SKIPPED, Delivery.issue_id == issue_id, Delivery.smtp_code.is_(None), from_=[D.HELD],
         lease_until=None, updated_at=now)  # never handed over: the domain was refused for the others
    move(Delivery, D.FAILED, Delivery.issue_id == issue_id, from_=[D.HELD], lease_until=None, updated_at=now)


def holds_of(issue_id: int) -> list[tuple[SendHold, int]]:
    """The issue's held, retried and given-up domains, each with how many of its messages wait now."""
    waiting = (select(func.count(Delivery.id))
               .join(Subscriber, Subscriber.id == Delivery.subscriber_id)
               .where(Delivery.issue_id == SendHold.issue_id, Delivery.status == D.HELD.value,
                      Subscriber.email.endswith("@" + SendHold.domain))
               .correlate(SendHold).scalar_subquery())
    return [tuple(row) for row in db.session.execute(
        select(SendHold, waiting).where(SendHold.issue_id == issue_id).order_by(SendHold.held_at, SendHold.id))]


def retry_domain(issue: Issue, hold_id: int, user: User) -> int:
    """The publisher fixed the cause: the domain's held messages are queued again. Returns how many. Flushes."""
    hold = _decidable(issue, hold_id, H.RETRIED)
    move_record(hold, H.RETRIED, decided_at=utcnow(), decided_by_id=user.id)
    moved = _move(issue.id, hold.domain, D.HELD, D.QUEUED, next_attempt_at=utcnow(), lease_owner=None,
                  lease_until=None)
    db.session.info["wake_sender"] = True  # the sender looks at the issue again after the caller commits
    return moved


def give_up_domain(issue: Issue, hold_id: int, user: User) -> int:
    """The publisher gives the domain up for this issue: its held messages will not go. Returns how many."""
    hold = _decidable(issue, hold_id, H.GIVEN_UP)
    move_record(hold, H.GIVEN_UP, decided_at=utcnow(), decided_by_id=user.id)
    never_tried = _move(issue.id, hold.domain, D.HELD, D.SKIPPED, Delivery.smtp_code.is_(None),
                        smtp_reply=GIVEN_UP_NOTE.format(domain=hold.domain))
    refused = _move(issue.id, hold.domain, D.HELD, D.FAILED)
    db.session.info["wake_sender"] = True  # the issue may be finished now
    return never_tried + refused


def _decidable(issue: Issue, hold_id: int, new: H) -> SendHold:
    # Compared in the query, not looked up by key: a huge id from a URL is simply not found, on PostgreSQL too.
    hold = db.session.scalar(select(SendHold).where(SendHold.id == hold_id, SendHold.issue_id == issue.id))
    if hold is None:
        raise NotFound(_("This issue has no such held domain."))
    if issue.status not in DECIDABLE:
        raise Refused(_("The send of this issue is over: there is nothing left to retry or give up."))
    check_transition(H, hold.status, new)
    return hold


def _move(issue_id: int, domain: str, old: D, new: D, *where, **values) -> int:
    """Deliveries of the issue to one domain, from status `old` to `new` (a few per domain and action, so the
    address is matched by its ending). Flushes; returns how many moved."""
    readers = select(Subscriber.id).where(Subscriber.email.endswith("@" + domain, autoescape=True))
    moved = move(Delivery, new, Delivery.issue_id == issue_id, Delivery.subscriber_id.in_(readers), *where,
                 from_=[old], updated_at=utcnow(), **values)
    db.session.flush()
    return moved
