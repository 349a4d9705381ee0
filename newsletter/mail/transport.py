"""Transports carry finished messages (bytes) to the world: SMTP, or .eml files in the outbox.

The sender sees only `Transport.send`, and two kinds of failure: transient (retry later) and permanent
(record it for that recipient). Flask-Mail's setting names are used (MAIL_SERVER, MAIL_PORT...), but not its
Message/Connection: those build a new MIME tree per message and open sockets without a timeout.
"""

import os
import secrets
import smtplib
import socket
import ssl
import time
from pathlib import Path
from typing import Protocol


class DeliveryError(Exception):
    """The transport could not hand the message over."""

    permanent = False

    def __init__(self, reply: str, code: int | None = None):
        super().__init__(reply)
        self.reply = reply[:1000]
        self.code = code


class TransientFailure(DeliveryError):
    """4xx reply, dropped connection, server down: try again later."""


class PermanentFailure(DeliveryError):
    """5xx reply: this recipient will not get this message."""

    permanent = True


class Transport(Protocol):
    def send(self, envelope_from: str, recipient: str, raw: bytes) -> None: ...

    def close(self) -> None: ...


def failure_from_reply(code: int, message: bytes | str) -> DeliveryError:
    """Map an SMTP reply code to the kind of failure."""
    text = message.decode("utf-8", "replace") if isinstance(message, bytes) else str(message)
    reply = f"{code} {text}".strip()
    return PermanentFailure(reply, code) if 500 <= code < 600 else TransientFailure(reply, code)


class SmtpTransport:
    """One SMTP connection reused across messages, re-opened after a failure."""

    def __init__(self, server: str, port: int, *, username: str = "", password: str = "",
                 use_tls: bool = False, use_ssl: bool = False, timeout: float = 30.0):
        self.server, self.port, self.timeout = server, port, timeout
        self.username, self.password = username, password
        self.use_tls, self.use_ssl = use_tls, use_ssl
        self.connection: smtplib.SMTP | None = None

    def send(self, envelope_from: str, recipient: str, raw: bytes) -> None:
        """Send one message; raise TransientFailure or PermanentFailure."""
        try:
            connection = self.connection or self._open()
            connection.sendmail(envelope_from, [recipient], raw)
        except smtplib.SMTPRecipientsRefused as exc:
            code, message = next(iter(exc.recipients.values()))
            raise self._after_refusal(failure_from_reply(code, message)) from None
        except (smtplib.SMTPSenderRefused, smtplib.SMTPDataError) as exc:
            raise self._after_refusal(failure_from_reply(exc.smtp_code, exc.smtp_error)) from None
        except smtplib.SMTPResponseException as exc:
            self._drop()
            raise failure_from_reply(exc.smtp_code, exc.smtp_error) from None
        except (smtplib.SMTPException, OSError) as exc:
            self._drop()
            raise TransientFailure(f"connection to {self.server}:{self.port} failed: {exc}") from None

    def _after_refusal(self, failure: DeliveryError) -> DeliveryError:
        # A refused transaction leaves the session usable only after RSET; 421 means the server hangs up.
        if failure.code == 421:
            self._drop()
            return failure
        try:
            self.connection.rset()
        except (smtplib.SMTPException, OSError, AttributeError):
            self._drop()
        return failure

    def _open(self) -> smtplib.SMTP:
        if self.use_ssl:
            connection = smtplib.SMTP_SSL(self.server, self.port, timeout=self.timeout,
                                          context=ssl.create_default_context())
        else:
            connection = smtplib.SMTP(self.server, self.port, timeout=self.timeout)
        connection.ehlo_or_helo_if_needed()
        if self.use_tls:
            connection.starttls(context=ssl.create_default_context())
            connection.ehlo()
        if self.username:
            connection.login(self.username, self.password)
        self.connection = connection
        return connection

    def _drop(self) -> None:
        if self.connection is not None:
            try:
                self.connection.close()
            except (OSError, smtplib.SMTPException):
                pass
        self.connection = None

    def close(self) -> None:
        """Say QUIT politely if the connection is still up."""
        if self.connection is not None:
            try:
                self.connection.quit()
            except (smtplib.SMTPException, OSError, socket.timeout):
                pass
        self.connection = None


class OutboxTransport:
    """Writes each message as an .eml file in a folder: the development default, readable at /admin/outbox."""

    def __init__(self, folder: str | os.PathLike):
        self.folder = Path(folder)

    def send(self, envelope_from: str, recipient: str, raw: bytes) -> None:
        """Write the message atomically (temporary name, then rename) so a reader never sees half a file."""
        self.folder.mkdir(parents=True, exist_ok=True)
        name = f"{time.time_ns():020d}-{secrets.token_hex(4)}.eml"
        header = f"X-Outbox-Envelope-From: {envelope_from}\r\nX-Outbox-Envelope-To: {recipient}\r\n".encode()
        temporary = self.folder / ("." + name + ".tmp")
        try:
            temporary.write_bytes(header + raw)
            temporary.rename(self.folder / name)
        except OSError as exc:
            raise TransientFailure(f"cannot write to the outbox {self.folder}: {exc}") from None

    def close(self) -> None:
        """Nothing to close."""


def make_transport(config: dict, instance_path: str) -> Transport:
    """The transport the settings ask for (MAIL_BACKEND)."""
    if config["MAIL_BACKEND"] == "smtp":
        return SmtpTransport(
            config["MAIL_SERVER"], config["MAIL_PORT"],
            username=config["MAIL_USERNAME"], password=config["MAIL_PASSWORD"],
            use_tls=config["MAIL_USE_TLS"], use_ssl=config["MAIL_USE_SSL"], timeout=config["MAIL_TIMEOUT"],
        )
    return OutboxTransport(Path(instance_path) / "outbox")
