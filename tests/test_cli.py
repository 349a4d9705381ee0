"""Command line: exit 0 done, 1 refused with the reason on stderr and nothing changed, 2 usage error."""

import csv
import io

import pytest
from sqlalchemy import func, select

from newsletter import consent, tokens
from newsletter.extensions import db
from newsletter.models import Newsletter, Subscription, User


@pytest.fixture
def cli(app):
    runner = app.test_cli_runner()  # click >= 8.2 keeps stderr apart from stdout

    def invoke(*args, input=None):
        return runner.invoke(args=list(args), input=input)

    return invoke


def test_users_create_with_password_on_stdin(cli):
    result = cli("users", "create", "Coach@Example.org", "--password-stdin", input="a long enough password\n")
    assert result.exit_code == 0, result.output
    user = db.session.scalar(select(User))
    assert user.email == "coach@example.org" and not user.is_admin
    assert user.password_hash.startswith("pbkdf2:sha256:1000$")  # the tests' setting


def test_passwords_are_hashed_with_scrypt_by_default(make_app, smtp):
    from newsletter import accounts

    app = make_app(START_SENDER=False, PASSWORD_HASH_METHOD="scrypt")
    with app.app_context():
        user = accounts.create_user("coach@example.org", "a long enough password")
        assert user.password_hash.startswith("scrypt:")
        assert accounts.authenticate("coach@example.org", "a long enough password") is user


def test_users_create_admin_prompts_for_the_password(cli):
    result = cli("users", "create", "root@example.org", "--admin", input="a long enough password\na long enough password\n")
    assert result.exit_code == 0, result.output
    assert db.session.scalar(select(User.is_admin)) is True


@pytest.mark.parametrize("email, password, message", [
    ("not-an-address", "a long enough password", "not a valid e-mail address"),
    ("coach@example.org", "short", "at least 10 characters"),
])
def test_users_create_refuses_bad_input(cli, email, password, message):
    result = cli("users", "create", email, "--password-stdin", input=password + "\n")
    assert result.exit_code == 1
    assert message in result.stderr
    assert db.session.scalar(select(func.count(User.id))) == 0


def test_users_create_refuses_a_duplicate(cli):
    cli("users", "create", "coach@example.org", "--password-stdin", input="a long enough password\n")
    result = cli("users", "create", "COACH@example.org", "--password-stdin", input="a long enough password\n")
    assert result.exit_code == 1 and "exists already" in result.stderr


def test_usage_error_exits_2(cli):
    assert cli("users", "create").exit_code == 2
    assert cli("newsletters", "create", "x").exit_code == 2
    assert cli("newsletters", "create", "x", "--name", "X", "--owner", "a@b.org", "--language", "de").exit_code == 2


def test_newsletters_create(cli, publisher):
    result = cli("newsletters", "create", "deep-rest", "--name", "Deep Rest", "--owner", publisher.email,
                 "--language", "fr", "--cadence", "weekly")
    assert result.exit_code == 0, result.output
    item = db.session.scalar(select(Newsletter))
    assert (item.slug, item.language, item.cadence, item.from_email) == ("deep-rest", "fr", "weekly", publisher.email)


@pytest.mark.parametrize("args, message", [
    (["Bad Slug!", "--name", "X", "--owner", "maya@example.org"], "slug"),
    (["ok", "--name", "X", "--owner", "nobody@example.org"], "There is no user"),
    (["ok", "--name", "X\r\nBcc: a@b.c", "--owner", "maya@example.org"], "line breaks"),
    (["ok", "--name", "X", "--owner", "maya@example.org", "--from-email", "nope"], "not a valid e-mail"),
])
def test_newsletters_create_refuses_bad_input(cli, publisher, args, message):
    result = cli("newsletters", "create", *args)
    assert result.exit_code == 1 and message in result.stderr
    assert db.session.scalar(select(func.count(Newsletter.id))) == 0


def test_newsletters_create_refuses_a_taken_slug(cli, newsletter):
    result = cli("newsletters", "create", newsletter.slug, "--name", "Other", "--owner", "maya@example.org")
    assert result.exit_code == 1 and "exists already" in result.stderr


def test_subscribers_export_writes_confirmed_readers_with_evidence(cli, newsletter, tmp_path):
    for index, email in enumerate(["b@example.net", "a@example.net", "pending@example.net"]):
        consent.subscribe(newsletter, email, f"Reader {index}", ip="192.0.2.1", source="https://s/n/x", wording="w")
    db.session.commit()
    for subscription in db.session.scalars(select(Subscription)).all()[:2]:
        consent.confirm(consent.token_for(tokens.CONFIRM, subscription), "192.0.2.2")
    db.session.commit()
    result = cli("subscribers", "export", newsletter.slug)
    assert result.exit_code == 0, result.stderr
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert [r["email"] for r in rows] == ["b@example.net", "a@example.net"]
    assert list(rows[0]) == ["email", "name", "consent_at", "confirmed_at", "consent_source", "consent_ip", "confirm_ip"]
    assert rows[0]["consent_ip"] == "192.0.2.1" and rows[0]["confirm_ip"] == "192.0.2.2"
    assert rows[0]["consent_source"] == "https://s/n/x" and rows[0]["confirmed_at"].endswith("+00:00")
    output = tmp_path / "out.csv"
    assert cli("subscribers", "export", newsletter.slug, "--output", str(output)).exit_code == 0
    assert output.read_text().splitlines()[0].startswith("email,name,consent_at")


def test_subscribers_export_unknown_newsletter_is_refused(cli, newsletter):
    result = cli("subscribers", "export", "nope")
    assert result.exit_code == 1 and "no newsletter called 'nope'" in result.stderr


def test_demo_creates_logins_and_is_repeatable(cli):
    first = cli("demo")
    second = cli("demo")
    assert first.exit_code == second.exit_code == 0
    assert "admin@example.org" in first.output and "maya@example.org" in first.output
    assert db.session.scalar(select(func.count(Newsletter.id))) == 2
    assert db.session.scalar(select(func.count(User.id))) == 2
