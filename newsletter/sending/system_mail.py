"""The queue of system mails: written in the caller's transaction, sent through Flask-Mail after commit.

A rolled-back change therefore never sends its mail, and a mail survives a crash of the web process. A mail is
stored finished (bytes): its Date and Message-ID are those of the moment it was asked for, and a test of an
issue (already bytes) takes the same queue.
"""

import logging
from datetime import timedelta

from sqlalchemy import delete, or_, select

from ..extensions import db, mail
from ..models import SystemMail, utcnow
from ..mail.connection import Connection, StoredMessage
from ..mail.transport import DeliveryError, ServerUnavailable
from ..states import SystemMailStatus as M
from ..transitions import move, move_record

log = logging.getLogger(__name__)
MAX_ATTEMPTS = 8
CLAIM_LEASE = timedelta(minutes=10)


def queue_raw_mail(kind: str, raw: bytes, recipient: str, envelope_from: str) -> SystemMail:
    """Queue a finished message (a confirmation, signed as its newsletter's mail; a publisher's test of an
    issue); flushed, sent after commit."""
    queued = SystemMail(kind=kind, recipient=recipient, envelope_from=envelope_from, raw=raw)
    db.session.add(queued)
    db.session.flush()
    db.session.info["wake_sender"] = True
    return queued


def forget_system_mails(recipient: str, sender: str | None = None) -> None:
    """Drop queued mails to an address (erasure); only those from `sender` when given (one newsletter's)."""
    query = delete(SystemMail).where(SystemMail.recipient == recipient)
    if sender is not None:
        query = query.where(SystemMail.envelope_from == sender)
    db.session.execute(query)


def send_due_system_mails(limit: int = 50) -> int:
    """Send what is due through Flask-Mail, over one session; return how many were handed over.

    Commits per mail. When the relay is unreachable the pass stops at the first mail, which waits its turn
    again: the others are not tried against a server that just failed.
    """
    handed = 0
    with mail.connect() as connection:
        for mail_id in _due_ids(limit):
            if not _claim(mail_id):
                continue
            sent = _send_one(connection, db.session.get(SystemMail, mail_id))
            db.session.commit()
            if sent is None:
                break
            handed += sent
    return handed


def _send_one(connection: Connection, queued: SystemMail) -> int | None:
    """1 if handed over, 0 if refused or deferred, None if the relay is unreachable."""
    try:
        connection.send(StoredMessage(queued.raw, queued.envelope_from, queued.recipient), queued.envelope_from)
    except DeliveryError as exc:
        _record_failure(queued, exc)
        return None if isinstance(exc, ServerUnavailable) else 0
    log.info("system mail handed over", extra=_fields("system_mail_sent", queued))
    # Sent: the row held a copy of a personal message; nothing to keep.
    db.session.delete(queued)
    return 1


def _due_ids(limit: int) -> list[int]:
    now = utcnow()
    stale = now - CLAIM_LEASE
    ids = db.session.scalars(
        select(SystemMail.id)
        .where(
            or_(
                (SystemMail.status == M.QUEUED.value) & (SystemMail.next_attempt_at <= now),
                (SystemMail.status == M.SENDING.value) & (SystemMail.next_attempt_at <= stale),
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
    # A SENDING row is claimed again only when its runner's lease is over (the runner vanished).
    moved = move(SystemMail, M.SENDING, SystemMail.id == mail_id, or_(
        (SystemMail.status == M.QUEUED.value) & (SystemMail.next_attempt_at <= now),
        (SystemMail.status == M.SENDING.value) & (SystemMail.next_attempt_at <= now - CLAIM_LEASE),
    ), from_=[M.QUEUED, M.SENDING], next_attempt_at=now, attempts=SystemMail.attempts + 1)
    db.session.commit()
    return moved == 1


def _record_failure(mail: SystemMail, exc: DeliveryError) -> None:
    mail.last_error = exc.reply
    # The reply code only: a relay's words often quote the recipient's address, which logs must not hold.
    said = {"reply_code": exc.code} if exc.code else {"reason": exc.reply}
    if exc.permanent or mail.attempts >= MAX_ATTEMPTS:
        move_record(mail, M.FAILED)
        log.warning("system mail failed for good", extra=_fields("system_mail_failed", mail) | said)
        return
    move_record(mail, M.QUEUED, next_attempt_at=utcnow() + timedelta(seconds=min(3600, 15 * 2 ** mail.attempts)))
    log.info("system mail deferred", extra=_fields("system_mail_deferred", mail) | said)


def _fields(event: str, mail: SystemMail) -> dict:
    return {"event": event, "system_mail_id": mail.id, "kind": mail.kind, "attempts": mail.attempts}
