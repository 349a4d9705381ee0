"""An issue as e-mail: rendered once, then personalised per reader by filling a few slots.

Building a MIME tree per reader costs ~4x the SMTP round trip itself (measured: raw smtplib 650 msg/s, a new
EmailMessage per reader 160 msg/s). So the issue is rendered, CSS-inlined and quoted-printable encoded once,
cut at the personal slots; a reader's message is the join of those pieces with their own few values, each
encoded alone. Quoted-printable allows a soft line break ("=" CRLF) anywhere, so every piece ends with one
and the pieces join without re-encoding. No raw line exceeds 76 octets in the bodies, whatever the content.

Signing follows the same cut: every piece ends with CRLF, so each canonicalises alone (DKIM relaxed body
canonicalisation works line by line). The static pieces and headers are canonicalised once per issue; a
reader's message adds only its own few values, its body hash and one signature.
"""

import binascii
import re
import time
import secrets
from dataclasses import dataclass
from datetime import datetime, timezone
from email.policy import SMTP
from email.utils import format_datetime
from html import escape

import css_inline
from flask import current_app, render_template
from flask_babel import force_locale, format_date

from ..addresses import MAX_NAME_LENGTH, has_header_breaker
from ..feedback.parsers.verp import verp_return_path
from ..content import preheader_text, render_markdown
from ..links import external_url
from ..media import sizes_in
from ..models import Issue
from . import identifiers
from .dkim_signing import DkimSigner, body_hash, canonical_header, canonical_lines, is_relaxed, parse_headers
from .headers import header_safe, instance_domain, list_unsubscribe, mailbox
from .look import look_of

SLOTS = ("unsubscribe_url", "preferences_url", "confirmed_on", "consent_source")
OWN_HEADERS = ("to", "date", "message-id", "list-unsubscribe")  # a reader's own; the other headers are the issue's
_MARK = "\x1eslot:{}\x1e"  # record-separator marks: survive Jinja escaping and CSS inlining, never in content
_inliner = css_inline.CSSInliner()


@dataclass(frozen=True)
class Reader:
    """The personal parts of one message."""

    email: str
    name: str
    unsubscribe_token: str
    preferences_token: str
    confirmed_at: datetime
    consent_source: str
    delivery_id: int | None = None


def qp(text: str) -> bytes:
    """Quoted-printable of a piece, ending with a soft line break so pieces can be joined."""
    encoded = binascii.b2a_qp(text.replace("\r\n", "\n").encode("utf-8"), istext=True)
    return encoded.replace(b"\n", b"\r\n") + b"=\r\n"


def cut(rendered: str) -> list[str | int]:
    """Split a rendering at its slot marks: static text, slot index, static text, ..."""
    pieces: list[str | int] = []
    rest = rendered
    while "\x1eslot:" in rest:
        before, _, after = rest.partition("\x1eslot:")
        name, _, rest = after.partition("\x1e")
        pieces.extend([before, SLOTS.index(name)])
    pieces.append(rest)
    return pieces


