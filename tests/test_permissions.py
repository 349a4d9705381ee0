"""The permissions matrix: every admin route for anonymous, publisher A (the owner), publisher B and an admin.

Anonymous is sent to /login; B reaching A's things gets 404 (not 403: ids cannot be probed); the admin gets
what the owner gets. A form posted by B changes nothing.
"""

from datetime import timedelta

import pytest

from newsletter import accounts, sending_domains
from newsletter.extensions import db
from newsletter.mail.outbox import outbox_folder
from newsletter.mail.transport import OutboxTransport
from newsletter.models import Issue, utcnow
from tests.conftest import create_demo_newsletter
from tests.support.publishers import PASSWORD, forget_request_state, login, make_issue, post_form

ROLES = ("anonymous", "publisher_b", "admin", "publisher_a")
MINE = {"anonymous": 302, "publisher_b": 404, "admin": 200, "publisher_a": 200}
MINE_POST = {"anonymous": 302, "publisher_b": 404, "admin": 302, "publisher_a": 302}
ANYONE = {"anonymous": 302, "publisher_b": 200, "admin": 200, "publisher_a": 200}
NOBODYS = {"anonymous": 302, "publisher_b": 404, "admin": 404, "publisher_a": 404}  # no such reader id
MINE_JSON = MINE  # autosave answers JSON to its owner and an admin
ADMIN_ONLY = {"anonymous": 302, "publisher_b": 404, "admin": 200, "publisher_a": 404}
ADMIN_ONLY_POST = {"anonymous": 302, "publisher_b": 404, "admin": 302, "publisher_a": 404}
MINE_FORM_ERROR = {"anonymous": 302, "publisher_b": 404, "admin": 400, "publisher_a": 400}
ANYONE_FORM_ERROR = {"anonymous": 302, "publisher_b": 400, "admin": 400, "publisher_a": 400}
DOMAIN = "maya-yoga.example"
LATER = (utcnow() + timedelta(days=2)).strftime("%Y-%m-%dT%H:%M")

