"""Who a newsletter sends as: a From that DMARC would fail is refused when a newsletter is created or edited
(command line and page), with the reason and the fix; the default From is slug@SENDING_DOMAIN with replies to
the publisher; a newsletter without a signing key says on its page that its mail is unauthenticated."""

import pytest
from sqlalchemy import func, select

from newsletter import accounts, newsletters, sending_domains
from newsletter.errors import InvalidInput
from newsletter.extensions import db
from newsletter.models import Newsletter
from tests.support.publishers import login, post_form


@pytest.fixture
def cli(app):
    runner = app.test_cli_runner()
    return lambda *args: runner.invoke(args=list(args))


@pytest.fixture
def operator_app(make_app, smtp):
    """An instance whose operator has a sending domain of their own: signing is configured."""
    app = make_app(START_SENDER=False, SENDING_DOMAIN="letters.example.net")
    with app.app_context():
        accounts.create_user("maya@example.org", "a long enough password")
        db.session.commit()
        yield app


@pytest.mark.parametrize("address", ["someone@gmail.com", "Maya.Yoga@Orange.fr", "hello@yahoo.fr",
                                     "coach@outlook.com"])
def test_a_free_mail_from_is_refused_on_the_command_line_with_the_reason_and_the_fix(cli, publisher, address):
    result = cli("newsletters", "create", "slow", "--name", "Slow", "--owner", "maya@example.org",
                 "--from-email", address)
    assert result.exit_code == 1
    domain = address.rpartition("@")[2].lower()
    assert f"{domain} is a free-mail provider" in result.stderr and "fails DMARC" in result.stderr
    assert "your own domain" in result.stderr and "through Reply-To" in result.stderr
    assert db.session.scalar(select(func.count(Newsletter.id))) == 0


def test_a_free_mail_from_is_refused_on_the_settings_page_and_nothing_changes(app, publisher, newsletter):
    client = app.test_client()
    login(client, "maya@example.org")
    page = post_form(client, f"/admin/n/{newsletter.slug}/settings", {
        "name": newsletter.name, "cadence": "monthly", "language": "en", "from_email": "maya.yoga@gmail.com"})
    assert page.status_code == 400
    assert "gmail.com is a free-mail provider" in page.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(Newsletter, newsletter.id).from_email == "maya@example.org"


def test_a_free_mail_from_is_refused_on_the_new_newsletter_page(app, publisher):
    client = app.test_client()
    login(client, "maya@example.org")
    page = post_form(client, "/admin/newsletters/new", {
        "slug": "slow", "name": "Slow", "cadence": "monthly", "language": "en", "from_email": "me@hotmail.fr"})
    assert page.status_code == 400 and "hotmail.fr is a free-mail provider" in page.get_data(as_text=True)


def test_the_default_from_is_at_the_operators_domain_with_replies_to_the_publisher(operator_app):
    item = newsletters.create_newsletter("maya@example.org", slug="slow-mornings", name="Slow Mornings")
    assert item.from_email == "slow-mornings@letters.example.net"
    assert item.reply_to == "maya@example.org"


def test_a_from_this_server_cannot_sign_for_is_refused_until_its_domain_is_added(operator_app):
    with pytest.raises(InvalidInput, match="cannot sign mail From maya-yoga.example"):
        newsletters.create_newsletter("maya@example.org", slug="slow", name="Slow", from_email="hi@maya-yoga.example")
    db.session.rollback()
    owner = accounts.user_by_email("maya@example.org")
    sending_domains.add_domain("maya-yoga.example", owner)
    item = newsletters.create_newsletter("maya@example.org", slug="slow", name="Slow",
                                         from_email="hi@news.maya-yoga.example")
    assert item.from_email == "hi@news.maya-yoga.example"


def test_another_publishers_domain_is_not_yours_to_send_from(operator_app):
    other = accounts.create_user("other@example.org", "a long enough password")
    sending_domains.add_domain("other.example", other)
    with pytest.raises(InvalidInput, match="cannot sign mail From other.example"):
        newsletters.create_newsletter("maya@example.org", slug="slow", name="Slow", from_email="me@other.example")


def test_a_newsletter_without_a_signing_key_says_its_mail_is_unauthenticated(app, publisher, newsletter):
    client = app.test_client()
    login(client, "maya@example.org")
    page = client.get(f"/admin/n/{newsletter.slug}").get_data(as_text=True)
    assert "Mail from this newsletter is unauthenticated" in page


def test_a_newsletter_signed_by_the_operators_key_says_so(make_app, smtp, tmp_path):
    from newsletter.mail import dkim_keys

    key = tmp_path / "operator.pem"
    dkim_keys.write_key_file(str(key), dkim_keys.generate())
    app = make_app(START_SENDER=False, DKIM_PRIVATE_KEY_FILE=str(key), DKIM_SELECTOR="s1", DKIM_DOMAIN="example.org")
    with app.app_context():
        accounts.create_user("maya@example.org", "a long enough password")
        item = newsletters.create_newsletter("maya@example.org", slug="slow", name="Slow",
                                             from_email="maya@example.org")
        db.session.commit()
        client = app.test_client()
        login(client, "maya@example.org")
        page = client.get(f"/admin/n/{item.slug}").get_data(as_text=True)
    assert "is DKIM-signed by example.org" in page and "unauthenticated" not in page
