"""Statistics pages and API calls at scale: 100k subscribers and 1M deliveries, on SQLite and PostgreSQL.

    .venv/bin/python bench/stats.py [--subscribers 100000] [--issues 10] [--pg URL] [--no-pg] [--repeat 5]

Seeds one newsletter with N subscriptions (statuses, pauses, unsubscribes with reasons, spread over 18 months
of subscription events), ten issues with one delivery per subscription (nine sent and settled, one still
sending), bounces, complaints and replies; then requests each statistics page and API call through the
Flask test client (routing, queries, templates), once to warm up and `--repeat` times, and prints the median
of each next to the 300 ms target. The last line is one JSON object with the slowest page per database.
"""

import argparse
import json
import logging
import os
import random
import shutil
import statistics
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
SECRET = "bench-secret-key-0123456789abcdef0123456789"
TARGET_MS = 300
PASSWORD = "bench password 1234"
CHUNK = 5000
REASONS = ["too_often", "not_relevant", "never_asked", "other: moving on, thank you", None, "mailto"]


def make_app(database_url: str, instance: str):
    from newsletter import create_app

    return create_app({"NEWSLETTER_ENV": "testing", "SECRET_KEY": SECRET, "DATABASE_URL": database_url,
                       "INSTANCE_PATH": instance, "BASE_URL": "https://news.example.org", "START_SENDER": False,
                       "WTF_CSRF_ENABLED": False, "RATELIMIT_ENABLED": False})