# (method, path, issue state needed, form data, expected status per role)
ROUTES = [
    ("GET", "/admin/", None, None, ANYONE),
    ("GET", "/admin/newsletters/new", None, None, ANYONE),
    ("POST", "/admin/newsletters/new", None, {"slug": "Not A Slug"}, ANYONE_FORM_ERROR),
    ("GET", "/admin/password", None, None, ANYONE),
    ("POST", "/admin/password", None, {"current": "wrong password", "new": "x", "repeat": "y"}, ANYONE_FORM_ERROR),
    ("GET", "/admin/users", None, None, ADMIN_ONLY),
    ("POST", "/admin/users", None, {"email": "new@example.org", "password": PASSWORD}, ADMIN_ONLY_POST),
    ("GET", "/admin/outbox", None, None, ADMIN_ONLY),
    ("GET", "/admin/suppressed", None, None, ADMIN_ONLY),
    ("POST", "/admin/suppressed/restore-all", None, {}, ADMIN_ONLY_POST),
    ("POST", "/admin/suppressed/0/restore", None, {},  # nobody: tests/test_restore_suppressed.py restores real ones
     {"anonymous": 302, "publisher_b": 404, "admin": 404, "publisher_a": 404}),
    ("GET", "/admin/outbox/{outbox_name}", None, None, ADMIN_ONLY),
    ("GET", "/admin/outbox/{outbox_name}/html", None, None, ADMIN_ONLY),
    ("GET", "/admin/n/{slug}", None, None, MINE),
    ("GET", "/admin/n/{slug}/settings", None, None, MINE),
    ("POST", "/admin/n/{slug}/settings", None,
     {"name": "Renamed", "cadence": "weekly", "language": "en", "from_email": "maya@example.org"}, MINE_POST),
    ("GET", "/admin/n/{slug}/subscribers", None, None, MINE),
    ("GET", "/admin/n/{slug}/subscribers.csv", None, None, MINE_POST),  # the export's old address: a redirect
    ("GET", "/admin/n/{slug}/exports", None, None, MINE),
    ("POST", "/admin/n/{slug}/exports", None, {},  # queues an export: tests/test_export_jobs.py runs real ones
     {"anonymous": 302, "publisher_b": 404, "admin": 303, "publisher_a": 303}),
    ("GET", "/admin/n/{slug}/exports/{job}", None, None, NOBODYS),
    ("GET", "/admin/n/{slug}/exports/{job}/progress.json", None, None, NOBODYS),
    ("GET", "/admin/n/{slug}/exports/{job}/download", None, None, NOBODYS),
    ("POST", "/admin/n/{slug}/exports/{job}/delete", None, {}, NOBODYS),
    ("GET", "/admin/n/{slug}/subscribers/0", None, None, NOBODYS),
    ("POST", "/admin/n/{slug}/subscribers/0/erase", None, {"erase-reason": "asked"}, NOBODYS),
    ("GET", "/admin/n/{slug}/invite", None, None, MINE),
    ("POST", "/admin/n/{slug}/invite", None, {"email": "x@example.net"}, MINE_FORM_ERROR),
    ("POST", "/admin/n/{slug}/media", None, {}, MINE_POST),
    ("GET", "/admin/n/{slug}/branding", None, None, MINE),
    ("POST", "/admin/n/{slug}/branding", None, {"accent_color": "#ffffff"}, MINE_FORM_ERROR),
    ("POST", "/admin/n/{slug}/branding/preview/welcome", None, {"welcome_text": "Hello"}, MINE),
    ("GET", "/admin/n/{slug}/share", None, None, MINE),
    ("GET", "/admin/n/{slug}/share/qr.png", None, None, MINE),
    ("GET", "/admin/n/{slug}/import", None, None, MINE),
    ("POST", "/admin/n/{slug}/import", None, {}, MINE_FORM_ERROR),
    ("GET", "/admin/n/{slug}/import/{job}", None, None,  # nobody's job: tests/test_import_jobs.py runs real ones
     {"anonymous": 302, "publisher_b": 404, "admin": 404, "publisher_a": 404}),
    ("GET", "/admin/n/{slug}/import/{job}/progress.json", None, None,
     {"anonymous": 302, "publisher_b": 404, "admin": 404, "publisher_a": 404}),
    ("POST", "/admin/n/{slug}/import/{job}", None, {},
     {"anonymous": 302, "publisher_b": 404, "admin": 404, "publisher_a": 404}),
    ("POST", "/admin/n/{slug}/import/{job}/abandon", None, {},
     {"anonymous": 302, "publisher_b": 404, "admin": 404, "publisher_a": 404}),
    ("GET", "/admin/n/{slug}/issues/new", None, None, MINE),
    ("POST", "/admin/n/{slug}/issues/new", None, {"subject": "New", "body": "Text"}, MINE_POST),
    ("GET", "/admin/issues/{issue}", "draft", None, MINE),
    ("POST", "/admin/issues/{issue}", "draft", {"subject": "Changed", "body": "Changed"}, MINE_POST),
    ("GET", "/admin/issues/{issue}/preview", "draft", None, MINE),
    ("GET", "/admin/issues/{issue}/preview.html", "draft", None, MINE),
    ("GET", "/admin/issues/{issue}/progress.json", "sending", None, MINE),
    ("POST", "/admin/issues/{issue}/test", "draft", {}, MINE_POST),
    ("POST", "/admin/issues/{issue}/send", "draft", {"acknowledge": "y", "confirmed": "1"}, MINE_POST),
    ("POST", "/admin/issues/{issue}/schedule", "draft", {"schedule-when": LATER, "schedule-confirmed": "1"}, MINE_POST),
    ("POST", "/admin/issues/{issue}/discard", "draft", {"confirmed": "1"}, MINE_POST),
    ("POST", "/admin/issues/{issue}/restore", "discarded", {}, MINE_POST),
    ("POST", "/admin/issues/{issue}/autosave", "draft", {"subject": "Auto", "body": "Saved"}, MINE_JSON),
    ("POST", "/admin/n/{slug}/issues/autosave", None, {"subject": "Auto", "body": "Saved"}, MINE_JSON),
    ("GET", "/admin/two-factor", None, None, ANYONE),
    ("POST", "/admin/two-factor", None, {"code": "000000"}, ANYONE_FORM_ERROR),
    ("POST", "/admin/two-factor/change", None, {"password": "x", "action": "off"},  # not on: back to its page
     {"anonymous": 302, "publisher_b": 302, "admin": 302, "publisher_a": 302}),
    ("GET", "/admin/audit", None, None, ADMIN_ONLY),
    ("GET", "/admin/time-zone", None, None, ANYONE),
    ("POST", "/admin/time-zone", None, {"zone": "Nowhere/Atlantis"}, ANYONE_FORM_ERROR),
    ("POST", "/admin/issues/{issue}/unschedule", "scheduled", {}, MINE_POST),
    ("POST", "/admin/issues/{issue}/pause", "sending", {}, MINE_POST),
    ("POST", "/admin/issues/{issue}/resume", "paused", {}, MINE_POST),
    ("POST", "/admin/issues/{issue}/cancel", "draft", {}, MINE_POST),
    ("POST", "/admin/issues/{issue}/holds/0/retry", "sending", {},  # no such hold: tests/test_sending_holds.py
     {"anonymous": 302, "publisher_b": 404, "admin": 404, "publisher_a": 404}),
    ("GET", "/admin/stats", None, None, ANYONE),
    ("GET", "/admin/stats/newsletters.csv", None, None, ANYONE),
    ("GET", "/admin/stats/issues.csv", None, None, ANYONE),
    ("GET", "/admin/n/{slug}/stats", None, None, MINE),
    ("GET", "/admin/n/{slug}/stats/timeline.csv", None, None, MINE),
    ("GET", "/admin/issues/{issue}/stats", "sending", None, MINE),
    ("GET", "/admin/issues/{issue}/stats.csv", "sending", None, MINE),
    ("GET", "/admin/domains", None, None, ANYONE),
    ("POST", "/admin/domains", None, {"name": ""}, ANYONE_FORM_ERROR),
    ("GET", "/admin/domains/{domain}", None, None, MINE),
    ("POST", "/admin/domains/{domain}/check", None, {}, MINE_POST),
    ("GET", "/admin/tokens", None, None, ANYONE),
    ("POST", "/admin/tokens", None, {"name": ""}, ANYONE_FORM_ERROR),
    ("POST", "/admin/tokens/0/revoke", None, {},  # nobody's token: tests/test_api.py revokes real ones
     {"anonymous": 302, "publisher_b": 404, "admin": 404, "publisher_a": 404}),
]


