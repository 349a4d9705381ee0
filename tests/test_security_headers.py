"""Headers every answer carries (issue 15): HSTS under https, no-store on admin and reader-data pages, Allow on 405."""

import pytest

from newsletter import consent, tokens
from newsletter.extensions import db
from newsletter.models import Subscriber
from tests.support.publishers import forget_request_state, login


def test_hsts_when_the_public_url_is_https(client, newsletter):
    answer = client.get("/n/slow-mornings")
    assert answer.headers["Strict-Transport-Security"] == "max-age=31536000"


def test_no_hsts_on_a_plain_http_instance(make_app, smtp):
    app = make_app(START_SENDER=False, BASE_URL="http://127.0.0.1:5000")
    assert "Strict-Transport-Security" not in app.test_client().get("/").headers


def test_admin_pages_are_never_stored_by_a_cache(app, newsletter):
    client = app.test_client()
    forget_request_state()
    assert login(client, "maya@example.org").status_code == 302
    forget_request_state()
    for url in ("/admin/", "/admin/n/slow-mornings", "/admin/n/slow-mornings/subscribers"):
        answer = client.get(url)
        assert answer.status_code == 200 and answer.headers["Cache-Control"] == "no-store", url


def test_reader_data_pages_are_never_stored_by_a_cache(client, newsletter):
    consent.subscribe(newsletter, "reader@example.net", "Zoë", ip=None, source="t", wording="w")
    db.session.commit()
    subscriber = db.session.query(Subscriber).one()
    subscription = subscriber.subscriptions[0]
    for url in (f"/preferences/{consent.token_for(tokens.PREFERENCES, subscriber)}",
                f"/confirm/{consent.token_for(tokens.CONFIRM, subscription)}",
                f"/unsubscribe/{consent.token_for(tokens.UNSUBSCRIBE, subscription)}"):
        answer = client.get(url)
        assert answer.status_code == 200 and answer.headers["Cache-Control"] == "no-store", url


def test_public_pages_stay_cacheable(client, newsletter):
    assert "no-store" not in client.get("/n/slow-mornings").headers.get("Cache-Control", "")


@pytest.mark.parametrize("method, url, allowed", [
    ("put", "/n/slow-mornings", {"GET", "HEAD", "OPTIONS"}),
    ("get", "/n/slow-mornings/subscribe", {"POST", "OPTIONS"}),
    ("delete", "/api/v1/newsletters", {"GET", "HEAD", "OPTIONS"}),
])
def test_a_405_says_which_methods_are_allowed(client, newsletter, method, url, allowed):
    answer = getattr(client, method)(url)
    assert answer.status_code == 405
    assert {m.strip() for m in answer.headers["Allow"].split(",")} == allowed
