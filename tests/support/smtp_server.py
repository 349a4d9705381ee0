"""A real SMTP server on loopback (aiosmtpd) that records what it receives and can misbehave on purpose."""

import socket
import threading
from dataclasses import dataclass, field
from email import message_from_bytes, policy

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP


@dataclass
class Received:
    envelope_from: str
    recipients: list[str]
    raw: bytes

    @property
    def message(self):
        return message_from_bytes(self.raw, policy=policy.default)


@dataclass
class Recorder:
    """aiosmtpd handler: stores messages; `replies` lets a test script failures (e.g. 451 then 250)."""

    messages: list[Received] = field(default_factory=list)
    replies: list[str] = field(default_factory=list)  # consumed one per DATA; empty = "250 OK"
    # consumed one per MAIL command: "ok", "421" (answer 421 and hang up), "drop" (hang up without a word),
    # "451rcpt" (answer 451 to RCPT): how a relay misbehaves
    mail_script: list[str] = field(default_factory=list)
    # A receiving domain's refusal of every recipient there, e.g. {"example.com": "550 5.7.26 ..."}: how a
    # provider refuses a sender whose authentication fails, answered to RCPT as the relay passes it on.
    domain_replies: dict[str, str] = field(default_factory=dict)
    refused_rcpts: list[str] = field(default_factory=list)  # the recipients refused that way
    on_message: object = None  # called with each Received, outside the lock
    pipelining: bool = True  # advertise RFC 2920 PIPELINING, as Postfix does
    max_sessions: int = 0  # answer 421 "too many connections" to a session beyond this many at once (0: none)
    sessions: int = 0  # open now
    peak_sessions: int = 0  # the most open at once
    refused_sessions: int = 0
    opened_sessions: int = 0  # opened since the test began: how many connections the senders used
    condition: threading.Condition = field(default_factory=threading.Condition)

    async def handle_EHLO(self, server, session, envelope, hostname, responses):
        session.host_name = hostname
        if self.pipelining:
            responses.insert(len(responses) - 1, "250-PIPELINING")
        return responses

    async def handle_MAIL(self, server, session, envelope, address, mail_options):
        with self.condition:
            action = self.mail_script.pop(0) if self.mail_script else "ok"
        if action in ("421", "drop"):
            server.transport.close()
            return "421 4.3.2 Service shutting down"
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        envelope.rcpt_script = action
        return "250 OK"

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if getattr(envelope, "rcpt_script", "ok") == "451rcpt":
            return "451 4.7.1 Greylisted, try again later"
        with self.condition:
            refusal = self.domain_replies.get(address.rpartition("@")[2].lower())
            if refusal:
                self.refused_rcpts.append(address)
        if refusal:
            return refusal
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        with self.condition:
            reply = self.replies.pop(0) if self.replies else "250 OK"
            if reply == "drop":
                # Keep the message, then hang up before answering: the client cannot know it was accepted.
                self.messages.append(Received(envelope.mail_from, list(envelope.rcpt_tos), envelope.original_content))
                self.condition.notify_all()
                server.transport.close()
                return "421 closing"
            if not reply.startswith("250"):
                return reply
            received = Received(envelope.mail_from, list(envelope.rcpt_tos), envelope.original_content)
            self.messages.append(received)
            self.condition.notify_all()
        if self.on_message is not None:
            self.on_message(received)
        return "250 OK"

    def wait_for(self, count: int, timeout: float = 10.0) -> list[Received]:
        """Block until at least `count` messages arrived; fail the test after `timeout` seconds."""
        with self.condition:
            arrived = self.condition.wait_for(lambda: len(self.messages) >= count, timeout)
        if not arrived:
            raise AssertionError(f"expected {count} message(s) at the SMTP server, got {len(self.messages)}")
        return list(self.messages)

    def to(self, address: str) -> list[Received]:
        with self.condition:
            return [m for m in self.messages if address in m.recipients]


class CountingSMTP(SMTP):
    """aiosmtpd's server, counting its sessions, and refusing those beyond Recorder.max_sessions as a relay
    with a connection limit does (Postfix's smtpd_client_connection_count_limit answers 421 at the greeting)."""

    async def _handle_client(self):
        recorder = self.event_handler
        with recorder.condition:
            recorder.sessions += 1
            recorder.opened_sessions += 1
            recorder.peak_sessions = max(recorder.peak_sessions, recorder.sessions)
            refused = bool(recorder.max_sessions) and recorder.sessions > recorder.max_sessions
            recorder.refused_sessions += refused
        try:
            if refused:
                await self.push("421 4.7.0 Error: too many connections from 127.0.0.1")
                self.transport.close()
                return
            await super()._handle_client()
        finally:
            with recorder.condition:
                recorder.sessions -= 1


