"""Inbound mail from an IMAP mailbox (`flask bounces poll`): each unseen message goes through `inbound.receive`."""

import imaplib
import logging
import time
from urllib.parse import unquote, urlsplit

from flask import Flask

from ..extensions import db
from .inbound import receive

log = logging.getLogger(__name__)


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
