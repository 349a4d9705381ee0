"""Transports carry finished messages (bytes) to the world: SMTP, or .eml files in the outbox.

The sender sees only `Transport.send`, and two kinds of failure: transient (retry later) and permanent
(record it for that recipient). This is the bulk path: issues go out over one pipelined SMTP session, each
message already built as bytes. System mails (confirmation, welcome, tests) go through Flask-Mail instead
(mail/connection.py), which shares `open_smtp` and the outbox below; docs/sending.md says why and what it costs.
"""

import os
import secrets
import smtplib
import socket
import ssl
import time
from pathlib import Path
from typing import Protocol

from ..addresses import has_header_breaker
from .relays import Relay, RelayPool


class DeliveryError(Exception):
    """The transport could not hand the message over."""

    permanent = False

    def __init__(self, reply: str, code: int | None = None):
        super().__init__(reply)
        self.reply = reply[:1000]
        self.code = code


class TransientFailure(DeliveryError):
    """4xx reply, dropped connection, server down: try again later."""


class ServerUnavailable(TransientFailure):
    """No usable SMTP session (refused, dropped, 421) before the message was handed over: safe to retry."""


class PermanentFailure(DeliveryError):
    """5xx reply: this recipient will not get this message."""

    permanent = True


class AmbiguousDelivery(DeliveryError):
    """The connection broke after the whole message was sent but before the server's answer.

    The server may have accepted it: sending again could give the reader the issue twice, so it is not retried.
    """


class Transport(Protocol):
    def send(self, envelope_from: str, recipient: str, raw: bytes) -> None: ...

    def close(self) -> None: ...


def dot_stuffed(raw: bytes) -> bytes:
    """RFC 5321 4.5.2: double a period that starts a line (bytes.replace; smtplib's regex is 10x slower)."""
    stuffed = raw.replace(b"\n.", b"\n..")
    return b"." + stuffed if stuffed.startswith(b".") else stuffed


def failure_from_reply(code: int, message: bytes | str) -> DeliveryError:
    """Map an SMTP reply code to the kind of failure."""
    text = message.decode("utf-8", "replace") if isinstance(message, bytes) else str(message)
    reply = f"{code} {text}".strip()
    return PermanentFailure(reply, code) if 500 <= code < 600 else TransientFailure(reply, code)


def check_envelope(envelope_from: str, recipient: str) -> None:
    """Refuse what cannot go on a pipelined MAIL or RCPT line."""
    if has_header_breaker(envelope_from + recipient) or not (envelope_from + recipient).isascii():
        raise PermanentFailure("the envelope addresses must be plain ASCII addresses on one line")


def open_smtp(server: str, port: int, *, timeout: float, use_ssl: bool = False, use_tls: bool = False,
              username: str = "", password: str = "") -> smtplib.SMTP:
    """An SMTP session, greeted and logged in; every socket read and write gives up after `timeout` seconds.

    TLS (implicit or STARTTLS) verifies the server's certificate against the system's authorities.
    """
    if use_ssl:
        connection = smtplib.SMTP_SSL(server, port, timeout=timeout, context=ssl.create_default_context())
    else:
        connection = smtplib.SMTP(server, port, timeout=timeout)
    try:
        # Commands are written whole, several at once when pipelined: Nagle's algorithm would only hold the
        # next write back until the relay acknowledges the last one (up to a delayed ACK's 40 ms).
        connection.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        connection.ehlo_or_helo_if_needed()
        if use_tls:
            connection.starttls(context=ssl.create_default_context())
            connection.ehlo()
        if username:
            connection.login(username, password)
    except BaseException:
        connection.close()  # a half-open session must not leak its socket
        raise
    return connection


