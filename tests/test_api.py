"""The JSON API: tokens made on the admin page, each role's reach, figures equal to counts made here, the
subscribe call (double opt-in only), junk answered with 4xx JSON and nothing stored, and the OpenAPI document.
"""

import hashlib
import json
import re

import pytest
from sqlalchemy import func, select

from newsletter import accounts, api_tokens
from newsletter.extensions import db
from newsletter.models import ApiToken, Subscriber, Subscription, SubscriptionEvent, SystemMail, User
from tests.conftest import create_demo_newsletter
from tests.support.publishers import PASSWORD, forget_request_state, login, post_form
from tests.test_stats import (counted_deliveries, counted_feedback, counted_unsubscribes, join, sent_issue_world,
                              stats_app)  # noqa: F401  (stats_app is a fixture)

SUBSCRIBERS = "/api/v1/newsletters/slow-mornings/subscribers"


def token_for(email: str) -> str:
    user = db.session.scalar(select(User).where(User.email == email))
    _, secret = api_tokens.create_token(user, "tests")
    db.session.commit()
    return secret


def bearer(secret: str) -> dict:
    return {"Authorization": f"Bearer {secret}"}


@pytest.fixture
def api(stats_app):
    """A client without cookies (the API ignores them anyway) and tokens for A, B and an admin."""
    create_demo_newsletter()
    create_demo_newsletter("deep-rest", owner="bea@example.org")
    accounts.create_user("admin@example.org", PASSWORD, admin=True)
    db.session.commit()
    client = stats_app.test_client(use_cookies=False)
    client.tokens = {role: token_for(email) for role, email in
                     (("a", "maya@example.org"), ("b", "bea@example.org"), ("admin", "admin@example.org"))}
    return client


def error_of(answer) -> str:
    assert answer.mimetype == "application/json", answer.data[:200]
    body = answer.get_json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message"} and body["error"]["message"]
    return body["error"]["code"]


def stored() -> tuple[int, int, int, int]:
    """What a refused call must leave unchanged."""
    db.session.expire_all()
    return tuple(db.session.scalar(select(func.count()).select_from(model))
                 for model in (Subscriber, Subscription, SubscriptionEvent, SystemMail))


# --- tokens -------------------------------------------------------------------------------------------------

def test_a_token_made_on_the_page_is_shown_once_and_kept_only_as_its_sha256(stats_app):
    create_demo_newsletter()
    client = stats_app.test_client()
    login(client, "maya@example.org")
    page = post_form(client, "/admin/tokens", {"name": "Website form"})
    assert page.status_code == 200 and page.headers["Cache-Control"] == "no-store"
    secret = re.search(rb'id="new-token">([^<]+)<', page.data).group(1).decode()
    [token] = db.session.scalars(select(ApiToken)).all()
    assert token.secret_sha256 == hashlib.sha256(secret.encode()).hexdigest() and secret not in token.secret_sha256
    forget_request_state()
    assert secret.encode() not in client.get("/admin/tokens").data
    answer = stats_app.test_client(use_cookies=False).get("/api/v1/newsletters", headers=bearer(secret))
    assert answer.status_code == 200
    db.session.expire_all()
    assert db.session.get(ApiToken, token.id).last_used_at is not None


def test_a_revoked_token_is_refused(stats_app):
    create_demo_newsletter()
    secret = token_for("maya@example.org")
    client = stats_app.test_client()
    login(client, "maya@example.org")
    token = db.session.scalar(select(ApiToken))
    assert post_form(client, f"/admin/tokens/{token.id}/revoke").status_code == 302
    answer = stats_app.test_client(use_cookies=False).get("/api/v1/newsletters", headers=bearer(secret))
    assert answer.status_code == 401 and error_of(answer) == "unauthorized"
    assert "Bearer" in answer.headers["WWW-Authenticate"]


def test_nobody_revokes_someone_else_s_token(stats_app):
    create_demo_newsletter()
    create_demo_newsletter("deep-rest", owner="bea@example.org")
    secret = token_for("maya@example.org")
    client = stats_app.test_client()
    login(client, "bea@example.org")
    token = db.session.scalar(select(ApiToken))
    assert post_form(client, f"/admin/tokens/{token.id}/revoke").status_code == 404
    assert stats_app.test_client(use_cookies=False).get("/api/v1/newsletters", headers=bearer(secret)).status_code == 200


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Basic bWF5YTpwdw=="}, {"Authorization": "Bearer"},
                                     {"Authorization": "Bearer nlt_not-a-real-token"},
                                     {"Authorization": "Bearer " + "x" * 5000},
                                     {"Authorization": "Bearer t\u00e9st"}])