def seed(n: int, issue_count: int) -> dict:
    """Everything the pages read, written in bulk (not through the services: this measures reading)."""
    from newsletter import accounts, newsletters
    from newsletter.extensions import db

    accounts.create_user("admin@example.org", PASSWORD, admin=True)
    accounts.create_user("maya@example.org", PASSWORD)
    main = newsletters.create_newsletter("maya@example.org", slug="bench", name="Slow Mornings",
                                         from_email="maya@example.org")
    side = newsletters.create_newsletter("maya@example.org", slug="side", name="Side notes",
                                         from_email="maya@example.org")
    db.session.flush()
    rng = random.Random(6)
    issue_ids = seed_issues(main.id, issue_count)
    seed_readers(main.id, n, rng, issue_ids[:-1], first_id=1)
    seed_readers(side.id, max(n // 100, 1), rng, [], first_id=n + 1)
    seed_deliveries(main.id, issue_ids)
    seed_feedback(main.id)
    db.session.commit()
    return {"sent_issue": issue_ids[-2], "sending_issue": issue_ids[-1]}


def seed_issues(newsletter_id: int, count: int) -> list[int]:
    """`count` issues a fortnight apart; the last one still sending."""
    from newsletter.extensions import db
    from newsletter.models import Issue, utcnow

    now, issues = utcnow(), []
    for index in range(count):
        started = now - timedelta(days=14 * (count - 1 - index), hours=2)
        last = index == count - 1
        issue = Issue(newsletter_id=newsletter_id, subject=f"Issue {index + 1}", body_markdown="Hello.",
                      status="sending" if last else "sent", started_at=started, enqueue_done=True,
                      finished_at=None if last else started + timedelta(minutes=40))
        db.session.add(issue)
        issues.append(issue)
    db.session.flush()
    return [issue.id for issue in issues]


def seed_readers(newsletter_id: int, n: int, rng: random.Random, issue_ids: list[int], first_id: int) -> None:
    """Subscribers, their subscriptions and the events of their lives, in chunks."""
    from sqlalchemy import insert

    from newsletter.extensions import db
    from newsletter.models import Subscriber, Subscription, SubscriptionEvent, utcnow

    now = utcnow()
    for start in range(0, n, CHUNK):
        people, subscriptions, events = [], [], []
        for offset in range(start, min(n, start + CHUNK)):
            ident = first_id + offset
            asked = now - timedelta(days=540 * (n - offset) / n, minutes=rng.randrange(600))
            people.append(dict(id=ident, email=f"reader{ident}@example.net", email_hmac=f"{ident:064x}",
                               name="", token_nonce=f"n{ident}", created_at=asked))
            subscription, lived = reader_life(ident, newsletter_id, asked, now, rng, issue_ids)
            subscriptions.append(subscription)
            events.extend(lived)
        db.session.execute(insert(Subscriber), people)
        db.session.execute(insert(Subscription), subscriptions)
        db.session.execute(insert(SubscriptionEvent), events)


def reader_life(ident: int, newsletter_id: int, asked, now, rng: random.Random, issue_ids: list[int]):
    """One subscription (85% confirmed, 5% pending, 7% unsubscribed, 2% bounced, 1% complained) and its events."""
    roll = rng.random()
    status = ("pending" if roll < 0.05 else "unsubscribed" if roll < 0.12 else "bounced" if roll < 0.14
              else "complained" if roll < 0.15 else "confirmed")
    confirmed_at = None if status == "pending" else asked + timedelta(hours=1)
    left_at = min(now, asked + timedelta(days=rng.randrange(1, 200))) if status not in ("pending", "confirmed") else None
    paused = status == "confirmed" and rng.random() < 0.01
    reason = rng.choice(REASONS) if status == "unsubscribed" else None
    subscription = dict(id=ident, subscriber_id=ident, newsletter_id=newsletter_id, status=status,
                        token_nonce=f"s{ident}", consent_at=asked, consent_source="https://news.example.org/n/bench",
                        confirmed_at=confirmed_at, unsubscribed_at=left_at if reason else None,
                        unsubscribe_reason=reason, paused_until=now + timedelta(days=20) if paused else None,
                        created_at=asked, updated_at=now)
    base = dict(newsletter_id=newsletter_id, subscription_id=ident, reason=None, from_status=None, issue_id=None)
    events = [dict(base, kind="subscribed", at=asked)]
    if confirmed_at:
        events.append(dict(base, kind="confirmed", at=confirmed_at))
    if left_at:
        events.append(dict(base, kind=status, at=left_at, reason=reason, from_status="confirmed",
                           issue_id=rng.choice(issue_ids) if issue_ids and status == "unsubscribed" else None))
    if paused:
        events.append(dict(base, kind="paused", at=now - timedelta(days=10), reason="1 month(s)"))
    return subscription, events


def seed_deliveries(newsletter_id: int, issue_ids: list[int]) -> None:
    """One delivery per subscription and issue, in one INSERT ... SELECT per issue."""
    from sqlalchemy import case, insert, literal, null, select

    from newsletter.extensions import db
    from newsletter.models import Delivery, Issue, Subscription, UTCDateTime

    for issue_id in issue_ids:
        issue = db.session.get(Issue, issue_id)
        at = literal(issue.started_at + timedelta(minutes=10), UTCDateTime())
        bucket = Subscription.id % 1000
        status = case((bucket < 10, "bounced"), (bucket < 15, "failed"), (bucket < 25, "skipped"),
                      (bucket < 30, "unknown"), else_="sent")
        if issue.status == "sending":  # half done: the second half is still queued
            status = case((Subscription.id % 2 == 0, "queued"), else_=status)
        sent_at = case((status.in_(["sent", "bounced"]), at), else_=null())
        rows = select(literal(issue_id), Subscription.subscriber_id, Subscription.id, status, literal(1), at, sent_at,
                      at).where(Subscription.newsletter_id == newsletter_id)
        db.session.execute(insert(Delivery).from_select(
            ["issue_id", "subscriber_id", "subscription_id", "status", "attempts", "next_attempt_at", "sent_at",
             "updated_at"], rows))
        issue.recipients = issue.planned = db.session.query(Subscription).filter_by(newsletter_id=newsletter_id).count()


def seed_feedback(newsletter_id: int) -> None:
    """A hard bounce per bounced delivery; complaints, soft bounces and replies on a share of the others."""
    from sqlalchemy import case, insert, literal, select

    from newsletter.extensions import db
    from newsletter.models import Delivery, Feedback, Issue, utcnow

    kind = case((Delivery.status == "bounced", "hard_bounce"), (Delivery.id % 1000 < 2, "complaint"),
                (Delivery.id % 1000 < 5, "soft_bounce"), else_="reply")
    chosen = (Delivery.status == "bounced") | (Delivery.id % 1000 < 7)
    rows = (select(kind, literal("inbound"), Delivery.id, Delivery.issue_id, literal(newsletter_id),
                   Delivery.subscriber_id, literal(utcnow(), db.metadata.tables["feedback"].c.received_at.type))
            .join(Issue, Issue.id == Delivery.issue_id).where(Issue.newsletter_id == newsletter_id, chosen))
    db.session.execute(insert(Feedback).from_select(
        ["kind", "source", "delivery_id", "issue_id", "newsletter_id", "subscriber_id", "received_at"], rows))


def vacuum_postgres() -> None:
    """What PostgreSQL's autovacuum does on a live database after a bulk load: planner statistics and the
    visibility map (without it, index-only scans read the table too). SQLite is measured as it is."""
    from newsletter.extensions import db

    if db.engine.dialect.name == "postgresql":
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.exec_driver_sql("VACUUM ANALYZE")


def settle_sent_issues() -> None:
    """What the sender's finish_if_done does when a send ends."""
    from sqlalchemy import select

    from newsletter.extensions import db
    from newsletter.models import Issue
    from newsletter.stats.issues import settle

    for issue_id in db.session.scalars(select(Issue.id).where(Issue.status == "sent")):
        settle(issue_id)
    db.session.commit()


def calls(ids: dict) -> list[tuple[str, str, bool]]:
    """(label, url, needs the API token) for every page and API call measured."""
    sent, sending = ids["sent_issue"], ids["sending_issue"]
    return [
        ("page overview", "/admin/stats", False),
        ("page newsletter (12 months by week)", "/admin/n/bench/stats", False),
        ("page newsletter (90 days by day)", "/admin/n/bench/stats?by=day&days=90", False),
        ("page newsletter (2 years by week)", "/admin/n/bench/stats?by=week&days=731", False),
        ("page issue (sent, settled)", f"/admin/issues/{sent}/stats", False),
        ("page issue (sending, live)", f"/admin/issues/{sending}/stats", False),
        ("csv overview", "/admin/stats/newsletters.csv", False),
        ("csv all issues", "/admin/stats/issues.csv", False),
        ("csv timeline", "/admin/n/bench/stats/timeline.csv", False),
        ("csv issue", f"/admin/issues/{sending}/stats.csv", False),
        ("api newsletters", "/api/v1/newsletters", True),
        ("api newsletter stats", "/api/v1/stats/newsletters/bench", True),
        ("api newsletter issues", "/api/v1/stats/newsletters/bench/issues", True),
        ("api issue (sent)", f"/api/v1/stats/issues/{sent}", True),
        ("api issue (sending)", f"/api/v1/stats/issues/{sending}", True),
    ]


def measure(app, ids: dict, repeat: int) -> dict[str, tuple[float, float]]:
    """(first request, median of the next `repeat`) in milliseconds, per call. The first request of a page
    may also count the days of events that are over (once a day) or settle an issue (once)."""
    from newsletter import api_tokens
    from newsletter.extensions import db
    from newsletter.models import User

    with app.app_context():
        admin = db.session.query(User).filter_by(email="admin@example.org").one()
        _, secret = api_tokens.create_token(admin, "bench")
        db.session.commit()
    client = app.test_client()
    client.post("/login", data={"email": "admin@example.org", "password": PASSWORD})
    results = {}
    for label, url, api in calls(ids):
        headers = {"Authorization": f"Bearer {secret}"} if api else {}
        timings = []
        for _ in range(repeat + 1):
            started = time.perf_counter()
            answer = client.get(url, headers=headers)
            timings.append((time.perf_counter() - started) * 1000)
            if answer.status_code != 200:
                raise SystemExit(f"{url}: HTTP {answer.status_code}")
        results[label] = (round(timings[0], 1), round(statistics.median(timings[1:]), 1))
    return results


def run(name: str, database_url: str, n: int, issues: int, repeat: int) -> dict:
    """Migrate a fresh database, seed it, measure; print each figure against the target."""
    from flask_migrate import upgrade
    from sqlalchemy import func, select

    from newsletter.extensions import db
    from newsletter.models import Delivery

    instance = tempfile.mkdtemp(prefix=f"bench-stats-{name}-")
    app = make_app(database_url, instance)
    started = time.perf_counter()
    logging.disable(logging.INFO)  # Alembic's progress lines
    with app.app_context():
        upgrade()
        ids = seed(n, issues)
        settle_sent_issues()
        vacuum_postgres()
        deliveries = db.session.scalar(select(func.count()).select_from(Delivery))
    print(f"== {name}: {n} subscribers, {deliveries} deliveries seeded in {time.perf_counter() - started:.0f} s",
          flush=True)
    results = measure(app, ids, repeat)
    print(f"{'median':>9}  {'call':<40} {'first':>9}", flush=True)
    for label, (first, ms) in results.items():
        verdict = "ok" if ms < TARGET_MS else "OVER"
        print(f"{ms:>9.1f}  {label:<40} {first:>9.1f}  ms; target {TARGET_MS} ms: {verdict}", flush=True)
    slowest = max(results, key=lambda label: results[label][1])
    first = max(results, key=lambda label: results[label][0])
    shutil.rmtree(instance, ignore_errors=True)
    return {"slowest_ms": results[slowest][1], "slowest": slowest, "slowest_first_ms": results[first][0],
            "slowest_first": first, "deliveries": deliveries}


def fresh_postgres(url: str) -> str | None:
    """An empty schema in the given database (created if missing); None if PostgreSQL is not reachable."""
    import psycopg

    plain = url.replace("postgresql+psycopg://", "postgresql://")
    base, _, name = plain.rpartition("/")
    try:
        with psycopg.connect(f"{base}/postgres", autocommit=True, connect_timeout=3) as connection:
            if not connection.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone():
                connection.execute(f'CREATE DATABASE "{name}"')
        with psycopg.connect(plain, autocommit=True) as connection:
            connection.execute("DROP SCHEMA public CASCADE; CREATE SCHEMA public")
    except psycopg.OperationalError as error:
        print(f"PostgreSQL skipped: {error}".splitlines()[0], flush=True)
        return None
    return url


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--subscribers", type=int, default=100_000)
    parser.add_argument("--issues", type=int, default=10)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--pg", default=os.environ.get("BENCH_DATABASE_URL",
                                                       "postgresql+psycopg://postgres@127.0.0.1:5432/newsletter_bench_stats"))
    parser.add_argument("--no-pg", action="store_true")
    args = parser.parse_args()
    summary = {"target_ms": TARGET_MS, "subscribers": args.subscribers}
    work = tempfile.mkdtemp(prefix="bench-stats-")
    summary["sqlite"] = run("sqlite", f"sqlite:///{work}/stats.db", args.subscribers, args.issues, args.repeat)
    shutil.rmtree(work, ignore_errors=True)
    pg_url = None if args.no_pg else fresh_postgres(args.pg)
    if pg_url:
        summary["postgresql"] = run("postgresql", pg_url, args.subscribers, args.issues, args.repeat)
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
