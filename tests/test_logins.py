"""Logins back off exponentially per address-and-IP pair and per IP, never lock the owner out, and answer every
failure alike: same words, same work (issue 15, V5)."""

import statistics
import time
from datetime import timedelta

import pytest

from newsletter import accounts, newsletters
from newsletter.extensions import db
from newsletter.models import utcnow
from tests.conftest import csrf_token

PASSWORD = "a long enough password"
STRANGER = "203.0.113.7"
OWNER = "198.51.100.2"


def login(client, email, password, ip):
    environ = {"REMOTE_ADDR": ip}
    token = csrf_token(client, "/login")
    return client.post("/login", data={"csrf_token": token, "email": email, "password": password},
                       environ_base=environ)


def error_of(answer) -> str:
    return answer.text.split('class="errors"', 1)[1].split("</ul>", 1)[0] if 'class="errors"' in answer.text else ""


def test_the_owner_logs_in_after_a_strangers_failures(browser_app):
    stranger = browser_app.test_client()
    for _ in range(8):
        assert login(stranger, "admin@example.org", "not the password", STRANGER).status_code == 401
    owner = browser_app.test_client()
    assert login(owner, "admin@example.org", "an admin password", OWNER).status_code == 302
    assert owner.get("/admin/", environ_base={"REMOTE_ADDR": OWNER}).status_code == 200


def test_unknown_address_wrong_password_and_backoff_get_the_same_answer(browser_app):
    client = browser_app.test_client()
    unknown = login(client, "nobody@example.org", "not the password", "192.0.2.1")
    wrong = login(client, "admin@example.org", "not the password", "192.0.2.2")
    for _ in range(4):  # three free failures, then the pair waits
        login(client, "admin@example.org", "not the password", "192.0.2.3")
    waiting = login(client, "admin@example.org", "an admin password", "192.0.2.3")  # right, but too early
    answers = [unknown, wrong, waiting]
    assert [a.status_code for a in answers] == [401, 401, 401]
    assert error_of(unknown) and error_of(unknown) == error_of(wrong) == error_of(waiting)
    assert "Wrong e-mail address or password." in unknown.text and "locked" not in waiting.text


def test_an_unknown_address_backs_off_like_a_real_one(app, publisher):
    now = utcnow()
    for address in ("nobody@example.org", publisher.email):
        for _ in range(4):
            with pytest.raises(accounts.LoginFailed):
                accounts.authenticate(address, "not the password", "192.0.2.9", now=now)
    db.session.commit()
    with pytest.raises(accounts.LoginFailed):  # the right password too early: refused, as for the unknown one
        accounts.authenticate(publisher.email, PASSWORD, "192.0.2.9", now=now)


def test_each_failure_past_the_free_ones_doubles_the_wait_and_the_wait_ends(app, publisher):
    now = utcnow()
    for _ in range(4):  # the 4th failure asks for 1 s
        with pytest.raises(accounts.LoginFailed):
            accounts.authenticate(publisher.email, "not the password", STRANGER, now=now)
    with pytest.raises(accounts.LoginFailed):  # too early: refused and counted (now 2 s)
        accounts.authenticate(publisher.email, PASSWORD, STRANGER, now=now + timedelta(milliseconds=500))
    with pytest.raises(accounts.LoginFailed):
        accounts.authenticate(publisher.email, PASSWORD, STRANGER, now=now + timedelta(milliseconds=2400))
    assert accounts.authenticate(publisher.email, PASSWORD, STRANGER, now=now + timedelta(seconds=7)) == publisher
    # and the success started the pair again: three free failures before any wait
    later = now + timedelta(seconds=8)
    for _ in range(3):
        with pytest.raises(accounts.LoginFailed):
            accounts.authenticate(publisher.email, "not the password", STRANGER, now=later)
    assert accounts.authenticate(publisher.email, PASSWORD, STRANGER, now=later) == publisher