class SmtpTransport:
    """One SMTP connection reused across messages, re-opened after a failure."""

    def __init__(self, server: str, port: int, *, username: str = "", password: str = "",
                 use_tls: bool = False, use_ssl: bool = False, timeout: float = 30.0):
        self.server, self.port, self.timeout = server, port, timeout
        self.username, self.password = username, password
        self.use_tls, self.use_ssl = use_tls, use_ssl
        self.connection: smtplib.SMTP | None = None

    def send(self, envelope_from: str, recipient: str, raw: bytes) -> None:
        """Send one message; raise ServerUnavailable, TransientFailure, PermanentFailure or AmbiguousDelivery.

        A kept connection that turns out dead (servers drop idle sessions) gets one immediate retry on a new one.
        """
        reused = self.connection is not None
        try:
            self._send_once(envelope_from, recipient, raw)
        except ServerUnavailable:
            if not reused:
                raise
            self._send_once(envelope_from, recipient, raw)

    def _send_once(self, envelope_from: str, recipient: str, raw: bytes) -> None:
        # MAIL, RCPT and DATA one by one (not smtplib.sendmail): a broken connection is then known to have
        # happened before the end of the message (safe to retry) or after it (ambiguous: never retried).
        try:
            connection = self.connection or self._open()
        except (smtplib.SMTPException, OSError) as exc:
            self._drop()
            raise ServerUnavailable(f"cannot reach the SMTP server {self.server}:{self.port}: {exc}") from None
        try:
            if connection.has_extn("pipelining"):
                self._envelope_pipelined(connection, envelope_from, recipient)
            else:
                self._expect(connection.mail(envelope_from), (250,))
                self._expect(connection.rcpt(recipient), (250, 251))
                self._expect(connection.docmd("DATA"), (354,))
            connection.send(dot_stuffed(raw) + b"\r\n.\r\n")
        except DeliveryError as failure:
            raise self._after_refusal(failure) from None
        except (smtplib.SMTPException, OSError) as exc:
            self._drop()
            raise ServerUnavailable(f"the SMTP server {self.server}:{self.port} dropped the connection: {exc}") from None
        try:
            code, message = connection.getreply()
        except (smtplib.SMTPException, OSError) as exc:
            self._drop()
            raise AmbiguousDelivery(f"connection lost after the message was sent, before the answer: {exc}") from None
        if code != 250:
            raise self._after_refusal(failure_from_reply(code, message))

    # The pool's stream of messages on one connection (RFC 2920 section 3.1: message content may open a group).
    # A message's content, its end and the next message's envelope go in one write; the replies to them come
    # back together; so each message costs one round trip (the wait for 354), against two for send().
    @property
    def connected(self) -> bool:
        return self.connection is not None

    def pipelines(self) -> bool:
        """Open the connection if needed; True when the server takes pipelined commands.
        Raises ServerUnavailable."""
        try:
            connection = self.connection or self._open()
        except smtplib.SMTPResponseException as exc:  # a refusal in words, e.g. 421 at the greeting
            self._drop()
            words = exc.smtp_error.decode("utf-8", "replace") if isinstance(exc.smtp_error, bytes) else exc.smtp_error
            raise ServerUnavailable(f"{exc.smtp_code} {words}", exc.smtp_code) from None
        except (smtplib.SMTPException, OSError) as exc:
            self._drop()
            raise ServerUnavailable(f"cannot reach the SMTP server {self.server}:{self.port}: {exc}") from None
        return bool(connection.has_extn("pipelining"))

    def write_envelope(self, envelope_from: str, recipient: str, content: bytes | None = None) -> None:
        """Write the previous message's content (if any) and this message's MAIL, RCPT and DATA in one go.
        A failed write loses the content (the server drops an unfinished message): ServerUnavailable."""
        check_envelope(envelope_from, recipient)
        envelope = f"MAIL FROM:<{envelope_from}>\r\nRCPT TO:<{recipient}>\r\nDATA\r\n".encode("ascii")
        self._write((dot_stuffed(content) + b"\r\n.\r\n" if content is not None else b"") + envelope)

    def write_content(self, content: bytes) -> None:
        """Write a message's content and its end, with no envelope after it."""
        self._write(dot_stuffed(content) + b"\r\n.\r\n")

    def read_envelope_replies(self) -> None:
        """The replies to MAIL, RCPT and DATA: return at 354 (the content may go), else raise the refusal."""
        try:
            replies = [self.connection.getreply() for _ in range(3)]
            if replies[2][0] == 354 and (replies[0][0] != 250 or replies[1][0] not in (250, 251)):
                self.connection.send(b".\r\n")  # a lax server opened DATA anyway: close it empty, then report
                self.connection.getreply()
        except (smtplib.SMTPException, OSError, AttributeError) as exc:
            self._drop()
            raise ServerUnavailable(f"the SMTP server {self.server}:{self.port} dropped the connection: {exc}") from None
        try:
            self._expect(replies[0], (250,))
            self._expect(replies[1], (250, 251))
            self._expect(replies[2], (354,))
        except DeliveryError as failure:
            raise self._after_refusal(failure) from None

    def read_content_reply(self) -> None:
        """The answer to a message's content: return when accepted; AmbiguousDelivery when none comes."""
        try:
            code, message = self.connection.getreply()
        except (smtplib.SMTPException, OSError, AttributeError) as exc:
            self._drop()
            raise AmbiguousDelivery(f"connection lost after the message was sent, before the answer: {exc}") from None
        if code != 250:  # the transaction is over either way: no RSET; the next envelope has its own replies
            failure = failure_from_reply(code, message)
            if code == 421:  # the server hangs up: not handed over, safe to send again
                self._drop()
                raise ServerUnavailable(failure.reply, code)
            raise failure

    def abort(self) -> None:
        """Hang up in the middle of a transaction: a server delivers nothing of an unfinished message."""
        self._drop()

    def _write(self, data: bytes) -> None:
        try:
            self.connection.send(data)
        except (smtplib.SMTPException, OSError, AttributeError) as exc:
            self._drop()
            raise ServerUnavailable(f"the SMTP server {self.server}:{self.port} dropped the connection: {exc}") from None

    def _envelope_pipelined(self, connection: smtplib.SMTP, envelope_from: str, recipient: str) -> None:
        """MAIL, RCPT and DATA in one write, then their three replies (RFC 2920): two round trips saved."""
        check_envelope(envelope_from, recipient)
        connection.send(f"MAIL FROM:<{envelope_from}>\r\nRCPT TO:<{recipient}>\r\nDATA\r\n".encode("ascii"))
        replies = [connection.getreply() for _ in range(3)]
        if replies[2][0] == 354 and (replies[0][0] != 250 or replies[1][0] not in (250, 251)):
            connection.send(b".\r\n")  # a lax server opened DATA anyway: close it empty, then report
            connection.getreply()
        self._expect(replies[0], (250,))
        self._expect(replies[1], (250, 251))
        self._expect(replies[2], (354,))

    @staticmethod
    def _expect(reply: tuple[int, bytes], accepted: tuple[int, ...]) -> None:
        code, message = reply
        if code not in accepted:
            raise failure_from_reply(code, message)

    def _after_refusal(self, failure: DeliveryError) -> DeliveryError:
        # A refused transaction leaves the session usable only after RSET; 421 means the server hangs up.
        if failure.code == 421 or failure.code is None:
            self._drop()
            return ServerUnavailable(failure.reply, failure.code) if failure.code == 421 else failure
        try:
            self.connection.rset()
        except (smtplib.SMTPException, OSError, AttributeError):
            self._drop()
        return failure

    def _open(self) -> smtplib.SMTP:
        self.connection = open_smtp(self.server, self.port, timeout=self.timeout, use_ssl=self.use_ssl,
                                    use_tls=self.use_tls, username=self.username, password=self.password)
        return self.connection

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