class IssueTemplate:
    """One issue, rendered once; `message_for(reader)` returns the finished message as bytes."""

    def __init__(self, issue: Issue, subject_prefix: str = "", signer: DkimSigner | None = None):
        newsletter = issue.newsletter
        self.subject_prefix = subject_prefix
        self.issue_id = issue.id
        self.secret = current_app.config["SECRET_KEY"].encode()
        self.domain = instance_domain(current_app.config["BASE_URL"])
        self.language = newsletter.language
        # A placeholder token, cut off to leave the base of every reader's link (bandit reads "token" as a password).
        self.unsubscribe_base = external_url("public.unsubscribe", token="T")[:-1]  # nosec B106
        self.preferences_base = external_url("public.preferences", token="T")[:-1]  # nosec B106
        self.sender = newsletter.from_email
        self.bounce_address = current_app.config["BOUNCE_ADDRESS"]
        self.boundary = "==nl-" + secrets.token_hex(12)
        content = render_markdown(issue.body_markdown, sizes_in(issue.body_markdown))
        context = self._context(issue, content)
        with force_locale(newsletter.language):
            html = _inliner.inline(render_template("email/issue.html", **context))
            text = render_template("email/issue.txt", **context)
        self.html_bytes = len(html.encode("utf-8"))  # what Gmail measures before clipping (checks.py)
        self.html_pieces = [qp(p) if isinstance(p, str) else p for p in cut(html)]
        self.text_pieces = [qp(p) if isinstance(p, str) else p for p in cut(text)]
        self.head = self._static_headers(issue)
        part = (f"--{self.boundary}\r\nContent-Type: text/{{}}; charset=\"utf-8\"\r\n"
                "Content-Transfer-Encoding: quoted-printable\r\n\r\n")
        self.text_part_head, self.html_part_head = part.format("plain").encode(), part.format("html").encode()
        self.closing = f"--{self.boundary}--\r\n".encode()
        self._dates: dict = {}
        self.signer = signer
        if signer is not None:
            self._prepare_signing()

    def _prepare_signing(self) -> None:
        """Canonicalise once what every reader's message shares."""
        fixed = {name: canonical_header(name, value) for name, value in parse_headers(self.head)}
        self.signing = self.signer.plan(fixed, OWN_HEADERS)
        self.text_canonical = [p if isinstance(p, int) else canonical_lines(p) for p in self.text_pieces]
        self.html_canonical = [p if isinstance(p, int) else canonical_lines(p) for p in self.html_pieces]
        self.text_part_canonical = canonical_lines(self.text_part_head)
        self.html_part_canonical = canonical_lines(b"\r\n" + self.html_part_head)
        # Most issues' encoded pieces are canonical already: their body is then hashed as it is sent.
        self.body_is_canonical = (self.text_canonical == self.text_pieces and self.html_canonical == self.html_pieces
                                  and self.text_part_canonical == self.text_part_head
                                  and self.html_part_canonical == b"\r\n" + self.html_part_head)

    def _context(self, issue: Issue, content) -> dict:
        slots = {name: _MARK.format(name) for name in SLOTS}
        web_url = external_url("public.issue", slug=issue.newsletter.slug, issue_id=issue.id)
        return dict(issue=issue, newsletter=issue.newsletter, content=content, web_url=web_url,
                    look=look_of(issue.newsletter), preheader=issue.preheader or preheader_text(issue.body_markdown),
                    archive_url=external_url("public.newsletter", slug=issue.newsletter.slug), **slots)

    def _static_headers(self, issue: Issue) -> bytes:
        newsletter = issue.newsletter
        slug_host = f"{newsletter.slug}.{self.domain}"
        sender_name = newsletter.from_name or newsletter.name
        folded = [
            _fold("From", str(mailbox(sender_name, newsletter.from_email))),
            _fold("Reply-To", str(mailbox(sender_name, newsletter.reply_to or newsletter.from_email))),
            _fold("Subject", header_safe(self.subject_prefix + issue.subject, "subject")),
            _fold("List-Id", f"{header_safe(newsletter.name, 'name')} <{slug_host}>"),
        ]
        lines = [
            f"List-Archive: <{external_url('public.newsletter', slug=newsletter.slug)}>",
            "List-Unsubscribe-Post: List-Unsubscribe=One-Click",
            # Gmail's feedback loop groups complaints by these fields: issue, newsletter, publisher, instance.
            f"Feedback-ID: {issue.id}:{newsletter.slug}:{newsletter.owner_id}:{self.domain}",
            "Precedence: list",
            "MIME-Version: 1.0",
            f'Content-Type: multipart/alternative; boundary="{self.boundary}"',
        ]
        return "".join(folded).encode("ascii") + "\r\n".join(lines).encode("ascii") + b"\r\n"

    def message_for(self, reader: Reader) -> bytes:
        """The whole message for one reader, ready for SMTP (DKIM-signed when the template has a signer)."""
        values = self._values(reader)
        html_values = [qp(escape(value)) for value in values]
        text_values = [qp(value) for value in values]
        to, date, message_id, unsubscribe = self._personal_headers(reader, values[0])
        folded = unsubscribe.replace(", <mailto:", ",\r\n <mailto:")  # long tokens
        personal = f"To: {to}\r\nDate: {date}\r\nMessage-ID: {message_id}\r\nList-Unsubscribe: {folded}\r\n"
        body = b"".join([
            self.text_part_head, _join(self.text_pieces, text_values), b"\r\n",
            self.html_part_head, _join(self.html_pieces, html_values), b"\r\n",
            self.closing,
        ])
        if self.signer is None:
            return b"".join([self.head, personal.encode("ascii"), b"\r\n", body])
        # The reader's own signed lines, in OWN_HEADERS order, canonical as they are in the common case.
        own = f"to:{to}\r\ndate:{date}\r\nmessage-id:{message_id}\r\nlist-unsubscribe:{unsubscribe}\r\n"
        if not is_relaxed(own, len(OWN_HEADERS)):
            own = "".join(canonical_header(name, value.encode("ascii")).decode("ascii")
                          for name, value in zip(OWN_HEADERS, (to, date, message_id, unsubscribe)))
        signature = self.signing.headers(own.encode("ascii"), body_hash(self._canonical_body(body, text_values,
                                                                                              html_values)))
        return b"".join([signature, self.head, personal.encode("ascii"), b"\r\n", body])

    def _canonical_body(self, body: bytes, text_values: list[bytes], html_values: list[bytes]) -> bytes:
        if self.body_is_canonical:
            values = b"".join(text_values + html_values)  # whole lines each: they canonicalise together
            if canonical_lines(values) is values:
                return body
        return b"".join([
            self.text_part_canonical, _join(self.text_canonical, [canonical_lines(v) for v in text_values]),
            self.html_part_canonical, _join(self.html_canonical, [canonical_lines(v) for v in html_values]),
            b"\r\n" + self.closing,
        ])

    def _values(self, reader: Reader) -> list[str]:
        return [self.unsubscribe_base + reader.unsubscribe_token, self.preferences_base + reader.preferences_token,
                self._date(reader.confirmed_at.date()), reader.consent_source]

    def _date(self, day) -> str:
        # Formatting a date in the reader's language costs more than the rest of a message: once per day.
        text = self._dates.get(day)
        if text is None:
            with force_locale(self.language):
                text = self._dates[day] = format_date(day, "long")
        return text

    def _personal_headers(self, reader: Reader, unsubscribe_url: str) -> tuple[str, str, str, str]:
        """The values of the reader's own headers, OWN_HEADERS."""
        name = "" if has_header_breaker(reader.name) else reader.name
        return (_to_header(name, reader.email), _date_header(), f"<{self.message_id(reader.delivery_id)}>",
                list_unsubscribe(unsubscribe_url, reader.unsubscribe_token, self.domain))

    def envelope_from(self, delivery_id: int | None) -> str:
        """The SMTP return path: a VERP address naming the delivery when BOUNCE_ADDRESS is set."""
        if not self.bounce_address or delivery_id is None:
            return self.sender
        return verp_return_path(self.bounce_address, identifiers.verp_delivery_token(self.secret, delivery_id))

    def message_id(self, delivery_id: int | None) -> str:
        """d<delivery>.i<issue>.<signature>@domain: a bounce quoting it names its delivery, unforgeably."""
        if delivery_id is None:
            return f"t{secrets.token_hex(8)}.i{self.issue_id}@{self.domain}"
        return f"{identifiers.message_id_local(self.secret, delivery_id, self.issue_id)}@{self.domain}"


