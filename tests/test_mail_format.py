"""System mails, checked as raw bytes: encodings, line lengths, one Date and Message-ID, no header injection."""

from email import message_from_bytes
from email.policy import default

import pytest
from sqlalchemy import select

from newsletter import consent
from newsletter.errors import InvalidInput
from newsletter.mail.headers import mailbox
from newsletter.mail.system import system_message
from newsletter.models import SystemMail
from newsletter.extensions import db


def raw_confirmation(newsletter, name="Zoë") -> bytes:
    consent.subscribe(newsletter, "reader@example.net", name, ip=None, source="t", wording="w")
    db.session.commit()
    return db.session.scalar(select(SystemMail.raw))


def headers_of(raw: bytes) -> list[bytes]:
    head = raw.split(b"\r\n\r\n", 1)[0]
    return [line for line in head.split(b"\r\n") if not line.startswith((b" ", b"\t"))]


def test_one_date_and_one_message_id_on_the_instance_domain(app, newsletter):
    raw = raw_confirmation(newsletter)
    names = [line.split(b":", 1)[0].lower() for line in headers_of(raw)]
    assert names.count(b"date") == 1 and names.count(b"message-id") == 1
    message_id = next(line for line in headers_of(raw) if line.lower().startswith(b"message-id"))
    assert message_id.endswith(b"@news.example.test>")


def test_lines_are_crlf_and_short(app, newsletter):
    raw = system_message("welcome", newsletter, "reader@example.net", "Ünïcödé " * 20 + "😀" * 200,
                         unsubscribe_url="https://x/u", preferences_url="https://x/p", archive_url="https://x/a").as_bytes()
    assert b"\n" not in raw.replace(b"\r\n", b"")
    assert max(len(line) for line in raw.split(b"\r\n")) <= 998


def test_long_line_in_a_system_mail_is_wrapped_by_the_transfer_encoding(app, newsletter):
    raw = system_message("confirm", newsletter, "r@example.net", "", confirm_url="https://x/" + "a" * 5000).as_bytes()
    assert max(len(line) for line in raw.split(b"\r\n")) <= 998
    text = message_from_bytes(raw, policy=default).get_body(("plain",)).get_content()
    assert "https://x/" + "a" * 5000 in text


def test_headers_are_ascii_with_encoded_words(app, newsletter):
    raw = system_message("welcome", newsletter, "reader@example.net", "Zoë Ångström", unsubscribe_url="https://x/u",
                         preferences_url="https://x/p", archive_url="https://x/a").as_bytes()
    head = raw.split(b"\r\n\r\n", 1)[0]
    assert all(byte < 128 for byte in head)
    assert b"=?utf-8?" in head


@pytest.mark.parametrize("name, address", [
    ("Eve\r\nBcc: victim@example.org", "eve@example.org"),
    ("Eve", "eve@example.org\r\nBcc: victim@example.org"),
    ("Eve\nX-Injected: 1", "eve@example.org"),
    ("Eve\x00", "eve@example.org"),
])
def test_header_breakers_are_refused(name, address):
    with pytest.raises(InvalidInput):
        mailbox(name, address)


def test_newsletter_settings_cannot_break_headers(app, newsletter):
    newsletter.from_name = "Maya\r\nBcc: victim@example.org"
    with pytest.raises(InvalidInput):
        system_message("confirm", newsletter, "r@example.net", "", confirm_url="https://x/c")
    db.session.rollback()


@pytest.mark.parametrize("raw", [b".starts\r\nmiddle\r\n.line\r\n..two\r\nend.", b"no dots\r\n", b".", b"\r\n.\r\n"])
def test_dot_stuffing_matches_smtplib(raw):
    import smtplib

    from newsletter.mail.transport import dot_stuffed

    assert dot_stuffed(raw) == smtplib._quote_periods(raw)


def test_a_long_sender_name_with_a_comma_stays_one_address(app, newsletter):
    newsletter.from_name = "Smith, Jo Zoë, " + "notes from a long way off " * 3
    sender = message_from_bytes(raw_confirmation(newsletter), policy=default)["From"]
    assert [address.addr_spec for address in sender.addresses] == ["maya@example.org"]
    assert sender.addresses[0].display_name.startswith("Smith, Jo Zoë, notes")
