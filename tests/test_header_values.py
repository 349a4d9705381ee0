"""One rule for every value that can reach a mail header (issue 15 V3, V4): whatever str.splitlines() breaks on
and every C0/C1 control is refused with a message, in names, subjects, sender names and reader names, from the
form, the API, the command line and an import; headers are folded so that no line passes 998 octets."""

from email import message_from_bytes
from email.header import decode_header, make_header
from email.policy import default

import pytest
from sqlalchemy import select, update

from newsletter import consent, newsletters, publishing
from newsletter.errors import InvalidInput
from newsletter.extensions import db
from newsletter.models import Subscriber, SystemMail
from tests.support.sending_helpers import confirmed_readers, new_issue, send_to_the_end, start_sending

# Every break str.splitlines() knows, NUL, and other C0/C1 controls.
BREAKERS = ["\r", "\n", "\v", "\f", "\x1c", "\x1d", "\x1e", "\x85", "\u2028", "\u2029", "\x00", "\x01", "\x7f",
            "\x9b"]


@pytest.mark.parametrize("breaker", BREAKERS)
def test_every_line_break_and_control_is_refused_in_a_newsletter_name_and_sender_name(app, newsletter, breaker):
    with pytest.raises(InvalidInput, match="line breaks"):
        newsletters.check_settings(owner=newsletter.owner, slug="other", name=f"Slow{breaker}Mornings")
    with pytest.raises(InvalidInput, match="line breaks"):
        newsletters.check_settings(owner=newsletter.owner, slug="other", name="Slow", from_name=f"Ma{breaker}ya")


@pytest.mark.parametrize("breaker", BREAKERS)
def test_every_line_break_and_control_is_refused_in_a_subject_and_a_reader_name(app, newsletter, breaker):
    with pytest.raises(InvalidInput, match="line breaks"):
        publishing.clean_subject(f"Spring{breaker}notes")
    with pytest.raises(InvalidInput, match="line breaks"):
        consent.subscribe(newsletter, "reader@example.net", f"Zo{breaker}ë", ip=None, source="t", wording="w")
    db.session.rollback()
    assert db.session.scalar(select(Subscriber)) is None


def test_the_subscribe_form_says_what_to_fix_in_a_name(app, newsletter):
    client = app.test_client()
    app.config["WTF_CSRF_ENABLED"] = False
    answer = client.post("/n/slow-mornings/subscribe", data={"email": "reader@example.net", "name": "Zoë\u2028Bcc"})
    assert answer.status_code == 400
    assert "Enter a name on one line, without control characters" in answer.get_data(as_text=True)
    assert db.session.scalar(select(Subscriber)) is None


def test_the_command_line_refuses_a_newsletter_name_with_a_line_separator(app, publisher):
    result = app.test_cli_runner().invoke(args=["newsletters", "create", "deep-rest", "--name", "Deep\u2028Rest",
                                                "--owner", publisher.email])
    assert result.exit_code == 1
    assert "cannot contain line breaks" in result.stderr


def test_a_newsletter_name_with_a_line_separator_never_reaches_a_subscribe(app, newsletter):
    """V3: such a name passed, and every subscribe then answered 500 (Header values may not contain linefeed)."""
    with pytest.raises(InvalidInput):
        publishing.update_newsletter(newsletter, name="Slow\u2028Mornings", from_email=newsletter.from_email)
    db.session.rollback()
    consent.subscribe(newsletter, "reader@example.net", "", ip=None, source="t", wording="w")
    db.session.commit()
    assert db.session.scalar(select(SystemMail.raw)) is not None


def test_names_are_capped_in_bytes(app, newsletter):
    consent.subscribe(newsletter, "ok@example.net", "😀" * 100, ip=None, source="t", wording="w")
    with pytest.raises(InvalidInput, match="400 bytes"):
        consent.subscribe(newsletter, "long@example.net", "😀" * 101, ip=None, source="t", wording="w")
    db.session.rollback()


def test_a_reader_with_200_emoji_as_a_name_still_receives_the_issue(make_app, smtp):
    """V4: formataddr wrote the To: on one ~1,100-octet line; the relay answered 500 Line too long. A name
    stored before the byte cap (or by any other path) must not cost the reader an issue."""
    from tests.conftest import create_demo_newsletter

    app = make_app(START_SENDER=False)
    with app.app_context():
        newsletter = create_demo_newsletter()
        [email] = confirmed_readers(newsletter, 1)
        db.session.execute(update(Subscriber).values(name="😀" * 200))
        issue = new_issue(newsletter)
        start_sending(issue)
        send_to_the_end(app, issue.id)
    [received] = smtp.wait_for(1)
    assert received.recipients == [email]
    raw = received.raw
    assert max(len(line) for line in raw.split(b"\r\n")) <= 998
    to = message_from_bytes(raw)["To"]  # RFC 2047 decoding (the new parser adds spaces between encoded words)
    assert str(make_header(decode_header(to.replace("\r\n", "")))) == "😀" * 200 + f" <{email}>"


def test_a_later_subscribe_does_not_rename_a_pending_reader(app, newsletter):
    consent.subscribe(newsletter, "reader@example.net", "Zoë", ip=None, source="t", wording="w")
    db.session.commit()
    consent.subscribe(newsletter, "reader@example.net", "Cheap pills at pills.example", ip="198.51.100.9",
                      source="t", wording="w")
    db.session.commit()
    assert db.session.scalar(select(Subscriber.name)) == "Zoë"


def test_the_confirmation_mail_does_not_echo_the_name_typed_in_the_form(app, newsletter):
    consent.subscribe(newsletter, "reader@example.net", "Win at http://win.example", ip=None, source="t",
                      wording="w")
    db.session.commit()
    message = message_from_bytes(db.session.scalar(select(SystemMail.raw)), policy=default)
    assert message["To"].addresses[0].display_name == ""
    for part in ("plain", "html"):
        assert "win" not in message.get_body((part,)).get_content().lower()


def test_a_name_in_the_welcome_mail_is_never_a_link(app, newsletter):
    from newsletter.mail.system import system_message

    message = system_message("welcome", newsletter, "reader@example.net", "Win at http://win.example",
                             unsubscribe_url="https://x/u", preferences_url="https://x/p", archive_url="https://x/a")
    text = message_from_bytes(message.as_bytes(), policy=default).get_body(("plain",)).get_content()
    assert "http://win.example" not in text and "win.example" not in text
    assert "Win at http:\u2060/\u2060/\u2060win.\u2060example" in text
