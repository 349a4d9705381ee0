"""A publisher's pages: a new newsletter, its settings, its readers (read-only, keyset pages), accounts."""

import re

import pytest
from sqlalchemy import func, select

from newsletter import accounts, consent, readers, tokens
from newsletter.extensions import db
from newsletter.models import Newsletter, Subscription, User
from tests.support.publishers import PASSWORD, forget_request_state, login, post_form

SETTINGS = {"name": "Slow Mornings", "description": "Breathing, sleep, gentle movement.", "cadence": "weekly",
            "language": "en", "from_name": "Maya", "from_email": "maya@example.org", "reply_to": ""}


@pytest.fixture
def maya(client, newsletter):
    login(client, "maya@example.org")
    return client


def test_create_a_newsletter(client, publisher):
    login(client, publisher.email)
    answer = post_form(client, "/admin/newsletters/new", {**SETTINGS, "slug": "deep-rest", "name": "Deep Rest"})
    assert answer.status_code == 302 and answer.headers["Location"].endswith("/admin/n/deep-rest")
    item = db.session.scalar(select(Newsletter))
    assert (item.name, item.owner.email, item.cadence, item.reply_to) == ("Deep Rest", publisher.email, "weekly",
                                                                          publisher.email)


@pytest.mark.parametrize("changes, message", [
    ({"slug": "Bad Slug!"}, "lower-case letters"),
    ({"slug": "slow-mornings"}, "exists already"),
    ({"name": "Evil\r\nBcc: victim@example.org"}, "on one line"),
    ({"from_email": "not an address"}, "not a valid e-mail address"),
    ({"cadence": "hourly"}, "Not a valid choice"),
])
def test_new_newsletter_form_errors_change_nothing(maya, changes, message):
    answer = post_form(maya, "/admin/newsletters/new", {**SETTINGS, "slug": "deep-rest", **changes})
    assert answer.status_code == 400 and message in answer.text
    assert db.session.scalar(select(func.count(Newsletter.id))) == 1


def test_settings_change_what_the_public_page_promises(maya, client, newsletter):
    answer = post_form(maya, f"/admin/n/{newsletter.slug}/settings",
                       {**SETTINGS, "description": "Notes on rest.", "cadence": "monthly", "reply_to": "r@example.org"})
    assert answer.status_code == 302
    db.session.expire_all()
    assert (newsletter.cadence, newsletter.reply_to, newsletter.slug) == ("monthly", "r@example.org", "slow-mornings")
    page = client.get(f"/n/{newsletter.slug}").text
    assert "Notes on rest." in page and "About once a month." in page


@pytest.mark.parametrize("changes, message", [
    ({"from_name": "Maya\nBcc: x@example.org"}, "on one line"),
    ({"reply_to": "nope"}, "not a valid e-mail address"),
    ({"name": ""}, "Give the newsletter a name"),
    ({"language": "de"}, "Not a valid choice"),
])
def test_settings_form_errors_change_nothing(maya, newsletter, changes, message):
    answer = post_form(maya, f"/admin/n/{newsletter.slug}/settings", {**SETTINGS, **changes})
    assert answer.status_code == 400 and message in answer.text
    db.session.expire_all()
    assert (newsletter.cadence, newsletter.from_name) == ("fortnightly", "Maya")


def subscribe(newsletter, email, confirm=False):
    consent.subscribe(newsletter, email, "", ip="192.0.2.1", source="https://news.example.test/n/slow-mornings",
                      wording="w")
    db.session.commit()
    if confirm:
        subscription = db.session.scalars(select(Subscription).order_by(Subscription.id.desc())).first()
        consent.confirm(consent.token_for(tokens.CONFIRM, subscription), "192.0.2.2")
        db.session.commit()


