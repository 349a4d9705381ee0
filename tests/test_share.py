"""Growing without importing: the share page (link, QR code, a message to copy) stores nobody's address."""

import io

import pytest
from sqlalchemy import func, select

from newsletter.models import Subscriber
from newsletter.extensions import db
from tests.support.publishers import login


@pytest.fixture
def maya(client, newsletter):
    login(client, "maya@example.org")
    return client


def test_share_page_gives_the_link_an_inline_qr_code_and_a_message(maya, newsletter):
    page = maya.get(f"/admin/n/{newsletter.slug}/share")
    assert page.status_code == 200
    assert 'value="https://news.example.test/n/slow-mornings"' in page.text
    assert "<svg" in page.text and "<title>QR code of the subscribe link of Slow Mornings</title>" in page.text
    assert "you can subscribe here: https://news.example.test/n/slow-mornings" in page.text
    assert "I will not add you myself" in page.text


def test_qr_png_downloads_and_encodes_the_subscribe_link(maya, newsletter):
    answer = maya.get(f"/admin/n/{newsletter.slug}/share/qr.png")
    assert answer.status_code == 200 and answer.mimetype == "image/png"
    assert answer.data.startswith(b"\x89PNG") and "attachment" in answer.headers["Content-Disposition"]


def test_qr_code_holds_exactly_the_subscribe_url(app, newsletter):
    import segno
    from newsletter import sharing

    expected = segno.make("https://news.example.test/n/slow-mornings", error="m")
    buffer = io.BytesIO()
    expected.save(buffer, kind="png", scale=sharing.QR_PNG_SCALE, border=4)
    assert sharing.qr_png(newsletter) == buffer.getvalue()


def test_personal_message_is_in_the_newsletters_language(app, publisher):
    from newsletter import sharing
    from tests.conftest import create_demo_newsletter

    french = create_demo_newsletter(slug="carnet", language="fr")
    message = sharing.personal_message(french)
    assert "https://news.example.test/n/carnet" in message and "Hélène Côté" in message


def test_share_pages_store_nothing(maya, newsletter):
    maya.get(f"/admin/n/{newsletter.slug}/share")
    maya.get(f"/admin/n/{newsletter.slug}/share/qr.png")
    assert db.session.scalar(select(func.count(Subscriber.id))) == 0
