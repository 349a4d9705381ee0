"""`flask db backup` and `flask db restore`: the whole list with its consent evidence, into one file and back."""

import os
import shutil
import sqlite3
from pathlib import Path

import pytest
from flask_migrate import upgrade
from sqlalchemy import select

from newsletter import backup, consent, create_app, tokens
from newsletter.extensions import db
from newsletter.models import AuditEntry, Subscriber, Subscription, SubscriptionEvent
from tests.conftest import base_config, create_demo_newsletter


@pytest.fixture
def instance(tmp_path):
    """Builds SQLite instances of their own (whatever TEST_DATABASE_URL says), each in its own folder."""
    apps = []

    def build(name: str, migrated: bool = True, **overrides):
        folder = tmp_path / name
        config = base_config(folder, f"sqlite:///{folder / 'instance' / 'newsletter.db'}", None)
        app = create_app({**config, "START_SENDER": False, **overrides})
        apps.append(app)
        if migrated:
            with app.app_context():
                upgrade()
        return app

    yield build
    for app in apps:
        with app.app_context():
            db.engine.dispose()


def run(app, *args):
    return app.test_cli_runner().invoke(args=list(args))


def evidence() -> list[tuple]:
    """Each reader's consent as stored: who, to what, when, from where, the exact wording, and the events."""
    rows = db.session.execute(
        select(Subscriber.email, Subscriber.name, Subscription.status, Subscription.consent_at,
               Subscription.consent_ip, Subscription.consent_source, Subscription.confirmed_at,
               Subscription.confirm_ip, Subscription.unsubscribed_at, Subscription.unsubscribe_reason,
               Subscription.consent_wording_sha256, Subscription.id)
        .join(Subscription.subscriber).order_by(Subscriber.email)).all()
    events = db.session.execute(select(SubscriptionEvent.subscription_id, SubscriptionEvent.kind,
                                       SubscriptionEvent.at).order_by(SubscriptionEvent.id)).all()
    return [tuple(row) for row in rows] + [tuple(event) for event in events]


def readers_with_evidence(app) -> tuple[list[tuple], str]:
    """Three readers: confirmed, pending, left; returns their evidence and one reader's unsubscribe token."""
    with app.app_context():
        newsletter = create_demo_newsletter()
        for address, name in (("ana@example.net", "Ana Lúcia"), ("bo@example.net", ""), ("cy@example.net", "Cy")):
            consent.subscribe(newsletter, address, name, ip="203.0.113.7", source="https://news.example.test/n/x",
                              wording="Yes, send me Slow Mornings every other week.")
        db.session.commit()
        ana, _bo, cy = db.session.scalars(select(Subscription).order_by(Subscription.id)).all()
        for subscription in (ana, cy):
            consent.confirm(consent.token_for(tokens.CONFIRM, subscription), "198.51.100.4")
        consent.unsubscribe(cy, "too_often")
        db.session.commit()
        return evidence(), consent.token_for(tokens.UNSUBSCRIBE, ana)


def test_backup_then_restore_into_a_fresh_instance_reproduces_readers_and_their_evidence(instance, tmp_path):
    source = instance("source")
    before, token = readers_with_evidence(source)
    answer = run(source, "db", "backup", str(tmp_path / "list.db"))
    assert answer.exit_code == 0, answer.output
    assert "3 reader(s) (1 confirmed subscription(s))" in answer.stdout and "SECRET_KEY" in answer.stderr
    assert oct(os.stat(tmp_path / "list.db").st_mode & 0o777) == "0o600"

    target = instance("target", migrated=False)
    answer = run(target, "db", "restore", str(tmp_path / "list.db"))
    assert answer.exit_code == 0, answer.output
    assert "Restored 1 newsletter(s), 3 reader(s)" in answer.stdout
    with target.app_context():
        assert evidence() == before
        # The links in mails sent before the backup still work: same key, same nonces.
        assert consent.subscription_from_token(tokens.UNSUBSCRIBE, token).subscriber.email == "ana@example.net"
        # The restore is in the restored instance's audit log, as a command run on the server.
        assert db.session.execute(select(AuditEntry.action, AuditEntry.target, AuditEntry.channel)).all() == [
            ("db.restore", "file=list.db", "cli")]


def test_a_backup_of_an_older_schema_is_restored_then_migrated(instance, tmp_path):
    old = instance("old", migrated=False)
    with old.app_context():
        upgrade(revision="0005")
    assert run(old, "db", "backup", str(tmp_path / "old.db")).exit_code == 0
    target = instance("target", migrated=False)
    answer = run(target, "db", "restore", str(tmp_path / "old.db"))
    assert answer.exit_code == 0, answer.output
    with target.app_context():
        head = backup.head_revision()
    assert head != "0005" and "from schema 0005" in answer.stderr and f"schema {head}" in answer.stdout


def test_restore_refuses_an_instance_that_is_not_empty(instance, tmp_path):
    source = instance("source")
    readers_with_evidence(source)
    run(source, "db", "backup", str(tmp_path / "list.db"))
    busy = instance("busy")
    with busy.app_context():
        create_demo_newsletter("already-here")
    answer = run(busy, "db", "restore", str(tmp_path / "list.db"))
    assert answer.exit_code == 1
    assert "not empty" in answer.stderr and "Traceback" not in answer.output
    with busy.app_context():
        assert evidence() == []


@pytest.mark.parametrize("make_file, says", [
    (lambda path: path.write_bytes(b"name,email\nAna,ana@example.net\n"), "cannot be read as an SQLite database"),
    (lambda path: sqlite3.connect(path).execute("CREATE TABLE notes (id INTEGER)").connection.commit(),
     "holds no newsletter schema"),
])
def test_restore_refuses_a_file_that_is_not_a_backup(instance, tmp_path, make_file, says):
    junk = tmp_path / "junk.db"
    make_file(junk)
    target = instance("target", migrated=False)
    answer = run(target, "db", "restore", str(junk))
    assert answer.exit_code == 1 and says in answer.stderr, answer.output
    with target.app_context():
        assert db.inspect(db.engine).get_table_names() == []


def test_restore_refuses_a_backup_from_a_newer_version(instance, tmp_path):
    source = instance("source")
    run(source, "db", "backup", str(tmp_path / "list.db"))
    newer = tmp_path / "newer.db"
    shutil.copyfile(tmp_path / "list.db", newer)
    with sqlite3.connect(newer) as connection:
        connection.execute("UPDATE alembic_version SET version_num = '9999'")
    answer = run(instance("target", migrated=False), "db", "restore", str(newer))
    assert answer.exit_code == 1 and "revision 9999 is not one this version knows" in answer.stderr


def test_backup_never_overwrites_a_file(instance, tmp_path):
    existing = tmp_path / "keep.db"
    existing.write_bytes(b"precious")
    answer = run(instance("source"), "db", "backup", str(existing))
    assert answer.exit_code == 1 and "already exists" in answer.stderr
    assert existing.read_bytes() == b"precious"


def test_backup_on_postgresql_points_to_pg_dump_without_the_password(instance, tmp_path):
    app = instance("pg", migrated=False, DATABASE_URL="postgresql+psycopg://news:s3cret@db.example/newsletter")
    answer = run(app, "db", "backup", str(tmp_path / "x.db"))
    assert answer.exit_code == 1
    assert "pg_dump --format=custom" in answer.stderr and "postgresql://news@db.example/newsletter" in answer.stderr
    assert "s3cret" not in answer.output
    assert not Path(tmp_path / "x.db").exists()
    answer = run(app, "db", "restore", str(Path(__file__)))
    assert answer.exit_code == 1 and "pg_restore" in answer.stderr
