"""The audit log: admins' and publishers' actions (who, what, on what, when, from where), written by one hook,
shown to admins only, filtered by person and action, 50 a page."""

import pytest
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


# --- the API's writes and the command line -----------------------------------------------------------------

def os_name() -> str:
    import os
    import pwd

    return pwd.getpwuid(os.geteuid()).pw_name


def test_an_api_write_is_logged_as_the_tokens_owner_without_the_readers_address(app, newsletter):
    from newsletter import api_tokens

    token, secret = api_tokens.create_token(newsletter.owner, "site form")
    db.session.commit()
    client = app.test_client(use_cookies=False)
    headers = {"Authorization": f"Bearer {secret}"}
    assert client.get("/api/v1/newsletters", headers=headers).status_code == 200  # a read: not logged
    answer = client.post("/api/v1/newsletters/slow-mornings/subscribers", headers=headers,
                         json={"email": "reader@example.net", "name": "Rea"})
    assert answer.status_code == 202
    refused = client.post("/api/v1/newsletters/slow-mornings/subscribers", headers=headers, json={"email": ""})
    assert refused.status_code == 422  # refused: nothing changed, nothing logged
    entries = db.session.scalars(select(AuditEntry)).all()
    assert [(e.user_id, e.user_email, e.action, e.target, e.channel) for e in entries] == [
        (newsletter.owner.id, "maya@example.org", "api.subscribe", f"slug=slow-mornings, token={token.id}", "api")]
    assert entries[0].ip == "127.0.0.1"
    assert not any("reader@" in value or secret in value for value in (entries[0].target, entries[0].action))


@pytest.fixture
def cli(app):
    runner = app.test_cli_runner()

    def invoke(*args, input=None):
        result = runner.invoke(args=list(args), input=input)
        assert result.exit_code in (0, 1), result.output
        return result

    return invoke


def cli_entries() -> list[tuple]:
    return [(e.user_id, e.user_email, e.action, e.target, e.ip, e.channel)
            for e in db.session.scalars(select(AuditEntry).order_by(AuditEntry.id))]


def test_commands_that_change_state_are_logged_as_cli_and_the_os_user(cli, tmp_path):
    body = tmp_path / "issue.md"
    body.write_text("# Breathing\n\nThree slow breaths before the first coffee.\n")
    suppressions = tmp_path / "never.csv"
    suppressions.write_text("email\nnever@example.net\n")
    cli("users", "create", "maya@example.org", "--password-stdin", input="a long enough password\n")
    cli("newsletters", "create", "slow-mornings", "--name", "Slow Mornings", "--owner", "maya@example.org",
        "--from-email", "maya@example.org")
    issue_id = int(cli("issues", "create", "slow-mornings", "--subject", "Breathing", "--body-file",
                       str(body)).stdout.split()[-1])
    cli("issues", "cancel", str(issue_id))
    cli("subscribers", "import", str(suppressions), "--suppress")
    user_id = db.session.scalar(select(User.id))
    who = f"cli:{os_name()}"
    assert cli_entries() == [
        (None, who, "users.create", f"user={user_id}", None, "cli"),
        (None, who, "newsletters.create", "slug=slow-mornings", None, "cli"),
        (None, who, "issues.create", f"issue={issue_id}, slug=slow-mornings", None, "cli"),
        (None, who, "issues.cancel", f"issue={issue_id}", None, "cli"),
        (None, who, "subscribers.import", "suppression list", None, "cli"),
    ]


def test_read_only_refused_and_dry_run_commands_are_not_logged(cli, newsletter, tmp_path):
    readers = tmp_path / "readers.csv"
    readers.write_text("email,consent_at,confirmed_at,consent_source\n"
                       "ana@example.net,2026-01-02T10:00:00Z,2026-01-02T10:05:00Z,https://example.org/form\n")
    cli("subscribers", "export", "slow-mornings")
    cli("domains", "list")
    cli("subscribers", "import", str(readers), "--newsletter", "slow-mornings", "--dry-run")
    assert cli("users", "create", "maya@example.org", "--password-stdin",
               input="a long enough password\n").exit_code == 1  # exists already: refused, nothing changed
    assert cli("issues", "send", "999").exit_code == 1
    assert cli_entries() == []
    cli("subscribers", "import", str(readers), "--newsletter", "slow-mornings")
    assert [entry[2:4] for entry in cli_entries()] == [("subscribers.import", "slug=slow-mornings")]


def test_starting_a_send_from_the_command_line_is_logged(cli, newsletter):
    from tests.support.sending_helpers import confirmed_readers, new_issue

    confirmed_readers(newsletter, 2)
    issue = new_issue(newsletter)
    assert cli("issues", "send", str(issue.id)).exit_code == 0
    assert [entry[2:4] for entry in cli_entries()] == [("issues.send", f"issue={issue.id}")]


# Every command of ours is on one side: a new one makes this test fail until someone decides.
RECORDED = {"users create", "users reset-2fa", "newsletters create", "subscribers import", "issues create",
            "issues send", "issues pause", "issues resume", "issues cancel", "domains add", "domains check",
            "db restore", "demo"}
NOT_RECORDED = {"subscribers export", "domains list", "db backup",
                # long-running processes: what they do is the readers' (bounces, replies) or the send's own ledger
                "bounces serve", "bounces poll", "worker"}


def test_every_command_is_either_logged_or_read_only(app):
    import click

    from newsletter import cli as commands

    ours = set()
    for group in (commands.users, commands.newsletters_group, commands.subscribers, commands.issues,
                  commands.domains, commands.bounces, commands.demo, commands.worker):
        if isinstance(group, click.Group):
            ours |= {f"{group.name} {name}" for name in group.commands}
        else:
            ours.add(group.name)
    ours |= {"db backup", "db restore"}
    assert not RECORDED & NOT_RECORDED
    assert ours - (RECORDED | NOT_RECORDED) == set(), "put each new command in RECORDED (and @recorded) or NOT_RECORDED"
    assert (RECORDED | NOT_RECORDED) - ours == set(), "a command listed here no longer exists"


def test_the_page_tells_pages_api_and_command_line_apart_and_filters_by_each(browser_app):
    with browser_app.app_context():
        create_demo_newsletter()
        maya = db.session.scalar(select(User).where(User.email == MAYA[0]))
        audit.record(maya, "admin.issue_send", "issue_id=1", "192.0.2.1")
        audit.record(maya, "api.subscribe", "slug=slow-mornings, token=4", "192.0.2.2", audit.API)
        audit.record_command("deploy", "issues.send", "issue=2")
        db.session.commit()
    admin = browser_app.test_client()
    log_in(admin, ADMIN, PASSWORD)
    every = admin.get("/admin/audit").text
    assert all(label in every for label in ('class="via-web">Pages', 'class="via-api">API',
                                            'class="via-cli">Command line', "cli:deploy"))
    commands = admin.get("/admin/audit?via=cli").text
    assert "issue=2" in commands and "issue_id=1" not in commands and "token=4" not in commands
    api = admin.get("/admin/audit?via=api&action=api.subscribe").text
    assert "token=4" in api and "issue=2" not in api
    assert "issue=2" in admin.get("/admin/audit?action=issues.send").text
    assert "issue=2" in admin.get("/admin/audit?via=nonsense").text  # an unknown channel is no filter