def test_readers_page_counts_and_lists_with_status_date_and_source(maya, newsletter):
    subscribe(newsletter, "ann@example.net", confirm=True)
    subscribe(newsletter, "bob@example.net")
    page = maya.get(f"/admin/n/{newsletter.slug}/subscribers").text
    assert "ann@example.net" in page and "bob@example.net" in page
    assert "<strong>1</strong> Confirmed" in page and "<strong>1</strong> Waiting for confirmation" in page
    assert "https://news.example.test/n/slow-mornings" in page
    only_pending = maya.get(f"/admin/n/{newsletter.slug}/subscribers?status=pending").text
    assert "bob@example.net" in only_pending and "ann@example.net" not in only_pending
    assert "<form" not in page.split("<table", 1)[1]  # read-only: no way to add or change a reader here


def test_readers_pages_walk_by_keyset(maya, newsletter, monkeypatch):
    monkeypatch.setattr(readers, "PAGE_SIZE", 2)
    for index in range(5):
        subscribe(newsletter, f"r{index}@example.net")
    seen, url = [], f"/admin/n/{newsletter.slug}/subscribers"
    while url:
        page = maya.get(url).text
        seen += re.findall(r"r\d@example\.net", page)
        url = page.split('">Older</a>')[0].rsplit('href="', 1)[1].replace("&amp;", "&") if ">Older<" in page else None
    assert seen == [f"r{i}@example.net" for i in (4, 3, 2, 1, 0)]
    assert maya.get(f"/admin/n/{newsletter.slug}/subscribers?before=junk").status_code == 200


def test_admin_lists_accounts_and_creates_a_publisher(client, app):
    accounts.create_user("admin@example.org", PASSWORD, admin=True)
    db.session.commit()
    login(client, "admin@example.org")
    answer = post_form(client, "/admin/users", {"email": "Coach@Example.org", "password": PASSWORD})
    assert answer.status_code == 302
    user = db.session.scalar(select(User).where(User.email == "coach@example.org"))
    assert user is not None and not user.is_admin
    assert "coach@example.org" in client.get("/admin/users").text
    again = post_form(client, "/admin/users", {"email": "coach@example.org", "password": PASSWORD})
    assert again.status_code == 400 and "exists already" in again.text
    short = post_form(client, "/admin/users", {"email": "x@example.org", "password": "short"})
    assert short.status_code == 400 and db.session.scalar(select(func.count(User.id))) == 2


def test_change_my_password_ends_other_sessions(app, maya, newsletter):
    other = app.test_client()
    login(other, "maya@example.org")
    wrong = post_form(maya, "/admin/password", {"current": "not my password", "new": "x" * 12, "repeat": "x" * 12})
    assert wrong.status_code == 400 and "not your current password" in wrong.text
    mismatch = post_form(maya, "/admin/password", {"current": PASSWORD, "new": "y" * 12, "repeat": "z" * 12})
    assert mismatch.status_code == 400 and "differ" in mismatch.text
    done = post_form(maya, "/admin/password", {"current": PASSWORD, "new": "a brand new password",
                                               "repeat": "a brand new password"})
    assert done.status_code == 302
    forget_request_state()
    assert maya.get("/admin/").status_code == 200  # this session goes on
    forget_request_state()
    assert other.get("/admin/").status_code == 302  # the other one is logged out
    assert accounts.authenticate("maya@example.org", "a brand new password")


def test_dashboard_lists_own_newsletters_with_reader_counts(maya, newsletter):
    from tests.conftest import create_demo_newsletter

    create_demo_newsletter(slug="deep-rest", owner="bea@example.org")
    subscribe(newsletter, "ann@example.net", confirm=True)
    page = maya.get("/admin/").text
    assert "Slow Mornings" in page and "1 confirmed reader" in page and "deep-rest" not in page


def test_nul_in_a_description_is_a_form_error(maya, newsletter):
    answer = post_form(maya, f"/admin/n/{newsletter.slug}/settings", {**SETTINGS, "description": "a\x00b"})
    assert answer.status_code == 400 and "NUL" in answer.text
