"""What a new publisher meets first: the outbox shows mail as it is (links that work, the HTML part rendered),
the web version shows an issue's images, and small wording and layout promises hold."""

import pytest

from newsletter import accounts, publishing
from newsletter.content import render_markdown
from newsletter.extensions import db
from newsletter.mail.outbox import outbox_folder
from newsletter.mail.transport import OutboxTransport
from tests.support.publishers import login, make_issue, post_form, publish
from tests.support.readers import subscribe

MAIL = (b"From: a@example.org\r\nTo: b@example.net\r\nSubject: Please confirm\r\n"
        b"Date: Mon, 23 Nov 2026 10:00:00 +0000\r\nMIME-Version: 1.0\r\n"
        b"Content-Type: multipart/alternative; boundary=b\r\n\r\n"
        b"--b\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
        b"Open https://news.example.test/confirm/abc. Then <b>relax</b>.\r\n"
        b"--b\r\nContent-Type: text/html; charset=utf-8\r\n\r\n"
        b"<html><head><title>x</title></head><body><a href=\"https://news.example.test/confirm/abc\">Confirm</a>"
        b"</body></html>\r\n--b--\r\n")


@pytest.fixture
def admin_client(app, client):
    accounts.create_user("admin@example.org", "an admin password", admin=True)
    db.session.commit()
    OutboxTransport(outbox_folder(app.instance_path)).send("a@example.org", "b@example.net", MAIL)
    login(client, "admin@example.org", "an admin password")
    return client


def outbox_name(client) -> str:
    return client.get("/admin/outbox").text.split("/admin/outbox/")[1].split('"')[0]


def test_outbox_text_part_urls_are_links_and_text_stays_escaped(admin_client):
    page = admin_client.get(f"/admin/outbox/{outbox_name(admin_client)}").text
    assert ('<a href="https://news.example.test/confirm/abc" target="_blank" rel="noopener noreferrer">'
            "https://news.example.test/confirm/abc</a>. Then &lt;b&gt;relax&lt;/b&gt;.") in page


def test_outbox_html_part_opens_its_links_in_a_new_tab_not_in_the_frame(admin_client):
    name = outbox_name(admin_client)
    page = admin_client.get(f"/admin/outbox/{name}").text
    assert 'sandbox="allow-popups allow-popups-to-escape-sandbox"' in page and "allow-scripts" not in page
    frame = admin_client.get(f"/admin/outbox/{name}/html")
    assert '<head><base target="_blank"><title>' in frame.text
    policy = frame.headers["Content-Security-Policy"]
    assert "sandbox allow-popups allow-popups-to-escape-sandbox" in policy and "script-src" not in policy
    assert frame.headers["X-Frame-Options"] == "SAMEORIGIN"


def test_web_version_policy_allows_the_https_origins_of_its_images_only(client, newsletter):
    issue = publish(newsletter, "With pictures", "A photo of the studio.\n\n"
                    "![The studio](https://images.example.org/studio.jpg)\n\n![old](http://insecure.example/a.png)")
    answer = client.get(f"/n/{newsletter.slug}/issues/{issue.id}")
    policy = answer.headers["Content-Security-Policy"]
    assert "img-src 'self' data: https://images.example.org;" in policy
    assert "insecure.example" not in policy
    other = client.get(f"/n/{newsletter.slug}").headers["Content-Security-Policy"]
    assert "images.example.org" not in other  # only the page that shows the image allows it


def test_images_of_known_size_carry_width_and_height_at_mail_width():
    content = render_markdown("![a](https://n.test/media/a.png) ![b](https://n.test/media/b.png)",
                              {"https://n.test/media/a.png": (1200, 800), "https://n.test/media/b.png": (300, 200)})
    assert 'src="https://n.test/media/a.png" alt="a" width="600" height="400"' in content.html
    assert 'alt="b" width="300" height="200"' in content.html


def test_a_two_line_signature_keeps_its_line_break_in_both_parts():
    content = render_markdown("See you soon.\n\nMaya\nYoga teacher")
    assert "<p>Maya<br>\nYoga teacher</p>" in content.html
    assert content.text.endswith("Maya\nYoga teacher\n")


def test_a_second_send_from_a_stale_tab_answers_the_issue_page(client, newsletter):
    issue = make_issue(newsletter)
    login(client, "maya@example.org")
    publishing.start_sending(issue)
    db.session.commit()
    answer = post_form(client, f"/admin/issues/{issue.id}/send", {"confirmed": "1"}, follow_redirects=True)
    assert answer.status_code == 200
    assert "already sent or scheduled (perhaps from another tab)" in answer.text


def test_unsubscribe_page_says_the_reader_is_already_paused_and_asks_the_reason_before_the_button(
        client, newsletter, smtp):
    from newsletter import consent
    from newsletter.models import Subscription
    subscribe(client, newsletter.slug, "reader@example.net")
    subscription = db.session.scalars(db.select(Subscription)).one()
    subscription.status, subscription.confirmed_at = "confirmed", subscription.consent_at
    consent.pause(subscription, 1)
    db.session.commit()
    page = client.get(f"/unsubscribe/{consent.token_for('unsubscribe', subscription)}").text
    assert "You are taking a break already" in page and "Pause for 1 month" not in page
    assert page.index("Tell the author why") < page.index('class="button primary">Unsubscribe')


def test_mails_say_whole_sentences(client, newsletter, smtp):
    from newsletter.mail.system import system_message
    confirm = system_message("confirm", newsletter, "r@example.net", "", confirm_url="https://x.test/c")
    welcome = system_message("welcome", newsletter, "r@example.net", "", unsubscribe_url="u", preferences_url="p",
                             archive_url="a")
    assert "asked for Slow Mornings to be sent to this address. It is written by Maya." in confirm.body
    assert "Thank you: you are subscribed to Slow Mornings. It comes about every two weeks." in welcome.body


def test_rates_read_as_whole_numbers_in_the_pages_language(app):
    from flask_babel import force_locale

    from newsletter.web.formatting import number
    with app.test_request_context("/"):
        assert number(180000.0) == "180,000" and number(None) == "–"
        with force_locale("fr"):
            assert number(180000.0).replace("\u202f", " ").replace("\xa0", " ") == "180 000"
