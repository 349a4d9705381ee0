"""The statistics pages for each role, and the figures they show (HTML, SVG charts, CSV) against counts made
here from the database.
"""

import csv
import io
import re
from html.parser import HTMLParser

import pytest
from sqlalchemy import func, select

from newsletter import accounts
from newsletter.extensions import db
from newsletter.models import Subscription
from tests.conftest import create_demo_newsletter
from tests.support.publishers import PASSWORD, forget_request_state, login
from tests.test_stats import (counted_deliveries, counted_feedback, counted_unsubscribes, join, readers_history,
                              sent_issue_world, stats_app)  # noqa: F401  (stats_app is a fixture)

EMAILS = {"publisher_a": "maya@example.org", "publisher_b": "bea@example.org", "admin": "admin@example.org"}
ROW_KEYS = ("data-issue", "data-newsletter", "data-start", "data-reason", "data-status")


class Figures(HTMLParser):
    """Collects `data-figure` cells, per table row (keyed by the row's data-* key) or page-wide (key None)."""

    def __init__(self):
        super().__init__()
        self.rows: dict = {None: {}}
        self.row = None
        self.cell: str | None = None
        self.cell_key = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "tr":
            self.row = next((attrs[k] for k in ROW_KEYS if k in attrs), None)
            self.rows.setdefault(self.row, {})
        if "data-figure" in attrs:
            self.cell, self.cell_key = "", attrs["data-figure"]
        elif tag in ("td", "th") and self.row is not None and tag == "td" and not self.rows[self.row].get("_first"):
            self.cell, self.cell_key = "", "_first"

    def handle_data(self, data):
        if self.cell is not None:
            self.cell += data

    def handle_endtag(self, tag):
        if tag in ("td", "dd") and self.cell is not None:
            self.rows.setdefault(self.row, {})[self.cell_key] = self.cell.strip()
            self.cell = None
        if tag == "tr":
            self.row = None


def figures_in(html: bytes) -> dict:
    parser = Figures()
    parser.feed(html.decode())
    return parser.rows


@pytest.fixture
def world(stats_app, smtp):
    """Publisher A's newsletter with a sent issue and a history; publisher B's newsletter; an admin."""
    sent = sent_issue_world(stats_app, smtp)
    other = create_demo_newsletter("deep-rest", owner="bea@example.org")
    join(other, "zoe@example.net")
    accounts.create_user("admin@example.org", PASSWORD, admin=True)
    db.session.commit()
    return {**sent, "other": other}


def client_as(app, role: str):
    client = app.test_client()
    forget_request_state()
    if role != "anonymous":
        assert login(client, EMAILS[role]).status_code == 302
    forget_request_state()
    return client


def test_anonymous_is_sent_to_login(stats_app, world):
    client = client_as(stats_app, "anonymous")
    issue = world["issue"]
    for url in ("/admin/stats", "/admin/stats/issues.csv", "/admin/n/slow-mornings/stats",
                "/admin/n/slow-mornings/stats/timeline.csv", f"/admin/issues/{issue.id}/stats",
                f"/admin/issues/{issue.id}/stats.csv", "/admin/tokens"):
        answer = client.get(url)
        assert answer.status_code == 302 and "/login" in answer.headers["Location"], url


@pytest.mark.parametrize("role, sees", [("publisher_a", {"slow-mornings"}), ("publisher_b", {"deep-rest"}),
                                        ("admin", {"slow-mornings", "deep-rest"})])
def test_the_overview_shows_your_newsletters_or_all_for_an_admin(stats_app, world, role, sees):
    page = client_as(stats_app, role).get("/admin/stats")
    assert page.status_code == 200
    rows = figures_in(page.data)
    assert {key for key in rows if key in ("slow-mornings", "deep-rest")} == sees
    issue_rows = {key for key in rows if key and key.isdigit()}
    assert issue_rows == ({str(world["issue"].id)} if "slow-mornings" in sees else set())
    csv_text = client_as(stats_app, role).get("/admin/stats/newsletters.csv").get_data(as_text=True)
    assert {row["slug"] for row in csv.DictReader(io.StringIO(csv_text))} == sees


@pytest.mark.parametrize("url", ["/admin/n/slow-mornings/stats", "/admin/n/slow-mornings/stats/issues.csv",
                                 "/admin/n/slow-mornings/stats/timeline.csv", "/admin/n/slow-mornings/stats/reasons.csv",
                                 "/admin/issues/{issue}/stats", "/admin/issues/{issue}/stats.csv"])
def test_publisher_b_gets_404_on_a_s_statistics_and_the_admin_gets_them(stats_app, world, url):
    url = url.format(issue=world["issue"].id)
    assert client_as(stats_app, "publisher_b").get(url).status_code == 404
    assert client_as(stats_app, "admin").get(url).status_code == 200
    assert client_as(stats_app, "publisher_a").get(url).status_code == 200


def test_b_s_issues_are_not_in_a_s_csv(stats_app, world, smtp):
    from tests.support.sending_helpers import new_issue, send_to_the_end, start_sending

    theirs = new_issue(world["other"], subject="Bea's issue")
    start_sending(theirs)
    send_to_the_end(stats_app, theirs.id)
    text = client_as(stats_app, "publisher_a").get("/admin/stats/issues.csv").get_data(as_text=True)
    assert [row["subject"] for row in csv.DictReader(io.StringIO(text))] == ["Spring notes"]
    text = client_as(stats_app, "admin").get("/admin/stats/issues.csv").get_data(as_text=True)
    assert sorted(row["subject"] for row in csv.DictReader(io.StringIO(text))) == ["Bea's issue", "Spring notes"]


