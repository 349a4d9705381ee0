"""A newsletter's own words and look: welcome and confirmation texts, logo, accent colour and postal address,
previewed before saving; the parts the law requires are always added by the app."""

import io

import pytest
from PIL import Image
from sqlalchemy import select

from newsletter import branding, consent, publishing, tokens
from newsletter.errors import InvalidInput
from newsletter.extensions import db
from newsletter.mail.system import system_message
from newsletter.models import Subscription, SystemMail
from tests.support.publishers import login, make_issue, post_form

LOOK = {"welcome_text": "Each issue brings a **breathing** exercise.\n\n<script>alert(1)</script>",
        "confirm_text": "You will get *one* letter a fortnight.", "accent_color": "#7A1F5C",
        "postal_address": "Studio Maya\n12 rue des Lilas\n69001 Lyon"}


@pytest.fixture
def maya(client, newsletter):
    login(client, "maya@example.org")
    return client


def logo_file() -> tuple:
    out = io.BytesIO()
    Image.new("RGB", (400, 100), (20, 60, 90)).save(out, "PNG")
    return io.BytesIO(out.getvalue()), "logo.png"


def test_preview_shows_the_unsaved_welcome_mail_with_the_required_parts(maya, newsletter):
    answer = post_form(maya, f"/admin/n/{newsletter.slug}/branding/preview/welcome", {**LOOK, "logo": logo_file()},
                       content_type="multipart/form-data")
    assert answer.status_code == 200 and "sandbox" in answer.headers["Content-Security-Policy"]
    html = answer.text
    assert "<strong>breathing</strong>" in html and "<script" not in html
    assert "Unsubscribe in one click" in html and "Thank you: you are subscribed to Slow Mornings." in html
    assert "12 rue des Lilas" in html and "#7a1f5c" in html
    assert 'alt="Slow Mornings" width="200" height="50"' in html
    db.session.expire_all()
    assert newsletter.welcome_text == "" and newsletter.logo_key is None  # nothing saved


def test_saved_look_reaches_the_confirmation_and_welcome_mails_and_the_confirm_page(maya, client, newsletter):
    assert post_form(maya, f"/admin/n/{newsletter.slug}/branding", {**LOOK, "logo": logo_file()},
                     content_type="multipart/form-data").status_code == 302
    consent.subscribe(newsletter, "zoe@example.net", "Zoë", ip=None, source="https://x.test", wording="w")
    db.session.commit()
    subscription = db.session.scalars(select(Subscription)).one()
    confirm_mail = db.session.scalars(select(SystemMail).where(SystemMail.kind == "confirm")).one().raw.decode()
    assert "You will get _one_ letter a fortnight." in confirm_mail.replace("=\r\n", "")
    token = consent.token_for(tokens.CONFIRM, subscription)
    page = client.get(f"/confirm/{token}").text
    assert "<em>one</em> letter a fortnight" in page and "Yes, subscribe me" in page
    consent.confirm(token, "192.0.2.1")
    db.session.commit()
    welcome = system_message("welcome", newsletter, "zoe@example.net", "Zoë", unsubscribe_url="https://u.test/u",
                             preferences_url="https://u.test/p", archive_url="https://u.test/a")
    assert "breathing" in welcome.body and "https://u.test/u" in welcome.body and "69001 Lyon" in welcome.body
    assert "/media/" in welcome.html and "https://u.test/u" in welcome.html


def test_issue_mails_carry_the_postal_address_and_accent(newsletter):
    branding.update_branding(newsletter, **LOOK)
    issue = make_issue(newsletter)
    preview = publishing.preview(issue, newsletter.owner)
    assert "12 rue des Lilas" in preview.html and "#7a1f5c" in preview.html
    assert "Studio Maya\n12 rue des Lilas\n69001 Lyon" in preview.text


@pytest.mark.parametrize("changes, message", [
    ({"accent_color": "#ffff00"}, "too light for white text"),
    ({"accent_color": "blue"}, "six hexadecimal digits"),
    ({"postal_address": "\n".join(["line"] * 8)}, "at most 6 lines"),
    ({"welcome_text": "x" * 5001}, "at most 5000 characters"),
])
def test_bad_values_are_refused_and_change_nothing(maya, newsletter, changes, message):
    answer = post_form(maya, f"/admin/n/{newsletter.slug}/branding", {**LOOK, **changes})
    assert answer.status_code == 400 and message in answer.text
    db.session.expire_all()
    assert (newsletter.accent_color, newsletter.welcome_text) == ("", "")


def test_a_junk_logo_is_refused_and_nothing_is_saved(maya, newsletter):
    answer = post_form(maya, f"/admin/n/{newsletter.slug}/branding",
                       {**LOOK, "logo": (io.BytesIO(b"not a picture"), "logo.png")}, content_type="multipart/form-data")
    assert answer.status_code == 400 and "not an image this site can use" in answer.text
    db.session.expire_all()
    assert newsletter.logo_key is None and newsletter.welcome_text == ""


def test_the_contrast_rule_follows_wcag():
    assert round(branding.contrast_with_white("#0b5cad"), 1) == 6.7
    with pytest.raises(InvalidInput):
        branding.check_branding(accent_color="#aaaaaa")
