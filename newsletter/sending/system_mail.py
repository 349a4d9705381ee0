"""The queue of system mails: written in the caller's transaction, sent by the runner after commit.

A rolled-back change therefore never sends its mail, and a mail survives a crash of the web process.
"""

import logging
from datetime import timedelta
from email.message import EmailMessage

from sqlalchemy import delete, or_, select, update

from ..extensions import db
from ..models import SystemMail, utcnow
from ..mail.transport import DeliveryError, Transport

log = logging.getLogger(__name__)
MAX_ATTEMPTS = 8
CLAIM_LEASE = timedelta(minutes=10)


def queue_system_mail(kind: str, message: EmailMessage, recipient: str, envelope_from: str) -> SystemMail:
    """Add a mail to the queue (flushed, not committed) and ask the runner to look after commit."""
    return queue_raw_mail(kind, message.as_bytes(), recipient, envelope_from)


def queue_raw_mail(kind: str, raw: bytes, recipient: str, envelope_from: str) -> SystemMail:
    """Queue a finished message (e.g. a publisher's test of an issue); flushed, sent after commit."""
    mail = SystemMail(kind=kind, recipient=recipient, envelope_from=envelope_from, raw=raw)
    db.session.add(mail)
    db.session.flush()
    db.session.info["wake_sender"] = True
    return mail


def forget_system_mails(recipient: str) -> None:
    """Drop queued mails to an address (erasure)."""
    db.session.execute(delete(SystemMail).where(SystemMail.recipient == recipient))


def send_due_system_mails(transport: Transport, limit: int = 50) -> int:
    """Send what is due; return how many were handed over. Commits per mail."""
    handed = 0
    for mail_id in _due_ids(limit):
        if not _claim(mail_id):
            continue
        mail = db.session.get(SystemMail, mail_id)
        try:
            transport.send(mail.envelope_from, mail.recipient, mail.raw)
        except DeliveryError as exc:
            _record_failure(mail, exc)
        else:
            # Sent: the row held a copy of a personal message; nothing to keep.
            db.session.delete(mail)
            handed += 1
        db.session.commit()
    return handed


def _due_ids(limit: int) -> list[int]:
    now = utcnow()
    stale = now - CLAIM_LEASE
    ids = db.session.scalars(
        select(SystemMail.id)
        .where(
            or_(
                (SystemMail.status == "queued") & (SystemMail.next_attempt_at <= now),
                (SystemMail.status == "sending") & (SystemMail.next_attempt_at <= stale),
            )
        )
        .order_by(SystemMail.id)
        .limit(limit)
    ).all()
    db.session.commit()
    return list(ids)


def _claim(mail_id: int) -> bool:
    # A conditional update: of several runners, exactly one sees rowcount 1.
    now = utcnow()
    result = db.session.execute(
        update(SystemMail)
        .where(SystemMail.id == mail_id)
        .where(
            or_(
                (SystemMail.status == "queued") & (SystemMail.next_attempt_at <= now),
                (SystemMail.status == "sending") & (SystemMail.next_attempt_at <= now - CLAIM_LEASE),
            )
        )
        .values(status="sending", next_attempt_at=now, attempts=SystemMail.attempts + 1)
    )
    db.session.commit()
    return result.rowcount == 1


def _record_failure(mail: SystemMail, exc: DeliveryError) -> None:
    mail.last_error = exc.reply
    if exc.permanent or mail.attempts >= MAX_ATTEMPTS:
        mail.status = "failed"
        log.warning("system mail %s to a reader failed for good: %s", mail.id, exc.reply)
        return
    mail.status = "queued"
    mail.next_attempt_at = utcnow() + timedelta(seconds=min(3600, 15 * 2 ** mail.attempts))
