"""System mails (confirmation, welcome): multipart text + HTML, in the newsletter's language.

They carry `Auto-Submitted: auto-generated` (RFC 3834) and no List-Unsubscribe-Post: they are not list mail.
"""

from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime, make_msgid

import css_inline
from flask import current_app, render_template
from flask_babel import force_locale

from ..models import Newsletter, utcnow
from .headers import header_safe, instance_domain, mailbox

_inliner = css_inline.CSSInliner()


def sender_mailbox(newsletter: Newsletter):
    """The newsletter's From: its sender name (or its name) and address."""
    return mailbox(newsletter.from_name or newsletter.name, newsletter.from_email)


def system_message(kind: str, newsletter: Newsletter, to_address: str, to_name: str, **context) -> EmailMessage:
    """Render templates email/<kind>.txt and .html into a ready message."""
    with force_locale(newsletter.language):
        context.update(newsletter=newsletter, name=to_name)
        text = render_template(f"email/{kind}.txt", **context)
        html = _inliner.inline(render_template(f"email/{kind}.html", **context))
        subject = render_template(f"email/{kind}.subject.txt", **context).strip()
    message = EmailMessage(policy=SMTP)
    message["Subject"] = header_safe(subject, "subject")
    message["From"] = sender_mailbox(newsletter)
    message["To"] = mailbox(to_name, to_address)
    if newsletter.reply_to:
        message["Reply-To"] = mailbox("", newsletter.reply_to)
    message["Date"] = format_datetime(utcnow())
    message["Message-ID"] = make_msgid(domain=instance_domain(current_app.config["BASE_URL"]))
    message["Auto-Submitted"] = "auto-generated"
    message["X-Auto-Response-Suppress"] = "All"  # no out-of-office replies to a confirmation mail
    message.set_content(text)
    message.add_alternative(html, subtype="html")
    return message
