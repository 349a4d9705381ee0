"""Inbound mail over SMTP or LMTP (aiosmtpd): what `flask bounces serve` runs."""

import logging

from aiosmtpd.controller import Controller
from aiosmtpd.lmtp import LMTP
from flask import Flask

from ..extensions import db
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
                receive(envelope.original_content, list(envelope.rcpt_tos), envelope_from=envelope.mail_from or "")
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