_PLAIN_NAME = re.compile(r"[A-Za-z0-9 ._-]*")
_clock = {"second": None, "text": ""}


def _to_header(name: str, email: str) -> str:
    """The To value. A plain name (at most MAX_NAME_LENGTH characters) fits on one line as it is; any other
    goes through the email package, which encodes and folds it (formataddr does not fold: 200 emoji made a
    1,100-octet line that relays refuse)."""
    if _PLAIN_NAME.fullmatch(name) and len(name) <= MAX_NAME_LENGTH:  # the common case, without the email package
        return f"{name} <{email}>" if name else email
    return _fold("To", str(mailbox(name, email))).removeprefix("To: ").removesuffix("\r\n")


def _date_header() -> str:
    # RFC 5322 dates have one-second resolution: format once per second. A numeric zone (+0000), not the
    # obsolete "GMT" form (RFC 5322 section 4.3).
    second = int(time.time())
    if _clock["second"] != second:
        _clock["text"] = format_datetime(datetime.fromtimestamp(second, timezone.utc))
        _clock["second"] = second
    return _clock["text"]


def _fold(name: str, value: str) -> str:
    """A header line as the email package writes it: folded, non-ASCII as RFC 2047 encoded words."""
    return SMTP.header_factory(name, value).fold(policy=SMTP)


def _join(pieces: list, values: list[bytes]) -> bytes:
    return b"".join(values[p] if isinstance(p, int) else p for p in pieces)