class CountingController(Controller):
    def factory(self):
        return CountingSMTP(self.handler, **self.SMTP_kwargs)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class SmtpServer:
    def __init__(self):
        self.recorder = Recorder()
        self.port = free_port()
        # decode_data=False keeps the raw bytes, so tests see exactly what went over the wire.
        self.controller = CountingController(self.recorder, hostname="127.0.0.1", port=self.port, decode_data=False,
                                     data_size_limit=50 * 1024 * 1024)

    def start(self) -> "SmtpServer":
        self.controller.start()
        return self

    def stop(self) -> None:
        self.controller.stop()


class SilentServer:
    """A TCP server on loopback that accepts every connection and never says a word (a hung relay)."""

    def __init__(self):
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.accepted: list[socket.socket] = []
        self.thread = threading.Thread(target=self._accept, daemon=True)

    def _accept(self) -> None:
        while True:
            try:
                connection, _ = self.listener.accept()
            except OSError:  # closed by stop()
                return
            self.accepted.append(connection)

    def __enter__(self) -> "SilentServer":
        self.thread.start()
        return self

    def __exit__(self, *_exc) -> None:
        self.listener.shutdown(socket.SHUT_RDWR)  # wakes the blocked accept() (close alone does not, on Linux)
        self.listener.close()
        for connection in self.accepted:
            connection.close()
        self.thread.join(5)


class PipeliningProbe:
    """A minimal SMTP server on loopback that tells whether a client streams: before it answers a message's
    end (the lone dot), it waits up to `wait` seconds for the next command. A client that pipelines across
    messages has already written the next MAIL with the dot; one that waits for the answer has not, and the
    probe answers after the wait. `streamed` holds, per message, whether its end came with the next MAIL."""

    def __init__(self, wait: float = 1.0):
        self.wait = wait
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.streamed: list[bool] = []
        self.recipients: list[str] = []
        self.thread = threading.Thread(target=self._accept, daemon=True)

    def __enter__(self) -> "PipeliningProbe":
        self.thread.start()
        return self

    def __exit__(self, *_exc) -> None:
        self.listener.shutdown(socket.SHUT_RDWR)
        self.listener.close()
        self.thread.join(5)

    def _accept(self) -> None:
        while True:
            try:
                connection, _ = self.listener.accept()
            except OSError:  # closed by __exit__
                return
            threading.Thread(target=self._session, args=(connection,), daemon=True).start()

    def _session(self, connection: socket.socket) -> None:
        with connection:
            stream = _Lines(connection)
            connection.sendall(b"220 probe ESMTP\r\n")
            while (line := stream.line()) is not None:
                verb = line[:4].upper()
                if verb == b"EHLO":
                    connection.sendall(b"250-probe\r\n250-PIPELINING\r\n250 8BITMIME\r\n")
                elif verb == b"RCPT":
                    self.recipients.append(line.split(b"<", 1)[1].split(b">", 1)[0].decode())
                    connection.sendall(b"250 OK\r\n")
                elif verb == b"DATA":
                    connection.sendall(b"354 go on\r\n")
                    while (body := stream.line()) not in (b".", None):
                        pass
                    self.streamed.append(stream.more_within(self.wait))
                    connection.sendall(b"250 queued\r\n")
                elif verb == b"QUIT":
                    connection.sendall(b"221 bye\r\n")
                    return
                else:  # MAIL, RSET, NOOP
                    connection.sendall(b"250 OK\r\n")


class _Lines:
    """Lines read from a socket, with a look at whether more bytes are already there or come soon."""

    def __init__(self, connection: socket.socket):
        self.connection, self.buffer = connection, b""

    def line(self) -> bytes | None:
        while b"\r\n" not in self.buffer:
            if not self._read(None):
                return None
        line, self.buffer = self.buffer.split(b"\r\n", 1)
        return line

    def more_within(self, seconds: float) -> bool:
        return bool(self.buffer) or self._read(seconds)

    def _read(self, timeout: float | None) -> bool:
        self.connection.settimeout(timeout)
        try:
            data = self.connection.recv(65536)
        except (TimeoutError, OSError):
            return False
        self.buffer += data
        return bool(data)
