"""Log lines: one per request and per send event, with ids and without tokens or addresses; JSON on request."""

import json

from newsletter import consent, tokens
from newsletter.extensions import db
from newsletter.sending.system_mail import send_due_system_mails
from tests.conftest import create_demo_newsletter


def lines_of(captured: str, logger: str) -> list[str]:
    return [line for line in captured.splitlines() if f" {logger} " in line or f'"logger": "{logger}"' in line]


def test_each_request_writes_one_line_with_its_id_and_route(client, newsletter, capsys):
    answer = client.get("/n/slow-mornings")
    [line] = lines_of(capsys.readouterr().err, "newsletter.requests")
    assert " INFO newsletter.requests GET /n/<slug> 200 " in line
    assert f"request_id={answer.headers['X-Request-ID']}" in line and "duration_ms=" in line


def test_json_lines_carry_the_proxys_request_id_and_never_the_token(make_app, smtp, capsys):
    app = make_app(LOG_FORMAT="json", START_SENDER=False)
    with app.app_context():
        newsletter = create_demo_newsletter()
        consent.subscribe(newsletter, "reader@example.net", "", ip=None, source="t", wording="w")
        db.session.commit()
        token = consent.token_for(tokens.UNSUBSCRIBE, newsletter_subscription())
        capsys.readouterr()
        answer = app.test_client().get(f"/unsubscribe/{token}", headers={"X-Request-ID": "edge-42.a"})
    err = capsys.readouterr().err
    [entry] = [json.loads(line) for line in lines_of(err, "newsletter.requests")]
    assert answer.headers["X-Request-ID"] == "edge-42.a"
    assert entry["request_id"] == "edge-42.a" and entry["event"] == "request" and entry["level"] == "INFO"
    assert entry["route"] == "/unsubscribe/<token>" and entry["status"] == answer.status_code
    assert token not in err


def newsletter_subscription():
    from sqlalchemy import select

    from newsletter.models import Subscription

    return db.session.scalar(select(Subscription))


def test_an_unusable_request_id_is_replaced(client, newsletter):
    answer = client.get("/n/slow-mornings", headers={"X-Request-ID": "no spaces\tor tabs " * 10})
    assert answer.headers["X-Request-ID"].isalnum() and len(answer.headers["X-Request-ID"]) == 32


def test_a_system_mail_handed_over_is_one_line_with_its_id_and_no_address(make_app, smtp, capsys):
    app = make_app(LOG_FORMAT="json", START_SENDER=False)
    with app.app_context():
        consent.subscribe(create_demo_newsletter(), "reader@example.net", "", ip=None, source="t", wording="w")
        db.session.commit()
        capsys.readouterr()
        assert send_due_system_mails() == 1
    err = capsys.readouterr().err
    [entry] = [json.loads(line) for line in lines_of(err, "newsletter.sending.system_mail")]
    assert entry["event"] == "system_mail_sent" and entry["kind"] == "confirm"
    assert isinstance(entry["system_mail_id"], int)
    assert "reader@example.net" not in err