def test_issue_page_figures_equal_the_counts(stats_app, world):
    issue = world["issue"]
    page = client_as(stats_app, "publisher_a").get(f"/admin/issues/{issue.id}/stats")
    rows = figures_in(page.data)
    deliveries, feedback = counted_deliveries(issue.id), counted_feedback(issue.id)
    assert {status: int(rows[status]["_first"]) for status in deliveries} == deliveries
    shown = rows[None]
    assert (int(shown["replies"]), int(shown["complaints"]), int(shown["soft_bounces"])) == (
        feedback["replies"], feedback["complaints"], feedback["soft_bounces"])
    assert int(shown["unsubscribes"]) == counted_unsubscribes(issue.id)
    assert int(rows["too_often"]["_first"]) == 1
    assert b'role="img"' in page.data and b"<title id=\"parts-title\">" in page.data and b"<desc" in page.data


def test_issue_csv_equals_the_counts(stats_app, world):
    issue = world["issue"]
    answer = client_as(stats_app, "admin").get(f"/admin/issues/{issue.id}/stats.csv")
    assert answer.mimetype == "text/csv" and "attachment" in answer.headers["Content-Disposition"]
    values = {row["figure"]: row["value"] for row in csv.DictReader(io.StringIO(answer.get_data(as_text=True)))}
    assert {status: int(values[status]) for status in counted_deliveries(issue.id)} == counted_deliveries(issue.id)
    assert int(values["replies"]) == counted_feedback(issue.id)["replies"]
    assert int(values["unsubscribes"]) == counted_unsubscribes(issue.id)
    assert int(values["unsubscribe_reason_too_often"]) == 1


def test_newsletter_page_figures_equal_the_counts(stats_app, world):
    newsletter = world["newsletter"]
    page = client_as(stats_app, "publisher_a").get("/admin/n/slow-mornings/stats?by=day&days=30")
    assert page.status_code == 200
    rows = figures_in(page.data)
    statuses = dict(db.session.execute(select(Subscription.status, func.count())
                                       .where(Subscription.newsletter_id == newsletter.id)
                                       .group_by(Subscription.status)).all())
    for status in ("confirmed", "pending", "unsubscribed", "bounced", "complained"):
        assert int(rows[None][status]) == statuses.get(status, 0), status
    issue_row = rows[str(world["issue"].id)]
    assert int(issue_row["sent"]) == counted_deliveries(world["issue"].id)["sent"]
    assert int(issue_row["replies"]) == 3
    assert int(rows["too_often"]["_first"]) == 1


def test_timeline_table_chart_and_csv_agree_with_the_history(stats_app):
    newsletter = create_demo_newsletter()
    confirmed, _ = readers_history(newsletter)
    accounts.create_user("admin@example.org", PASSWORD, admin=True)
    db.session.commit()
    client = client_as(stats_app, "admin")
    page = client.get("/admin/n/slow-mornings/stats?by=day&days=6")
    rows = figures_in(page.data)
    assert {day: int(rows[day.isoformat()]["confirmed"]) for day in confirmed} == confirmed
    assert page.data.count(b"<svg") == 2 and b"<desc id=\"readers-chart-desc\">" in page.data
    text = client.get("/admin/n/slow-mornings/stats/timeline.csv?by=day&days=6").get_data(as_text=True)
    assert {row["start"]: int(row["confirmed"]) for row in csv.DictReader(io.StringIO(text))} == {
        day.isoformat(): count for day, count in confirmed.items()}


def test_pages_keep_the_content_security_policy(stats_app, world):
    client = client_as(stats_app, "admin")
    for url in ("/admin/stats", "/admin/n/slow-mornings/stats", f"/admin/issues/{world['issue'].id}/stats",
                "/admin/tokens"):
        html = client.get(url).data
        assert b" style=" not in html and b"<style" not in html, url
        assert not re.search(rb"<script(?![^>]*\ssrc=)", html), url
        assert b"stats.css" in html


def test_text_in_a_csv_cannot_become_a_formula(stats_app, smtp):
    from tests.support.sending_helpers import new_issue, start_sending

    newsletter = create_demo_newsletter()
    start_sending(new_issue(newsletter, subject='=HYPERLINK("http://evil.example")'))
    text = client_as(stats_app, "publisher_a").get("/admin/n/slow-mornings/stats/issues.csv").get_data(as_text=True)
    [row] = csv.DictReader(io.StringIO(text))
    assert row["subject"] == "'=HYPERLINK(\"http://evil.example\")"


@pytest.mark.parametrize("query", ["by=year", "days=-3", "days=99999999999999999999", "before=junk",
                                   "before=99999999999999999999", "by=day&days=%00"])
def test_junk_parameters_are_harmless(stats_app, world, query):
    client = client_as(stats_app, "publisher_a")
    assert client.get(f"/admin/stats?{query}").status_code == 200
    assert client.get(f"/admin/n/slow-mornings/stats?{query}").status_code == 200


@pytest.mark.parametrize("url", ["/admin/stats", "/admin/stats/newsletters.csv", "/admin/n/slow-mornings/stats",
                                 "/admin/n/slow-mornings/stats/timeline.csv"])
def test_days_counted_for_a_page_are_kept_for_the_next_one(stats_app, world, url):
    from newsletter.models import Newsletter

    assert client_as(stats_app, "publisher_a").get(url).status_code == 200
    db.session.rollback()  # the test shares the requests' session: drop what they did not commit
    assert db.session.scalar(select(Newsletter.event_days_through).where(Newsletter.slug == "slow-mornings"))