def test_calls_without_a_valid_token_are_401(api, headers):
    for method, url in (("get", "/api/v1/newsletters"), ("get", "/api/v1/stats/newsletters/slow-mornings"),
                        ("post", SUBSCRIBERS)):
        answer = getattr(api, method)(url, headers=headers, json={"email": "x@example.net"})
        assert answer.status_code == 401 and error_of(answer) == "unauthorized", url
    assert stored() == (0, 0, 0, 0)


def test_a_logged_in_session_is_not_an_api_token(stats_app):
    create_demo_newsletter()
    client = stats_app.test_client()
    login(client, "maya@example.org")
    assert client.get("/api/v1/newsletters").status_code == 401


def test_a_disabled_account_s_tokens_are_refused(api):
    db.session.execute(User.__table__.update().where(User.email == "maya@example.org").values(active=False))
    db.session.commit()
    assert api.get("/api/v1/newsletters", headers=bearer(api.tokens["a"])).status_code == 401


# --- reach and figures ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("role, slugs", [("a", ["slow-mornings"]), ("b", ["deep-rest"]),
                                         ("admin", ["slow-mornings", "deep-rest"])])
def test_newsletters_lists_yours_or_all_for_an_admin(api, role, slugs):
    body = api.get("/api/v1/newsletters", headers=bearer(api.tokens[role])).get_json()
    assert [n["slug"] for n in body["newsletters"]] == slugs and body["next_after"] is None


def test_newsletters_are_paged_by_keyset(api):
    first = api.get("/api/v1/newsletters?limit=1", headers=bearer(api.tokens["admin"])).get_json()
    second = api.get(f"/api/v1/newsletters?limit=1&after={first['next_after']}",
                     headers=bearer(api.tokens["admin"])).get_json()
    assert [n["slug"] for n in first["newsletters"] + second["newsletters"]] == ["slow-mornings", "deep-rest"]
    assert second["next_after"] is None


@pytest.mark.parametrize("url", ["/api/v1/stats/newsletters/slow-mornings", "/api/v1/stats/newsletters/slow-mornings/issues",
                                 "/api/v1/stats/issues/{issue}", SUBSCRIBERS])
def test_what_is_not_yours_is_404_like_what_does_not_exist(stats_app, smtp, url):
    world = sent_issue_world(stats_app, smtp)
    create_demo_newsletter("deep-rest", owner="bea@example.org")
    accounts.create_user("admin@example.org", PASSWORD, admin=True)
    client = stats_app.test_client(use_cookies=False)
    url = url.format(issue=world["issue"].id)
    method = client.post if url == SUBSCRIBERS else client.get
    before = stored()
    answer = method(url, headers=bearer(token_for("bea@example.org")), json={"email": "new@example.net"})
    assert answer.status_code == 404 and error_of(answer) == "not_found"
    assert stored() == before
    assert method(url, headers=bearer(token_for("admin@example.org")), json={"email": "new@example.net"}).status_code in (200, 202)


def test_issue_figures_equal_the_counts(stats_app, smtp):
    world = sent_issue_world(stats_app, smtp)
    issue = world["issue"]
    answer = stats_app.test_client().get(f"/api/v1/stats/issues/{issue.id}", headers=bearer(token_for("maya@example.org")))
    body = answer.get_json()
    assert answer.status_code == 200 and answer.headers["Cache-Control"] == "no-store"
    assert {status: body[status] for status in counted_deliveries(issue.id)} == counted_deliveries(issue.id)
    feedback = counted_feedback(issue.id)
    assert (body["replies"], body["complaints"], body["soft_bounces"]) == (
        feedback["replies"], feedback["complaints"], feedback["soft_bounces"])
    assert body["unsubscribes"] == counted_unsubscribes(issue.id) == 1
    assert body["recipients"] == 6 and body["status"] == "sent" and body["subject"] == "Spring notes"
    assert {r["reason"]: r["count"] for r in body["unsubscribe_reasons"]}["too_often"] == 1