def test_many_failures_from_one_ip_make_the_whole_ip_wait(app, publisher):
    now = utcnow()
    for number in range(21):  # 21 different addresses typed from one IP: past the IP's free failures
        with pytest.raises(accounts.LoginFailed):
            accounts.authenticate(f"guess{number}@example.org", "not the password", STRANGER, now=now)
    with pytest.raises(accounts.LoginFailed):
        accounts.authenticate(publisher.email, PASSWORD, STRANGER, now=now)
    assert accounts.authenticate(publisher.email, PASSWORD, OWNER, now=now) == publisher


def test_every_failure_costs_the_same_time(make_app, smtp):
    """The password hash check is the work that matters: it runs on every path. Medians of interleaved rounds
    (a loaded machine slows all three alike), with a generous bound."""
    app = make_app(START_SENDER=False, PASSWORD_HASH_METHOD="pbkdf2:sha256:200000")
    with app.app_context():
        accounts.create_user("owner@example.org", PASSWORD)
        db.session.commit()
    client = app.test_client()
    for _ in range(5):  # past the free failures of this pair: the next attempt must wait, and each one doubles it
        login(client, "owner@example.org", "not the password", "192.0.2.50")
    kinds = {"waiting": ("owner@example.org", PASSWORD, "192.0.2.50"),
             "unknown": ("nobody@example.org", "not the password", "192.0.2.51"),
             "wrong": ("owner@example.org", "not the password", "192.0.2.52")}
    times = {kind: [] for kind in kinds}
    for _ in range(5):
        for kind, (email, password, ip) in kinds.items():
            token = csrf_token(client, "/login")
            start = time.perf_counter()
            answer = client.post("/login", data={"csrf_token": token, "email": email, "password": password},
                                 environ_base={"REMOTE_ADDR": ip})
            times[kind].append(time.perf_counter() - start)
            assert answer.status_code == 401
    medians = {kind: statistics.median(values) for kind, values in times.items()}
    assert min(medians.values()) > 0.5 * max(medians.values()), medians


def test_the_public_page_never_shows_the_owners_login_address(app, publisher):
    newsletters.create_newsletter(publisher.email, slug="quiet", name="Quiet Notes", from_name="",
                                  from_email="maya@example.org")
    db.session.commit()
    page = app.test_client().get("/n/quiet").text
    assert "Quiet Notes" in page and publisher.email not in page


@pytest.mark.parametrize("path", ["/favicon.ico", "/no-such-page", "/static/style.css", "/login"])
def test_a_request_sent_before_the_login_does_not_undo_it(browser_app, path):
    """A browser fetches the favicon or a style sheet while the login form is posted: the answer to that
    request arrives after the login's, carrying the old cookie. It must not set a cookie, or the browser
    would keep the anonymous session and the publisher would be logged out on the next click."""
    client = browser_app.test_client()
    token = csrf_token(client, "/login")
    before = client.get_cookie("session").value  # the login page's anonymous session, with its CSRF token
    assert login(client, "admin@example.org", "an admin password", OWNER).status_code == 302
    after = client.get_cookie("session").value
    assert after != before and token

    late = browser_app.test_client()
    late.set_cookie("session", before)
    answer = late.get(path, environ_base={"REMOTE_ADDR": OWNER})
    assert answer.status_code in (200, 404)
    assert "session=" not in " ".join(answer.headers.getlist("Set-Cookie"))
    assert client.get("/admin/", environ_base={"REMOTE_ADDR": OWNER}).status_code == 200


def test_a_login_cookie_replayed_from_another_browser_is_refused(browser_app):
    """The protection kept for logged-in sessions: the cookie alone, from another address and browser, logs
    nobody in (Flask-Login's "strong" mode)."""
    client = browser_app.test_client()
    assert login(client, "admin@example.org", "an admin password", OWNER).status_code == 302
    thief = browser_app.test_client()
    thief.set_cookie("session", client.get_cookie("session").value)
    answer = thief.get("/admin/", environ_base={"REMOTE_ADDR": STRANGER, "HTTP_USER_AGENT": "curl/8"})
    assert answer.status_code == 302 and "/login" in answer.headers["Location"]
    assert client.get("/admin/", environ_base={"REMOTE_ADDR": OWNER}).status_code == 200
