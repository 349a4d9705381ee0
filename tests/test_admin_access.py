"""Log in, log out, and the outbox: admins only; a safe ?next=."""

import pytest

from newsletter import accounts
from newsletter.extensions import db
from newsletter.mail.transport import OutboxTransport
from newsletter.mail.outbox import outbox_folder
from tests.conftest import csrf_token


@pytest.fixture
def admin(app):
    user = accounts.create_user("admin@example.org", "an admin password", admin=True)
    db.session.commit()
    return user


def login(client, email, password="a long enough password", next_url=None):
    url = "/login" + (f"?next={next_url}" if next_url else "")
    return client.post(url, data={"csrf_token": csrf_token(client, "/login"), "email": email, "password": password})


def test_admin_pages_need_a_login(client):
    answer = client.get("/admin/outbox")
    assert answer.status_code == 302 and "/login" in answer.headers["Location"]


def test_wrong_password_gets_the_same_message_as_unknown_user(client, publisher):
    wrong = login(client, publisher.email, "wrong password!!")
    unknown = login(client, "nobody@example.org", "wrong password!!")
    assert wrong.status_code == unknown.status_code == 401
    assert b"Wrong e-mail address or password." in wrong.data and b"Wrong e-mail address or password." in unknown.data


def test_publisher_cannot_see_the_outbox(client, publisher):
    login(client, publisher.email)
    assert client.get("/admin/outbox").status_code == 404


def test_admin_reads_the_outbox(app, client, admin):
    raw = (b"From: a@example.org\r\nTo: b@example.net\r\nSubject: =?utf-8?q?Caf=C3=A9?=\r\n"
           b"Date: Mon, 23 Nov 2026 10:00:00 +0000\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nHello\r\n")
    OutboxTransport(outbox_folder(app.instance_path)).send("a@example.org", "b@example.net", raw)
    login(client, admin.email, "an admin password")
    listing = client.get("/admin/outbox")
    assert listing.status_code == 200 and "Café" in listing.text
    name = listing.text.split("/admin/outbox/")[1].split('"')[0]
    message = client.get(f"/admin/outbox/{name}")
    assert message.status_code == 200 and "Hello" in message.text
    assert client.get("/admin/outbox/..%2f..%2fsecret_key").status_code == 404
    assert client.get("/admin/outbox/00000000000000000000-deadbeef.eml").status_code == 404


@pytest.mark.parametrize("target, expected", [
    ("/admin/outbox", "/admin/outbox"),
    ("https://evil.example/", "/admin/"),
    ("//evil.example/", "/admin/"),
    ("/\\evil.example", "/admin/"),
    ("javascript:alert(1)", "/admin/"),
])
def test_next_redirects_stay_on_this_site(client, admin, target, expected):
    answer = login(client, admin.email, "an admin password", next_url=target)
    assert answer.status_code == 302
    assert answer.headers["Location"] == expected


def test_logout_ends_the_session(client, admin):
    login(client, admin.email, "an admin password")
    assert client.get("/admin/").status_code == 200
    client.post("/logout", data={"csrf_token": csrf_token(client, "/admin/")})
    assert client.get("/admin/").status_code == 302



def logged_in_pair(app):
    """The admin's browser, logged in, and a second browser holding a copy of its session cookie."""
    owner = app.test_client()
    assert login(owner, "admin@example.org", "an admin password").status_code == 302
    thief = app.test_client()
    thief.set_cookie("session", owner.get_cookie("session").value)
    assert thief.get("/admin/").status_code == 200
    return owner, thief


def test_a_copied_session_cookie_no_longer_opens_admin_after_logout(browser_app):
    owner, thief = logged_in_pair(browser_app)
    owner.post("/logout", data={"csrf_token": csrf_token(owner, "/admin/")})
    answer = thief.get("/admin/")
    assert answer.status_code == 302 and "/login" in answer.headers["Location"]


def test_a_copied_session_cookie_no_longer_opens_admin_after_a_password_change(browser_app):
    owner, thief = logged_in_pair(browser_app)
    changed = owner.post("/admin/password", data={
        "csrf_token": csrf_token(owner, "/admin/password"), "current": "an admin password",
        "new": "a brand new password", "repeat": "a brand new password"})
    assert changed.status_code == 302 and owner.get("/admin/").status_code == 200
    assert thief.get("/admin/").status_code == 302