def make_transport(config: dict, instance_path: str) -> Transport | RelayPool:
    """The transport the settings ask for (MAIL_BACKEND): with SMTP, a pool of connections to the relays
    (mail/relays.py), a pool of one with SEND_CONNECTIONS=1: its connection streams messages (a message's end
    and the next envelope in one write), one round trip a message where send() takes two."""
    if config["MAIL_BACKEND"] != "smtp":
        return OutboxTransport(Path(instance_path) / "outbox")
    relays = [_relay(config, "MAIL_", config["SEND_CONNECTIONS"])]
    if config["MAIL_FALLBACK_SERVER"]:
        relays.append(_relay(config, "MAIL_FALLBACK_", config["SEND_FALLBACK_CONNECTIONS"]))
    return RelayPool(relays, config["SEND_CONNECTIONS"])


def _relay(config: dict, prefix: str, size: int) -> Relay:
    server, port = config[prefix + "SERVER"], config[prefix + "PORT"]

    def connect() -> SmtpTransport:
        return SmtpTransport(server, port, username=config[prefix + "USERNAME"], password=config[prefix + "PASSWORD"],
                             use_tls=config[prefix + "USE_TLS"], use_ssl=config[prefix + "USE_SSL"],
                             timeout=config["MAIL_TIMEOUT"])

    return Relay(f"{server}:{port}", size, connect)
