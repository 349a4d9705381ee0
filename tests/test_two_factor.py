"""Optional two-factor login (TOTP with pyotp, recovery codes shown once, stored hashed, single use), enforced
for admins by REQUIRE_TWO_FACTOR_FOR_ADMINS."""

import re
import time

import pyotp
import pytest
from flask_migrate import downgrade, upgrade
from sqlalchemy import func, select, text

from newsletter import two_factor
from newsletter.extensions import db
from newsletter.models import AuditEntry, RecoveryCode, User
from tests.conftest import csrf_token

ADMIN, PASSWORD = "admin@example.org", "an admin password"


def log_in(client, email=ADMIN, password=PASSWORD):
    return client.post("/login", data={"csrf_token": csrf_token(client, "/login"), "email": email,
                                       "password": password})


def give_code(client, code):
    return client.post("/login/code", data={"csrf_token": csrf_token(client, "/login/code"), "code": code})


def enrol(client):
    """Turn two-factor on from its page as a person does; the secret and the recovery codes shown."""
    page = client.get("/admin/two-factor").text
    secret = re.search(r"<code>([A-Z2-7]{32})</code>", page).group(1)
    assert "data:image/svg+xml" in page and "otpauth://totp/" in page
    done = client.post("/admin/two-factor", data={"csrf_token": csrf_token(client, "/admin/two-factor"),
                                                   "code": pyotp.TOTP(secret).now()})
    assert done.status_code == 200
    return secret, re.findall(r"<code>([0-9a-f]{8}-[0-9a-f]{8})</code>", done.text)


def code_after(secret):
    """A code of the next time step (the one just used cannot be used twice)."""
    return pyotp.TOTP(secret).at(time.time() + 30)


def test_login_asks_for_the_code_once_two_factor_is_on(browser_app):
    owner = browser_app.test_client()
    log_in(owner)
    secret, codes = enrol(owner)
    assert len(codes) == 10
    client = browser_app.test_client()
    first = log_in(client)
    assert first.status_code == 302 and first.headers["Location"].endswith("/login/code")
    assert client.get("/admin/").status_code == 302  # the password alone opens nothing
    wrong = give_code(client, "000000")
    assert wrong.status_code == 401 and "That code is not right" in wrong.text
    right = give_code(client, code_after(secret))
    assert right.status_code == 302 and client.get("/admin/").status_code == 200


def test_a_code_works_once(browser_app):
    owner = browser_app.test_client()
    log_in(owner)
    secret, _ = enrol(owner)
    code = code_after(secret)
    first, second = browser_app.test_client(), browser_app.test_client()
    log_in(first), log_in(second)
    assert give_code(first, code).status_code == 302
    assert give_code(second, code).status_code == 401


def test_recovery_codes_are_stored_hashed_and_work_once(browser_app):
    owner = browser_app.test_client()
    log_in(owner)
    _, codes = enrol(owner)
    with browser_app.app_context():
        stored = db.session.scalars(select(RecoveryCode.code_hash)).all()
    assert len(stored) == 10 and not set(codes) & set(stored)
    first = browser_app.test_client()
    log_in(first)
    assert give_code(first, codes[0]).status_code == 302 and first.get("/admin/").status_code == 200
    again = browser_app.test_client()
    log_in(again)
    assert give_code(again, codes[0]).status_code == 401
    assert "9 recovery codes left" in first.get("/admin/two-factor").text


def test_guessing_codes_backs_off(browser_app):
    owner = browser_app.test_client()
    log_in(owner)
    secret, _ = enrol(owner)
    client = browser_app.test_client()
    log_in(client)
    for _ in range(4):
        assert give_code(client, "123456").status_code == 401
    assert give_code(client, code_after(secret)).status_code == 401  # right, but during the wait


def test_turning_it_off_needs_the_password(browser_app):
    owner = browser_app.test_client()
    log_in(owner)
    enrol(owner)
    token = csrf_token(owner, "/admin/two-factor")
    refused = owner.post("/admin/two-factor/change", data={"csrf_token": token, "password": "not it at all",
                                                            "action": "off"})
    assert refused.status_code == 400
    owner.post("/admin/two-factor/change", data={"csrf_token": token, "password": PASSWORD, "action": "off"})
    with browser_app.app_context():
        assert db.session.scalar(select(User.totp_secret)) is None
    assert log_in(browser_app.test_client()).headers["Location"].endswith("/admin/")


def test_admins_must_enrol_when_the_setting_says_so(make_app, smtp):
    from newsletter import accounts

    app = make_app(START_SENDER=False, REQUIRE_TWO_FACTOR_FOR_ADMINS="true")
    with app.app_context():
        accounts.create_user(ADMIN, PASSWORD, admin=True)
        accounts.create_user("maya@example.org", "a long enough password")
        db.session.commit()
    admin = app.test_client()
    log_in(admin)
    answer = admin.get("/admin/")
    assert answer.status_code == 302 and answer.headers["Location"].endswith("/admin/two-factor")
    enrol(admin)
    assert admin.get("/admin/").status_code == 200
    publisher = app.test_client()
    log_in(publisher, "maya@example.org", "a long enough password")
    assert publisher.get("/admin/").status_code == 200  # the setting concerns admins; publishers may opt in


