"""How long "Restore all" on /admin/suppressed takes for N readers whom a refusal about the sender suppressed.

    flock /tmp/bench.lock .venv/bin/python bench/restore_all.py [--readers 10000] [--database-url URL]

Seeds N confirmed readers of one newsletter in bulk, then makes each of them wrongly suppressed the way the code
before the reason table did (tests/test_restore_suppressed.py): a 5.7.26 refusal about the sender recorded as a
hard bounce (the subscription bounced, the address suppressed instance-wide), then migration 0007's
re-classification. Then times the admin's "Restore all" request through the Flask test client (the same
service call and commit as the page). SQLite in a temporary folder unless --database-url is given (the database
must be empty and migrated up to head). The last line is JSON.
"""

import argparse
import importlib.util
import json
import logging
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
SECRET = "bench-secret-key-0123456789abcdef0123456789"
PASSWORD = "bench password 1234"
CHUNK = 5000
REFUSAL = ("550 5.7.26 This mail is unauthenticated, which poses a security risk to the sender and Gmail users, "
           "and has been blocked.")


def seed_readers(newsletter_id: int, n: int) -> None:
    """N confirmed readers, written in bulk (this measures the restore, not the subscribing)."""
    from sqlalchemy import insert

    from newsletter.extensions import db
    from newsletter.models import Subscriber, Subscription, SubscriptionEvent, utcnow
    from newsletter.suppression import hmac_of

    asked = utcnow() - timedelta(days=30)
    for start in range(1, n + 1, CHUNK):
        ids = range(start, min(n, start + CHUNK - 1) + 1)
        db.session.execute(insert(Subscriber), [dict(id=i, email=f"reader{i}@example.net", name="",
                                                     email_hmac=hmac_of(f"reader{i}@example.net"),
                                                     token_nonce=f"n{i}", created_at=asked) for i in ids])
        db.session.execute(insert(Subscription), [dict(
            id=i, subscriber_id=i, newsletter_id=newsletter_id, status="confirmed", token_nonce=f"s{i}",
            consent_at=asked, consent_source="https://news.example.org/n/bench", confirmed_at=asked,
            created_at=asked, updated_at=asked) for i in ids])
        db.session.execute(insert(SubscriptionEvent), [dict(
            newsletter_id=newsletter_id, subscription_id=i, kind=kind, at=asked, reason=None, from_status=None,
            issue_id=None) for i in ids for kind in ("subscribed", "confirmed")])
    db.session.commit()


def suppress_wrongly(n: int) -> None:
    """What the code before the reason table did with a refusal about the sender: a hard bounce, then 0007."""
    from newsletter.extensions import db
    from newsletter.feedback import record
    from newsletter.feedback.parsers import FeedbackEvent

    for i in range(1, n + 1):
        record.record_feedback(FeedbackEvent(kind="hard_bounce", recipient=f"reader{i}@example.net", status="5.7.26",
                                             diagnostic=REFUSAL, message_id=None, envelope_token=None,
                                             occurred_at=None), "webhook", trusted=True)
        if i % 1000 == 0:
            db.session.commit()
    db.session.commit()
    path = ROOT / "migrations" / "versions" / "0007_feedback_reasons.py"
    spec = importlib.util.spec_from_file_location("feedback_reasons_0007", path)
    migration = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(migration)
    migration.reclassify(db.session.connection())
    db.session.commit()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--readers", type=int, default=10_000)
    parser.add_argument("--database-url", default="")
    args = parser.parse_args()
    logging.disable(logging.INFO)
    from flask_migrate import upgrade
    from sqlalchemy import func, select

    from newsletter import accounts, create_app, newsletters
    from newsletter.extensions import db
    from newsletter.models import Subscription

    with tempfile.TemporaryDirectory() as folder:
        url = args.database_url or f"sqlite:///{folder}/bench.db"
        app = create_app({"NEWSLETTER_ENV": "testing", "SECRET_KEY": SECRET, "DATABASE_URL": url,
                          "INSTANCE_PATH": folder, "BASE_URL": "https://news.example.org", "START_SENDER": False,
                          "WTF_CSRF_ENABLED": False, "RATELIMIT_ENABLED": False})
        with app.app_context():
            upgrade(directory=str(ROOT / "migrations"))
            accounts.create_user("admin@example.org", PASSWORD, admin=True)
            item = newsletters.create_newsletter("admin@example.org", slug="bench", name="Bench",
                                                 from_email="admin@example.org")
            db.session.commit()
            began = time.perf_counter()
            seed_readers(item.id, args.readers)
            suppress_wrongly(args.readers)
            seeded = time.perf_counter() - began
            bounced = db.session.scalar(select(func.count()).where(Subscription.status == "bounced"))
            db.session.remove()
        client = app.test_client()
        client.post("/login", data={"email": "admin@example.org", "password": PASSWORD})
        began = time.perf_counter()
        answer = client.post("/admin/suppressed/restore-all")
        took = time.perf_counter() - began
        with app.app_context():
            confirmed = db.session.scalar(select(func.count()).where(Subscription.status == "confirmed"))
            dialect = db.engine.dialect.name
            db.session.remove()
            db.engine.dispose()
    assert answer.status_code == 302, answer.status_code
    print(f"{bounced} readers wrongly suppressed (seeded in {seeded:.1f} s); Restore all: {took:.2f} s, "
          f"{confirmed} confirmed after it")
    print(json.dumps({"database": dialect, "readers": args.readers, "suppressed": bounced, "restored": confirmed,
                      "restore_all_s": round(took, 2)}))


if __name__ == "__main__":
    main()
