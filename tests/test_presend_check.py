"""The pre-send check: each refusal and each warning, triggered by an issue written for it; shared by UI and CLI."""

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from newsletter import publishing
from newsletter.checks import check_issue
from newsletter.extensions import db
from newsletter.models import Issue, utcnow
from tests.support.publishers import CLEAN_BODY, login, make_issue, post_form, publish


def draft(newsletter, subject="A quiet week", body=CLEAN_BODY):
    issue = publishing.create_issue(newsletter, newsletter.owner, subject, body)
    db.session.commit()
    return issue


def test_a_clean_issue_passes_without_warnings(newsletter):
    result = check_issue(draft(newsletter))
    assert result.refusals == [] and result.warnings == []


def test_refuses_an_issue_without_subject(newsletter):
    assert any("no subject" in r for r in check_issue(draft(newsletter, subject="   ")).refusals)


@pytest.mark.parametrize("body", ["", "   \n\n  ", "---\n\n***"])
def test_refuses_an_empty_issue(newsletter, body):
    assert any("empty" in r for r in check_issue(draft(newsletter, body=body)).refusals)


def test_refuses_an_image_only_issue(newsletter):
    body = "![Our new studio](https://example.org/a.jpg)\n\n![](https://example.org/b.jpg)"
    assert any("only images" in r for r in check_issue(draft(newsletter, body=body)).refusals)


def test_warns_about_a_link_heavy_body(newsletter):
    body = "Read [this](https://a.example), [that](https://b.example) and [more](https://c.example) today."
    warnings = check_issue(draft(newsletter, body=body)).warnings
    assert any("3 links for 1 paragraphs" in w for w in warnings)


def test_warns_about_an_all_caps_subject(newsletter):
    assert any("capital letters" in w for w in check_issue(draft(newsletter, subject="BIG NEWS TODAY!")).warnings)


def test_short_capitals_are_not_shouting(newsletter):
    assert check_issue(draft(newsletter, subject="FAQ: the new times")).warnings == []


def test_warns_about_a_very_long_subject(newsletter):
    subject = "A " + "very " * 16 + "long subject"
    assert len(subject) > 78
    assert any("most inboxes cut it" in w for w in check_issue(draft(newsletter, subject=subject)).warnings)


def test_warns_about_images_without_a_description(newsletter):
    body = CLEAN_BODY + "\n\n![](https://example.org/photo.jpg)"
    assert any("no description" in w for w in check_issue(draft(newsletter, body=body)).warnings)


def test_warns_when_images_carry_the_meaning(newsletter):
    body = "See the poster:\n\n![Poster of the spring retreat](https://example.org/poster.jpg)"
    assert any("Most of this issue is in images" in w for w in check_issue(draft(newsletter, body=body)).warnings)


def test_warns_about_sending_more_often_than_promised(newsletter):
    publish(newsletter, "Last week")  # the newsletter promises one issue every 14 days
    warnings = check_issue(draft(newsletter)).warnings
    assert any("every 14 days" in w for w in warnings)


def test_no_cadence_warning_once_the_promised_time_has_passed(newsletter):
    published = publish(newsletter, "A month ago")
    published.started_at = utcnow() - timedelta(days=30)
    db.session.commit()
    assert check_issue(draft(newsletter)).warnings == []


def test_cadence_is_measured_at_the_scheduled_time(newsletter):
    publish(newsletter, "Today")
    issue = draft(newsletter)
    assert check_issue(issue, at=utcnow() + timedelta(days=15)).warnings == []


def test_start_sending_refuses_and_changes_nothing(newsletter):
    issue = draft(newsletter, body="")
    with pytest.raises(publishing.IssueRefused):
        publishing.start_sending(issue)
    db.session.rollback()
    assert db.session.get(Issue, issue.id).status == "draft" and issue.started_at is None