@pytest.fixture
def world(app, dns_server):
    """Publisher A owns slow-mornings and a sending domain, publisher B owns another newsletter, and an admin."""
    app.config["DNS_RESOLVER"] = dns_server.address  # a domain check asks the loopback server, never the internet
    newsletter = create_demo_newsletter()
    sending_domains.add_domain(DOMAIN, newsletter.owner)
    create_demo_newsletter(slug="deep-rest", owner="bea@example.org")
    accounts.create_user("admin@example.org", PASSWORD, admin=True)
    db.session.commit()
    raw = b"From: a@example.org\r\nTo: b@example.net\r\nSubject: Hello\r\n\r\nHello\r\n"
    OutboxTransport(outbox_folder(app.instance_path)).send("a@example.org", "b@example.net", raw)
    return newsletter


EMAILS = {"publisher_a": "maya@example.org", "publisher_b": "bea@example.org", "admin": "admin@example.org"}


def request_as(app, role: str, method: str, url: str, data):
    client = app.test_client()
    forget_request_state()
    if role != "anonymous":
        assert login(client, EMAILS[role]).status_code == 302
    if method == "GET":
        return client.get(url)
    return post_form(client, url, data)


def expand(path: str, app, newsletter, state) -> tuple[str, int | None]:
    issue = make_issue(newsletter, state) if state else None
    outbox = sorted(outbox_folder(app.instance_path).glob("*.eml"))
    url = path.format(slug=newsletter.slug, issue=issue.id if issue else 0, domain=DOMAIN,
                      outbox_name=outbox[0].name if outbox else "none", job=0)
    return url, issue.id if issue else None