def test_verify_accepts_one_step_of_clock_drift_and_no_more(app, publisher):
    secret = two_factor.new_secret()
    totp = pyotp.TOTP(secret)
    two_factor.enrol(publisher, secret, totp.now())
    db.session.commit()
    later = time.time() + 120
    from datetime import datetime, timezone
    at = datetime.fromtimestamp(later, timezone.utc)
    assert not two_factor.verify(publisher, totp.at(later - 90), at)
    assert two_factor.verify(publisher, totp.at(later - 30), at)


# --- the secret is sealed at rest ---------------------------------------------------------------------------

def stored_secret(app) -> str:
    """users.totp_secret as a database dump shows it."""
    with app.app_context():
        return db.session.execute(text("SELECT totp_secret FROM users WHERE email = :email"),
                                  {"email": ADMIN}).scalar_one()


def test_the_database_never_holds_the_secret_in_clear(browser_app):
    owner = browser_app.test_client()
    log_in(owner)
    secret, _ = enrol(owner)
    stored = stored_secret(browser_app)
    assert stored.startswith("v1:") and secret not in stored and secret.lower() not in stored.lower()
    client = browser_app.test_client()
    log_in(client)
    assert give_code(client, code_after(secret)).status_code == 302 and client.get("/admin/").status_code == 200


def test_a_changed_secret_key_asks_for_a_reset_instead_of_failing(browser_app, make_app):
    owner = browser_app.test_client()
    log_in(owner)
    secret, codes = enrol(owner)
    moved = make_app(START_SENDER=False, SECRET_KEY="another-secret-key-after-a-rotation")
    client = moved.test_client()
    assert log_in(client).headers["Location"].endswith("/login/code")
    refused = give_code(client, code_after(secret))
    assert refused.status_code == 401
    assert "SECRET_KEY has changed" in refused.text and "users reset-2fa admin@example.org" in refused.text
    assert give_code(client, codes[0]).status_code == 401 and client.get("/admin/").status_code == 302


def test_an_admin_resets_two_factor_from_the_command_line(browser_app, make_app):
    owner = browser_app.test_client()
    log_in(owner)
    enrol(owner)
    moved = make_app(START_SENDER=False, SECRET_KEY="another-secret-key-after-a-rotation")
    reset = moved.test_cli_runner().invoke(args=["users", "reset-2fa", "Admin@Example.org"])
    assert reset.exit_code == 0 and "is off" in reset.output
    with moved.app_context():
        assert db.session.scalar(select(func.count(RecoveryCode.id))) == 0
        admin_id = db.session.scalar(select(User.id).where(User.email == ADMIN))
        assert db.session.execute(select(AuditEntry.action, AuditEntry.target, AuditEntry.channel)
                                  .where(AuditEntry.channel == "cli")).all() == [
            ("users.reset-2fa", f"user={admin_id}", "cli")]
    client = moved.test_client()
    assert log_in(client).headers["Location"].endswith("/admin/")
    again = moved.test_cli_runner().invoke(args=["users", "reset-2fa", ADMIN])
    assert again.exit_code == 1 and "nothing to reset" in again.stderr
    unknown = moved.test_cli_runner().invoke(args=["users", "reset-2fa", "nobody@example.org"])
    assert unknown.exit_code == 1 and "There is no user" in unknown.stderr


def test_migration_0018_seals_clear_secrets_and_its_downgrade_opens_them(app, publisher):
    secret = two_factor.new_secret()
    two_factor.enrol(publisher, secret, pyotp.TOTP(secret).now())
    db.session.commit()
    user_id = publisher.id
    read = text("SELECT totp_secret FROM users WHERE id = :id")
    db.session.remove()
    try:
        downgrade(revision="0017")
        assert db.session.execute(read, {"id": user_id}).scalar_one() == secret
        db.session.remove()
        upgrade(revision="0018")
        sealed = db.session.execute(read, {"id": user_id}).scalar_one()
    finally:
        db.session.remove()
        upgrade()  # the database is shared by the session's tests
    assert sealed.startswith("v1:") and secret not in sealed
    user = db.session.get(User, user_id)
    assert two_factor.readable_secret(user) == secret
    assert two_factor.verify(user, pyotp.TOTP(secret).at(time.time() + 30))


def test_sealed_values_open_only_with_their_key_and_row():
    from newsletter import sealing

    sealed = sealing.seal("JBSWY3DPEHPK3PXP", "key one", "totp-secret", "user:1")
    assert sealing.unseal(sealed, "key one", "totp-secret", "user:1") == "JBSWY3DPEHPK3PXP"
    for key, purpose, context in (("key two", "totp-secret", "user:1"), ("key one", "other", "user:1"),
                                  ("key one", "totp-secret", "user:2")):
        with pytest.raises(sealing.Unreadable):
            sealing.unseal(sealed, key, purpose, context)
    for damaged in ("v2:" + sealed[3:], sealed[:-2], "v1:!!", "v1:"):
        with pytest.raises(sealing.Unreadable):
            sealing.unseal(damaged, "key one", "totp-secret", "user:1")
