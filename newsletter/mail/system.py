"""System mails (confirmation, welcome): Flask-Mail messages, multipart text + HTML, in the newsletter's language.

They carry `Auto-Submitted: auto-generated` (RFC 3834) and no List-Unsubscribe-Post: they are not list mail.
"""

import re
from email.charset import QP, Charset
from email.headerregistry import Address
from email.mime.text import MIMEText
from email.policy import SMTP
from email.utils import make_msgid

import css_inline
import flask_mail
from flask import current_app, render_template
from flask_babel import force_locale

from ..feedback.parsers.verp import verp_return_path
from ..models import Newsletter
from .identifiers import verp_reader_token
from .headers import header_safe, instance_domain, mailbox
from .look import look_of

_inliner = css_inline.CSSInliner()
_LINK_JOINTS = re.compile(r"([.:/@])(?=\S)")
_UTF8_QP = Charset("utf-8")
_UTF8_QP.body_encoding = QP


class SystemMessage(flask_mail.Message):
    """Flask-Mail's Message, shaped as mail clients and RFC 5322 expect.

    Flask-Mail 0.10 sends UTF-8 bodies as unwrapped 8bit (a long link breaks the 998-octet line limit), wraps
    text + HTML in multipart/mixed even without attachments, and writes names as pre-encoded strings that the
    email package re-parses when a line is long, splitting a name with a comma into bogus addresses. Here
    bodies are quoted-printable, the multipart/alternative part is the message itself (RFC 2046 5.1.4), and
    the subject and addresses are header objects that the email package encodes (RFC 2047) and folds itself.
    """

    def _mimetext(self, text: str | None, subtype: str = "plain") -> MIMEText:
        return MIMEText(text or "", subtype, _UTF8_QP)

    def _message(self):
        message = super()._message()
        if self.attachments or not message.is_multipart():
            return message
        [alternative] = message.get_payload()
        for name, value in message.raw_items():  # as Flask-Mail wrote them; items() would re-parse
            if name.lower() not in ("content-type", "mime-version"):
                alternative[name] = value
        alternative.policy = message.policy
        return self._with_header_objects(alternative)

    def _with_header_objects(self, message):
        message.replace_header("Subject", self.subject)
        message.replace_header("From", _address(self.sender))
        message.replace_header("To", [_address(item) for item in self.recipients])
        if self.reply_to:
            message.replace_header("Reply-To", _address(self.reply_to))
        return message


def system_message(kind: str, newsletter: Newsletter, to_address: str, to_name: str, unsubscribe: str = "",
                   **context) -> SystemMessage:
    """Render templates email/<kind>.txt, .html and .subject.txt into a Flask-Mail message; `unsubscribe`, a
    List-Unsubscribe value for a reader who is subscribed (the welcome mail)."""
    with force_locale(newsletter.language):
        context.update(newsletter=newsletter, name=unlinked(to_name), look=look_of(newsletter))
        text = render_template(f"email/{kind}.txt", **context)
        html = _inliner.inline(render_template(f"email/{kind}.html", **context))
        subject = render_template(f"email/{kind}.subject.txt", **context).strip()
    message = SystemMessage(
        subject=header_safe(subject, "subject"),
        recipients=[_pair(mailbox(to_name, to_address))],
        body=text,
        html=html,
        reply_to=_pair(mailbox("", newsletter.reply_to)) if newsletter.reply_to else None,
        extra_headers={
            "Auto-Submitted": "auto-generated",
            "X-Auto-Response-Suppress": "All",  # no out-of-office replies to a confirmation mail
        },
    )
    if unsubscribe:  # without List-Unsubscribe-Post: system mail is not list mail (SPEC)
        message.extra_headers["List-Unsubscribe"] = header_safe(unsubscribe, "unsubscribe link")
    # Set after construction: Message() turns a (name, address) sender into "name <address>" and parses it
    # back, which loses a name with a comma ("Smith, Jo" becomes the address "Smith").
    message.sender = _pair(mailbox(newsletter.from_name or newsletter.name, newsletter.from_email))
    message.msgId = make_msgid(domain=instance_domain(current_app.config["BASE_URL"]))
    return message


def unlinked(name: str) -> str:
    """A reader's name as mail text that no client turns into a link: a word joiner (U+2060, invisible) after
    each dot, colon, slash and @ inside it breaks what link detectors look for ("win.example", "http://")."""
    return _LINK_JOINTS.sub("\\1\u2060", name)


def return_path(newsletter: Newsletter, subscriber_id: int | None) -> str:
    """The envelope sender of a system mail: BOUNCE_ADDRESS with the reader's signed token (VERP), so that a
    bounce is processed like an issue's; the newsletter's own address when no bounce address is set."""
    bounce = current_app.config["BOUNCE_ADDRESS"]
    if not bounce:
        return newsletter.from_email
    if subscriber_id is None:  # a publisher's test: nobody to mark, but not the From's mailbox either
        return bounce
    return verp_return_path(bounce, verp_reader_token(current_app.config["SECRET_KEY"].encode(), subscriber_id))


def _pair(address: Address) -> tuple[str, str]:
    return address.display_name, address.addr_spec


def _address(value: str | tuple[str, str]) -> Address:
    if isinstance(value, tuple):
        return Address(display_name=value[0], addr_spec=value[1])
    return SMTP.header_factory("To", value).addresses[0]  # "Name <address>", as Flask-Mail also accepts
