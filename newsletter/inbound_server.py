"""Where inbound mail comes from: an SMTP or LMTP listener (aiosmtpd) and an IMAP mailbox poller."""

import imaplib
import logging
import time
from urllib.parse import unquote, urlsplit

from aiosmtpd.controller import Controller
from aiosmtpd.lmtp import LMTP
from flask import Flask

from .extensions import db
from .inbound import receive

log = logging.getLogger(__name__)
MAX_MESSAGE_BYTES = 10 * 1024 * 1024


class InboundHandler:
    """aiosmtpd handler: every accepted message goes through `inbound.receive` in its own transaction."""

    def __init__(self, app: Flask):
        self.app = app

    async def handle_DATA(self, server, session, envelope):
        with self.app.app_context():
            try:
                receive(envelope.original_content, list(envelope.rcpt_tos))
                db.session.commit()
            except Exception:  # the database away: say 451 so the sending MTA tries again later
                db.session.rollback()
                log.exception("inbound message could not be recorded")
                return "451 4.3.0 Temporary failure, please try again later"
        return "250 2.0.0 OK"


class LmtpController(Controller):
    def factory(self):
        return LMTP(self.handler, data_size_limit=MAX_MESSAGE_BYTES)


def make_listener(app: Flask, host: str, port: int, lmtp: bool = False) -> Controller:
    """An SMTP (or LMTP, for a local MTA's transport) listener on host:port, not yet started."""
    kind = LmtpController if lmtp else Controller
    options = {} if lmtp else {"data_size_limit": MAX_MESSAGE_BYTES}
    return kind(InboundHandler(app), hostname=host, port=port, **options)


def poll_imap(app: Flask, url: str, delete: bool = False) -> int:
    """Read unseen messages of an IMAP mailbox (imaps://user:password@host[:port]/MAILBOX) once."""
    parts = urlsplit(url)
    connection_class = imaplib.IMAP4_SSL if parts.scheme == "imaps" else imaplib.IMAP4
    connection = connection_class(parts.hostname, parts.port or (993 if parts.scheme == "imaps" else 143))
    handled = 0
    try:
        connection.login(unquote(parts.username or ""), unquote(parts.password or ""))
        connection.select(unquote(parts.path.lstrip("/")) or "INBOX")
        _status, data = connection.search(None, "UNSEEN")
        for number in data[0].split():
            _status, fetched = connection.fetch(number, "(RFC822)")
            raw = fetched[0][1] if fetched and isinstance(fetched[0], tuple) else b""
            with app.app_context():
                receive(raw, [], source="imap")
                db.session.commit()
            connection.store(number, "+FLAGS", "\\Deleted" if delete else "\\Seen")
            handled += 1
        if delete:
            connection.expunge()
    finally:
        try:
            connection.logout()
        except (imaplib.IMAP4.error, OSError):
            pass
    return handled


def poll_forever(app: Flask, url: str, every: float, delete: bool = False) -> None:
    """Poll the mailbox every `every` seconds until interrupted; a failed poll is logged and retried."""
    while True:
        try:
            count = poll_imap(app, url, delete)
            if count:
                log.info("read %s inbound message(s) from IMAP", count)
        except (imaplib.IMAP4.error, OSError) as error:
            log.warning("IMAP poll failed: %s", error)
        time.sleep(every)
