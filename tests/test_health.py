"""/healthz: the database answers, the migrations are current, a sender's heartbeat is fresh while issues send."""

import json
import time

from flask_migrate import downgrade, upgrade

from newsletter.extensions import db
from newsletter.sending.work import SendState
from tests.conftest import SECRET, create_demo_newsletter
from tests.support.sending_helpers import confirmed_readers, new_issue, start_sending


def health(client):
    response = client.get("/healthz")
    return response.status_code, response.get_json(), response


def test_healthz_is_200_json_when_all_is_well_and_shows_no_secret(app, client):
    status, report, response = health(client)
    assert status == 200 and report["ok"] is True
    assert {name: check["ok"] for name, check in report["checks"].items()} == {
        "database": True, "migrations": True, "sender": True}
    assert report["checks"]["migrations"]["current"] == report["checks"]["migrations"]["head"]
    assert response.headers["Cache-Control"] == "no-store"
    text = response.get_data(as_text=True)
    for secret in (SECRET, app.config["DATABASE_URL"], app.instance_path, "127.0.0.1"):
        assert secret not in text


def test_healthz_reports_a_stale_sender_heartbeat_with_503(make_app):
    app = make_app(START_SENDER=False, SEND_HEARTBEAT_GRACE=1)
    client = app.test_client()
    with app.app_context():
        newsletter = create_demo_newsletter()
        confirmed_readers(newsletter, 2)
        start_sending(new_issue(newsletter))
        sender = SendState(app, "worker")
        sender.heartbeat.beat()  # a sender working on it: fresh
        status, report, _response = health(client)
        assert status == 200 and report["checks"]["sender"]["sending_issues"] == 1
        deadline = time.monotonic() + 10
        while status == 200 and time.monotonic() < deadline:  # the sender stops beating: stale after the grace
            time.sleep(0.2)
            status, report, _response = health(client)
    sender_check = report["checks"]["sender"]
    assert status == 503 and report["ok"] is False and sender_check["ok"] is False
    assert sender_check["last_beat_seconds_ago"] >= 1 and "flask worker" in sender_check["error"]
    assert report["checks"]["database"]["ok"] and report["checks"]["migrations"]["ok"]


def test_healthz_is_503_when_the_migrations_are_behind(app, client):
    db.session.remove()
    downgrade(revision="-1")
    try:
        status, report, _response = health(client)
    finally:
        db.session.remove()
        upgrade()  # the database is shared by the session's tests
    migrations = report["checks"]["migrations"]
    assert status == 503 and migrations["ok"] is False and migrations["current"] != migrations["head"]
    assert report["checks"]["database"]["ok"] is True
