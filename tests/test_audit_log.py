"""The audit log: admins' and publishers' actions (who, what, on what, when, from where), written by one hook,
shown to admins only, filtered by person and action, 50 a page."""

from sqlalchemy import select

from newsletter import audit
from newsletter.extensions import db
from newsletter.models import AuditEntry, User
from tests.conftest import create_demo_newsletter, csrf_token

ADMIN, PASSWORD = "admin@example.org", "an admin password"
MAYA = ("maya@example.org", "a long enough password")


def log_in(client, email, password):
    token = csrf_token(client, "/login")
    return client.post("/login", data={"csrf_token": token, "email": email, "password": password})


def logged(app):
    with app.app_context():
        return [(e.user_email, e.action, e.target, e.ip) for e in
                db.session.scalars(select(AuditEntry).order_by(AuditEntry.id))]


def test_a_publishers_actions_are_logged_with_who_what_and_where(browser_app):
    with browser_app.app_context():
        create_demo_newsletter()
    maya = browser_app.test_client()
    log_in(maya, *MAYA)
    token = csrf_token(maya, "/admin/n/slow-mornings/invite")
    maya.post("/admin/n/slow-mornings/invite", data={"csrf_token": token, "email": "friend@example.net",
                                                     "note": "met at the workshop"})
    maya.post("/logout", data={"csrf_token": csrf_token(maya, "/admin/")})
    entries = logged(browser_app)
    assert entries[0] == ("maya@example.org", "account.login", "", "127.0.0.1")
    assert ("maya@example.org", "admin.invite", "slug=slow-mornings", "127.0.0.1") in entries
    assert entries[-1][:2] == ("maya@example.org", "account.logout")


def test_failed_logins_and_autosaves_are_not_actions(browser_app):
    with browser_app.app_context():
        create_demo_newsletter()
    client = browser_app.test_client()
    assert log_in(client, MAYA[0], "not the password").status_code == 401
    assert logged(browser_app) == []


def test_only_admins_see_the_log_and_can_filter_it(browser_app):
    with browser_app.app_context():
        create_demo_newsletter()
        maya = db.session.scalar(select(User).where(User.email == MAYA[0]))
        admin = db.session.scalar(select(User).where(User.email == ADMIN))
        for number in range(60):
            audit.record(maya if number % 2 else admin, "admin.issue_send", f"issue_id={number}", "192.0.2.1")
        db.session.commit()
        maya_id = maya.id
    publisher = browser_app.test_client()
    log_in(publisher, *MAYA)
    assert publisher.get("/admin/audit").status_code == 404
    admin_client = browser_app.test_client()
    log_in(admin_client, ADMIN, PASSWORD)
    page = admin_client.get(f"/admin/audit?user={maya_id}&action=admin.issue_send").text
    assert page.count("issue_id=") == 30 and "issue_id=59" in page and "issue_id=58" not in page
    first = admin_client.get("/admin/audit?action=admin.issue_send").text
    assert first.count("issue_id=") == 50 and "before=" in first
    older = admin_client.get("/admin/audit?action=admin.issue_send&before=" + first.split("before=")[1].split('"')[0])
    assert older.text.count("issue_id=") == 10 and "issue_id=0<" in older.text