def test_newsletter_figures_equal_the_counts(stats_app, smtp):
    world = sent_issue_world(stats_app, smtp)
    newsletter, issue = world["newsletter"], world["issue"]
    body = stats_app.test_client().get("/api/v1/stats/newsletters/slow-mornings?by=day&days=7",
                                       headers=bearer(token_for("maya@example.org"))).get_json()
    statuses = dict(db.session.execute(select(Subscription.status, func.count())
                                       .where(Subscription.newsletter_id == newsletter.id)
                                       .group_by(Subscription.status)).all())
    assert {k: v for k, v in body["readers"].items() if v and k != "paused"} == statuses
    assert body["timeline"][-1]["confirmed"] == statuses["confirmed"] and len(body["timeline"]) == 7
    events = dict(db.session.execute(select(SubscriptionEvent.kind, func.count())
                                     .where(SubscriptionEvent.newsletter_id == newsletter.id)
                                     .group_by(SubscriptionEvent.kind)).all())
    assert body["totals"]["unsubscribes"] == events["unsubscribed"] == 2
    assert body["totals"]["confirmations"] == events["confirmed"] == 6
    assert body["totals"]["complaints"] == events["complained"] == 1
    assert body["unsubscribe_reasons"]["too_often"] == 1 and body["unsubscribe_reasons"]["none"] == 1
    assert [i["id"] for i in body["issues"]] == [issue.id] and body["issues"][0]["sent"] == 2
    assert body["latest_comments"][0]["comment"] == "Lovely, but weekly is a lot"


# --- subscribe ----------------------------------------------------------------------------------------------

def test_subscribe_starts_the_double_opt_in_and_never_confirms(api):
    answer = api.post(SUBSCRIBERS, headers=bearer(api.tokens["a"]), environ_base={"REMOTE_ADDR": "198.51.100.7"},
                      json={"email": "New.Reader@Example.net", "name": "Noor", "consent_source": "https://noor.example/form"})
    assert answer.status_code == 202 and answer.get_json()["status"] == "accepted"
    [subscription] = db.session.scalars(select(Subscription)).all()
    assert (subscription.status, subscription.confirmed_at) == ("pending", None)
    assert subscription.consent_ip == "198.51.100.7" and subscription.consent_source == "https://noor.example/form"
    [mail] = db.session.scalars(select(SystemMail)).all()
    assert (mail.kind, mail.recipient) == ("confirm", "new.reader@example.net")


def test_subscribe_answers_the_same_whatever_the_address_s_state(api):
    from newsletter.models import Newsletter
    from tests.test_stats import subscription_of

    join(db.session.scalar(select(Newsletter).where(Newsletter.slug == "slow-mornings")), "known@example.net")
    answers = [api.post(SUBSCRIBERS, headers=bearer(api.tokens["a"]), json={"email": email})
               for email in ("known@example.net", "fresh@example.net", "fresh@example.net")]
    assert {a.status_code for a in answers} == {202}
    assert answers[0].get_json() == answers[1].get_json() == answers[2].get_json()
    assert subscription_of("known@example.net").status == "confirmed"
    assert subscription_of("fresh@example.net").status == "pending"


def test_without_a_consent_source_the_token_is_named(api):
    api.post(SUBSCRIBERS, headers=bearer(api.tokens["a"]), json={"email": "a@example.net", "name": None})
    assert db.session.scalar(select(Subscription.consent_source)) == "API (token: tests)"


JUNK = [
    ("not json at all", "application/json", 400, "invalid_json"),
    (b'{"email": "a@example.net"', "application/json", 400, "invalid_json"),
    (b'{"email": "\xff\xfe@example.net"}', "application/json", 400, "invalid_json"),
    (b"[" * 5000 + b"]" * 5000, "application/json", 400, "invalid_json"),
    ('["a@example.net"]', "application/json", 422, "invalid_body"),
    ("{}", "application/json", 422, "invalid_address"),
    ('{"email": null}', "application/json", 422, "invalid_address"),
    ('{"email": 42}', "application/json", 422, "invalid_address"),
    ('{"email": ["a@example.net"]}', "application/json", 422, "invalid_address"),
    ('{"email": "not an address"}', "application/json", 422, "invalid_address"),
    (json.dumps({"email": "a" * 5000 + "@example.net"}), "application/json", 422, "invalid_address"),
    ('{"email": "a\\u0000b@example.net"}', "application/json", 422, "invalid_address"),
    ('{"email": "a@example.net", "name": "Eve\\r\\nBcc: x@example.org"}', "application/json", 422, "invalid_name"),
    ('{"email": "a@example.net", "name": 7}', "application/json", 422, "invalid_name"),
    ('{"email": "a@example.net", "name": "' + "n" * 300 + '"}', "application/json", 422, "invalid_name"),
    ('{"email": "a@example.net", "consent_source": {"url": 1}}', "application/json", 422, "invalid_consent_source"),
    ('{"email": "a@example.net", "consent_source": "line\\nbreak"}', "application/json", 422, "invalid_consent_source"),
    ('{"email": "a@example.net", "status": "confirmed"}', "application/json", 422, "unknown_field"),
    ("email=a@example.net", "application/x-www-form-urlencoded", 415, "unsupported_media_type"),
    ('{"email": "a@example.net", "name": "' + "n" * 20000 + '"}', "application/json", 413, "body_too_large"),
]