@pytest.mark.parametrize("method, path, state, data, expected", ROUTES,
                         ids=[f"{method} {path}" for method, path, *_ in ROUTES])
def test_permissions_matrix(app, world, method, path, state, data, expected):
    seen = {}
    for role in ROLES:
        url, _ = expand(path, app, world, state)  # a fresh issue per role: actions change its state
        answer = request_as(app, role, method, url, data)
        seen[role] = answer.status_code
        if role == "anonymous" and answer.status_code == 302:
            assert "/login" in answer.headers["Location"]
    assert seen == expected


@pytest.mark.parametrize("method, path, state, data, expected",
                         [route for route in ROUTES if route[0] == "POST" and route[2]],
                         ids=[f"{m} {p}" for m, p, s, *_ in ROUTES if m == "POST" and s])
def test_publisher_b_changes_nothing_of_a(app, world, method, path, state, data, expected):
    url, issue_id = expand(path, app, world, state)
    before = db.session.get(Issue, issue_id)
    snapshot = (before.status, before.subject, before.body_markdown, before.scheduled_at, before.started_at)
    db.session.expire_all()
    assert request_as(app, "publisher_b", method, url, data).status_code == 404
    db.session.expire_all()
    after = db.session.get(Issue, issue_id)
    assert (after.status, after.subject, after.body_markdown, after.scheduled_at, after.started_at) == snapshot


def test_unknown_ids_are_404_like_other_peoples(app, world):
    client = app.test_client()
    login(client, "maya@example.org")
    assert client.get("/admin/issues/999999").status_code == 404
    assert client.get("/admin/n/no-such-newsletter").status_code == 404
    assert client.get("/admin/issues/abc").status_code == 404


def test_every_admin_route_is_in_the_matrix(app):
    adapter = app.url_map.bind("localhost")
    covered = set()
    for method, path, *_ in ROUTES:
        endpoint, _ = adapter.match(path.format(slug="x", issue=1, outbox_name="x.eml", job=1, domain="x"),
                                    method=method)
        covered.add((endpoint, method))
    missing = [f"{method} {rule.rule}" for rule in app.url_map.iter_rules() if rule.endpoint.startswith("admin.")
               for method in sorted(rule.methods - {"HEAD", "OPTIONS"}) if (rule.endpoint, method) not in covered]
    assert missing == [], "add these routes to ROUTES in tests/test_permissions.py"


@pytest.mark.parametrize("url", [
    "/admin/issues/99999999999999999999",
    "/admin/issues/99999999999999999999/progress.json",
    "/admin/n/a%00b",
    "/admin/n/a%00b/share",
    "/n/a%00b",
    "/n/a%00b/feed.xml",
    "/n/slow-mornings/issues/99999999999999999999",
])
def test_junk_ids_and_slugs_are_404_not_500(app, world, url):
    client = app.test_client()
    forget_request_state()
    login(client, "maya@example.org")
    assert client.get(url).status_code == 404


@pytest.mark.parametrize("before", ["99999999999999999999", "-99999999999999999999", "0", "junk"])
def test_junk_page_cursors_are_harmless(app, world, before):
    client = app.test_client()
    forget_request_state()
    login(client, "maya@example.org")
    assert client.get(f"/admin/n/slow-mornings/subscribers?before={before}").status_code == 200