def test_issue_page_shows_every_reason_before_sending(client, newsletter):
    issue = draft(newsletter, subject="READ THIS NOW PLEASE", body="[a](https://a.example) [b](https://b.example)")
    login(client, "maya@example.org")
    page = client.get(f"/admin/issues/{issue.id}").text
    assert "capital letters" in page and "2 links for 1 paragraphs" in page
    assert "I have read the warnings" in page


def test_sending_with_warnings_needs_them_acknowledged(client, newsletter):
    issue = draft(newsletter, subject="READ THIS NOW PLEASE")
    login(client, "maya@example.org")
    answer = post_form(client, f"/admin/issues/{issue.id}/send")
    assert answer.status_code == 400 and "tick the box" in answer.text
    db.session.expire_all()
    assert db.session.get(Issue, issue.id).status == "draft"
    assert post_form(client, f"/admin/issues/{issue.id}/send", {"acknowledge": "y", "confirmed": "1"}).status_code == 302
    db.session.expire_all()
    assert db.session.get(Issue, issue.id).status == "sending"


def test_a_refused_issue_cannot_be_sent_from_the_page(client, newsletter):
    issue = draft(newsletter, body="![](https://example.org/only.png)")
    login(client, "maya@example.org")
    page = client.get(f"/admin/issues/{issue.id}").text
    assert "only images" in page and "Send now" not in page
    answer = post_form(client, f"/admin/issues/{issue.id}/send", {"acknowledge": "y"})
    assert answer.status_code == 400 and "refuses" in answer.text
    db.session.expire_all()
    assert db.session.get(Issue, issue.id).status == "draft"


@pytest.fixture
def cli(app):
    runner = app.test_cli_runner()
    return lambda *args, input=None: runner.invoke(args=list(args), input=input)


def test_cli_prints_warnings_and_creates_the_draft(cli, newsletter, tmp_path):
    body = tmp_path / "issue.md"
    body.write_text("Read [a](https://a.example), [b](https://b.example).", encoding="utf-8")
    result = cli("issues", "create", newsletter.slug, "--subject", "Links", "--body-file", str(body))
    assert result.exit_code == 0, result.stderr
    assert "Warning:" in result.stderr and "2 links for 1 paragraphs" in result.stderr
    assert db.session.get(Issue, int(result.stdout.strip())).status == "draft"


@pytest.mark.parametrize("subject, text, reason", [
    ("Hello", "![](https://example.org/a.png)", "only images"),
    ("Hello", "", "empty"),
    ("", CLEAN_BODY, "no subject"),
])
def test_cli_refuses_with_exit_1_and_stores_nothing(cli, newsletter, tmp_path, subject, text, reason):
    body = tmp_path / "issue.md"
    body.write_text(text, encoding="utf-8")
    result = cli("issues", "create", newsletter.slug, "--subject", subject, "--body-file", str(body))
    assert result.exit_code == 1 and reason in result.stderr
    assert db.session.scalar(select(func.count(Issue.id))) == 0


def test_scheduled_issue_is_checked_too(newsletter):
    issue = draft(newsletter, body="")
    with pytest.raises(publishing.IssueRefused):
        publishing.schedule(issue, utcnow() + timedelta(days=1))
    db.session.rollback()
    assert make_issue(newsletter, "scheduled").status == "scheduled"


def test_warns_when_the_mails_html_nears_gmails_clipping_size(newsletter):
    result = check_issue(draft(newsletter, body="A calm sentence about breathing. " * 2750))  # ~92 KB of HTML
    assert result.refusals == []
    assert any("close to the 102 KB past which Gmail cuts the mail" in w for w in result.warnings)


def test_refuses_an_issue_gmail_would_clip_and_says_why(newsletter):
    result = check_issue(draft(newsletter, body="A calm sentence about breathing. " * 3400))  # ~110 KB
    assert any("Gmail cuts mail past 102 KB" in r and "unsubscribe link" in r for r in result.refusals)
    with pytest.raises(publishing.IssueRefused):
        publishing.start_sending(db.session.scalar(select(Issue).order_by(Issue.id.desc())))
