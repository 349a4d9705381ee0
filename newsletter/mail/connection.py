"""Flask-Mail for system mail, completed: a socket timeout, verified TLS, the outbox, and failures by kind.

Flask-Mail 0.10 opens `smtplib.SMTP(server, port)` without a timeout, so a relay that accepts the connection
and never answers would hold the sender forever; `Connection.configure_host` opens the session with
MAIL_TIMEOUT instead. It is also the one place where MAIL_BACKEND=outbox is honoured: Flask-Mail has no file
backend, so the "host" it sends to is then the outbox folder (the bulk path's OutboxTransport). Callers never
see the difference: they send through `mail` (extensions.py), and get the transport's DeliveryError kinds.
"""

import smtplib
from contextlib import suppress
from pathlib import Path

import flask_mail
from flask import Flask, current_app

from .transport import OutboxTransport, PermanentFailure, ServerUnavailable, failure_from_reply, open_smtp


class Mail(flask_mail.Mail):
    """Flask-Mail's extension, reading our validated settings; its connections are `Connection`."""

    def init_app(self, app: Flask):
        """Bind to an app: Flask-Mail's settings, plus the timeout and the outbox folder (outbox backend)."""
        state = super().init_app(app)
        state.timeout = app.config["MAIL_TIMEOUT"]
        state.outbox = Path(app.instance_path) / "outbox" if app.config["MAIL_BACKEND"] == "outbox" else None
        return state

    def connect(self) -> "Connection":
        """A connection to the relay (or the outbox); it opens on the first send."""
        return Connection(current_app.extensions["mail"])


class Connection(flask_mail.Connection):
    """Flask-Mail's Connection with a timeout; `send` raises ServerUnavailable, TransientFailure or
    PermanentFailure, and a session the server dropped is reopened by the next send."""

    def __enter__(self) -> "Connection":
        # Opened lazily: a pass of the sender with nothing to send touches no server.
        self.host, self.num_emails = None, 0
        return self

    def __exit__(self, *_exc) -> None:
        self.close()

    def configure_host(self):
        """The SMTP session (MAIL_TIMEOUT on every read and write), or the outbox."""
        state = self.mail
        if state.outbox is not None:
            return OutboxHost(state.outbox)
        host = open_smtp(state.server, state.port, timeout=state.timeout, use_ssl=state.use_ssl,
                         use_tls=state.use_tls, username=state.username or "", password=state.password or "")
        host.set_debuglevel(int(state.debug))
        return host

    def send(self, message: flask_mail.Message, envelope_from: str | None = None) -> None:
        """Hand one message over through Flask-Mail, opening the session if needed."""
        if self.host is None and not self.mail.suppress:
            try:
                self.host = self.configure_host()
            except (smtplib.SMTPException, OSError) as exc:
                raise ServerUnavailable(f"cannot reach the SMTP server {self.mail.server}:{self.mail.port}: "
                                        f"{exc or type(exc).__name__}") from None
        try:
            super().send(message, envelope_from)
        except smtplib.SMTPRecipientsRefused as exc:
            code, reply = next(iter(exc.recipients.values()))
            raise self._refusal(code, reply) from None
        except smtplib.SMTPResponseException as exc:  # MAIL FROM or DATA refused
            raise self._refusal(exc.smtp_code, exc.smtp_error) from None
        except (smtplib.SMTPException, OSError) as exc:
            self.close()
            raise ServerUnavailable(f"the SMTP server {self.mail.server}:{self.mail.port} dropped the "
                                    f"connection: {exc or type(exc).__name__}") from None
        except (flask_mail.BadHeaderError, UnicodeEncodeError) as exc:
            raise PermanentFailure(f"the message cannot be sent as it is: {type(exc).__name__}") from None

    def _refusal(self, code: int, reply: bytes | str):
        failure = failure_from_reply(code, reply)
        if code == 421:  # the server is closing the session: this message may go on a new one
            self.close()
            return ServerUnavailable(failure.reply, code)
        return failure

    def close(self) -> None:
        """Say QUIT if the session is up; a server that already hung up is no error here."""
        host, self.host = self.host, None
        if host is not None:
            with suppress(smtplib.SMTPException, OSError):
                host.quit()
            host.close()


class StoredMessage(flask_mail.Message):
    """A message finished when it was queued (its bytes are in the database): Flask-Mail sends them unchanged."""

    def __init__(self, raw: bytes, envelope_from: str, recipient: str):
        super().__init__(recipients=[recipient], sender=envelope_from)
        self.raw = raw

    def as_bytes(self) -> bytes:
        return self.raw


class OutboxHost:
    """Stands where Flask-Mail expects an smtplib session: each message becomes an .eml file in the outbox."""

    def __init__(self, folder: Path):
        self.outbox = OutboxTransport(folder)

    def sendmail(self, from_addr: str, to_addrs: list[str], msg: bytes, *_options) -> dict:
        """Write one file per recipient (TransientFailure if the folder cannot be written)."""
        for recipient in to_addrs:
            self.outbox.send(from_addr, recipient, msg)
        return {}

    def quit(self) -> None:
        """Nothing to close."""

    close = quit