@pytest.mark.parametrize("body, content_type, status, code", JUNK, ids=[f"{code}-{n}" for n, (*_, code) in enumerate(JUNK)])
def test_junk_is_a_4xx_json_error_and_stores_nothing(api, body, content_type, status, code):
    answer = api.post(SUBSCRIBERS, headers=bearer(api.tokens["a"]), data=body, content_type=content_type)
    assert (answer.status_code, error_of(answer)) == (status, code)
    assert stored() == (0, 0, 0, 0)


def test_subscribe_is_rate_limited_per_ip_like_the_form(make_app, smtp):
    app = make_app(START_SENDER=False, SUBSCRIBE_NEW_ADDRESSES_PER_IP="2/minute")
    with app.app_context():
        create_demo_newsletter()
        client = app.test_client(use_cookies=False)
        headers = bearer(token_for("maya@example.org"))
        codes = [client.post(SUBSCRIBERS, headers=headers, json={"email": f"r{n}@example.net"}) for n in range(3)]
        assert [c.status_code for c in codes] == [202, 202, 429] and error_of(codes[2]) == "too_many_requests"
        assert db.session.scalar(select(func.count()).select_from(Subscription)) == 2


@pytest.mark.parametrize("method, url, status", [
    ("get", "/api/v1/nothing-here", 404), ("delete", "/api/v1/newsletters", 405),
    ("get", SUBSCRIBERS, 405), ("get", "/api/v1/stats/issues/99999999999999999999", 404),
    ("get", "/api/v1/stats/issues/abc", 404), ("get", "/api/v1/stats/newsletters/a%00b", 404),
    ("get", "/api/v1/stats/newsletters/slow-mornings?by=year", 400),
    ("get", "/api/v1/stats/newsletters/slow-mornings?days=0", 400),
    ("get", "/api/v1/newsletters?after=-1", 400), ("get", "/api/v1/newsletters?limit=100000", 400),
    ("get", "/api/v1/stats/newsletters/slow-mornings/issues?before=%C2%B2", 400),
])
def test_wrong_paths_methods_and_parameters_are_json_errors(api, method, url, status):
    answer = getattr(api, method)(url, headers=bearer(api.tokens["admin"]))
    assert answer.status_code == status
    error_of(answer)


# --- the OpenAPI document -------------------------------------------------------------------------------------

def test_the_openapi_document_is_valid_and_describes_every_route(stats_app):
    from openapi_spec_validator import validate

    answer = stats_app.test_client().get("/api/v1/openapi.json")
    assert answer.status_code == 200
    document = json.loads(answer.data)
    validate(document)
    assert document["openapi"].startswith("3.1")
    routes = {re.sub(r"<(?:int:)?(\w+)>", r"{\1}", rule.rule).removeprefix("/api/v1")
              for rule in stats_app.url_map.iter_rules() if rule.endpoint.startswith("api.")}
    assert routes == set(document["paths"])
    assert document["servers"][0]["url"].endswith("/api/v1")


@pytest.mark.parametrize("url", ["/api/v1/newsletters", "/api/v1/stats/newsletters/slow-mornings"])
def test_days_counted_for_a_call_are_kept_for_the_next_one(api, url):
    from newsletter.models import Newsletter

    assert api.get(url, headers=bearer(api.tokens["a"])).status_code == 200
    db.session.rollback()  # the test shares the requests' session: drop what they did not commit
    assert db.session.scalar(select(Newsletter.event_days_through).where(Newsletter.slug == "slow-mornings"))
