"""The composer: write in Markdown, save drafts, preview (desktop, phone, text), send a test to yourself."""

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from newsletter import publishing
from newsletter.extensions import db
from newsletter.models import Issue, SystemMail, utcnow
from tests.support.publishers import CLEAN_BODY, login, make_issue, post_form


@pytest.fixture
def maya(client, newsletter):
    login(client, "maya@example.org")
    return client


def issue_count() -> int:
    return db.session.scalar(select(func.count(Issue.id)))


def test_write_and_save_a_draft(maya, newsletter):
    answer = post_form(maya, f"/admin/n/{newsletter.slug}/issues/new",
                       {"subject": "Morning light", "body": CLEAN_BODY, "action": "save"})
    assert answer.status_code == 302
    issue = db.session.scalar(select(Issue))
    assert (issue.subject, issue.body_markdown, issue.status) == ("Morning light", CLEAN_BODY, "draft")
    assert issue.created_by.email == "maya@example.org"
    page = maya.get(answer.headers["Location"])
    assert "The draft is saved." in page.text and "Morning light" in page.text


def test_save_and_preview_goes_to_the_preview(maya, newsletter):
    answer = post_form(maya, f"/admin/n/{newsletter.slug}/issues/new",
                       {"subject": "Morning light", "body": CLEAN_BODY, "action": "preview"})
    assert answer.status_code == 302 and answer.headers["Location"].endswith("/preview")
    page = maya.get(answer.headers["Location"]).text
    assert 'class="mail-html desktop"' in page and 'class="mail-html phone"' in page
    assert 'sandbox="allow-popups allow-popups-to-escape-sandbox"' in page and "allow-scripts" not in page
    assert "short guide (https://example.org/guide)" in page  # the text part, in a <pre>


def test_preview_frame_holds_the_html_part_with_inlined_styles(maya, newsletter):
    issue = make_issue(newsletter)
    answer = maya.get(f"/admin/issues/{issue.id}/preview.html")
    assert answer.status_code == 200
    assert 'style="' in answer.text and "<style" not in answer.text
    assert '<a href="https://example.org/guide"' in answer.text
    policy = answer.headers["Content-Security-Policy"]
    assert "script-src" not in policy and "default-src 'none'" in policy and "sandbox" in policy


def test_edit_a_draft(maya, newsletter):
    issue = make_issue(newsletter)
    answer = post_form(maya, f"/admin/issues/{issue.id}", {"subject": "Better title", "body": "New text."})
    assert answer.status_code == 302
    db.session.expire_all()
    assert (issue.subject, issue.body_markdown) == ("Better title", "New text.")


def test_a_scheduled_issue_is_not_edited(maya, newsletter):
    issue = make_issue(newsletter, "scheduled")
    answer = post_form(maya, f"/admin/issues/{issue.id}", {"subject": "Sneaky", "body": "Changed"})
    assert answer.status_code == 400 and "Only a draft can be changed" in answer.text
    db.session.expire_all()
    assert issue.subject == "A quiet week"


@pytest.mark.parametrize("subject", ["Hello\r\nBcc: victim@example.org", "Hello\nthere", "Nul\x00"])
def test_line_breaks_in_a_subject_are_a_form_error(maya, newsletter, subject):
    answer = post_form(maya, f"/admin/n/{newsletter.slug}/issues/new", {"subject": subject, "body": "Text"})
    assert answer.status_code == 400 and "on one line" in answer.text
    assert issue_count() == 0


def test_a_huge_body_is_a_form_error(maya, newsletter):
    body = "word " * (publishing.MAX_BODY_LENGTH // 5 + 10)
    answer = post_form(maya, f"/admin/n/{newsletter.slug}/issues/new", {"subject": "Big", "body": body})
    assert answer.status_code == 400 and "at most" in answer.text
    assert issue_count() == 0


def test_send_a_test_to_yourself_queues_one_mail_to_you_only(maya, newsletter):
    issue = make_issue(newsletter)
    answer = post_form(maya, f"/admin/issues/{issue.id}/test")
    assert answer.status_code == 302
    mails = db.session.scalars(select(SystemMail)).all()
    assert [(m.kind, m.recipient) for m in mails] == [("issue_test", "maya@example.org")]
    assert db.session.get(Issue, issue.id).status == "draft"


@pytest.mark.parametrize("when, message", [
    ("not a date", "Enter a date and time"),
    ("2020-01-01T10:00", "at least a few minutes from now"),
    ("9999-12-31T23:59", "within the coming year"),
    ("", "Choose a date and a time"),
])
def test_bad_schedule_dates_are_form_errors(maya, newsletter, when, message):
    issue = make_issue(newsletter)
    answer = post_form(maya, f"/admin/issues/{issue.id}/schedule", {"schedule-when": when})
    assert answer.status_code == 400 and message in answer.text
    db.session.expire_all()
    assert issue.status == "draft" and issue.scheduled_at is None


def test_schedule_then_unschedule(maya, newsletter):
    issue = make_issue(newsletter)
    when = (utcnow() + timedelta(days=3)).replace(second=0, microsecond=0)
    answer = post_form(maya, f"/admin/issues/{issue.id}/schedule", {"schedule-when": when.strftime("%Y-%m-%dT%H:%M"),
                                                                    "schedule-confirmed": "1"})
    assert answer.status_code == 302
    db.session.expire_all()
    assert issue.status == "scheduled" and issue.scheduled_at == when
    assert post_form(maya, f"/admin/issues/{issue.id}/unschedule").status_code == 302
    db.session.expire_all()
    assert issue.status == "draft" and issue.scheduled_at is None


def test_send_pause_resume_cancel_and_progress(maya, newsletter):
    issue = make_issue(newsletter)
    assert post_form(maya, f"/admin/issues/{issue.id}/send", {"confirmed": "1"}).status_code == 302
    progress = maya.get(f"/admin/issues/{issue.id}/progress.json").json
    assert progress["status"] == "sending" and progress["started_at"] and progress["counts"]["sent"] == 0
    page = maya.get(f"/admin/issues/{issue.id}").text
    assert "Pause" in page and "Refresh" in page and 'data-progress-url=' in page
    for action, status in (("pause", "paused"), ("resume", "sending"), ("cancel", "cancelled")):
        assert post_form(maya, f"/admin/issues/{issue.id}/{action}").status_code == 302
        db.session.expire_all()
        assert issue.status == status
    assert issue.stop_reason and issue.finished_at


def test_an_impossible_action_changes_nothing(maya, newsletter):
    issue = make_issue(newsletter)
    answer = post_form(maya, f"/admin/issues/{issue.id}/resume")
    assert answer.status_code == 409
    db.session.expire_all()
    assert issue.status == "draft"


def test_email_parts_inline_styles_and_text_carries_content_and_links(newsletter):
    issue = make_issue(newsletter, body=CLEAN_BODY + "\n\n- one\n- two\n\n> A quote")
    preview = publishing.preview(issue, newsletter.owner)
    assert "<style" not in preview.html and 'style="' in preview.html
    assert "short guide (https://example.org/guide)" in preview.text
    assert "- one\n- two" in preview.text and "> A quote" in preview.text
    assert "<" not in preview.text.split("--")[0].replace("<https", "")  # text, not stripped tags


@pytest.fixture
def cli(app):
    runner = app.test_cli_runner()
    return lambda *args, input=None: runner.invoke(args=list(args), input=input)


def test_cli_creates_a_draft_and_prints_its_id(cli, newsletter, tmp_path):
    body = tmp_path / "issue.md"
    body.write_text(CLEAN_BODY, encoding="utf-8")
    result = cli("issues", "create", newsletter.slug, "--subject", "Über den Morgen", "--body-file", str(body))
    assert result.exit_code == 0, result.stderr
    issue = db.session.get(Issue, int(result.stdout.strip()))
    assert (issue.subject, issue.body_markdown, issue.status) == ("Über den Morgen", CLEAN_BODY, "draft")


@pytest.mark.parametrize("args, content, message", [
    (["nope", "--subject", "S"], CLEAN_BODY.encode(), "no newsletter called 'nope'"),
    (["slow-mornings", "--subject", "S\r\nBcc: x@example.org"], CLEAN_BODY.encode(), "line breaks"),
    (["slow-mornings", "--subject", "S"], "Café".encode("latin-1"), "not UTF-8"),
])
def test_cli_refusals_exit_1_and_store_nothing(cli, newsletter, tmp_path, args, content, message):
    body = tmp_path / "issue.md"
    body.write_bytes(content)
    result = cli("issues", "create", *args, "--body-file", str(body))
    assert result.exit_code == 1 and message in result.stderr
    assert issue_count() == 0


def test_cli_usage_errors_exit_2(cli, newsletter, tmp_path):
    assert cli("issues", "create", newsletter.slug, "--subject", "S").exit_code == 2
    assert cli("issues", "create", newsletter.slug, "--subject", "S", "--body-file", str(tmp_path / "no.md")).exit_code == 2


def test_a_test_mail_with_a_non_ascii_subject_survives_a_real_smtp_server(live_app, live_client, smtp):
    subject = "Café, œuvres & naïveté — 静けさ 🌅"
    login(live_client, "maya@example.org")
    answer = post_form(live_client, "/admin/n/slow-mornings/issues/new", {"subject": subject, "body": CLEAN_BODY})
    issue_path = answer.headers["Location"]
    assert post_form(live_client, issue_path + "/test").status_code == 302
    received = smtp.wait_for(1)[0]
    assert received.recipients == ["maya@example.org"]
    assert all(byte < 128 for byte in received.raw.split(b"\r\n\r\n", 1)[0])  # headers are RFC 2047 encoded
    message = received.message
    assert message["Subject"] == "[TEST] " + subject  # never mistaken for the real issue
    assert message.get_content_type() == "multipart/alternative"
    html = message.get_body(("html",)).get_content()
    text = message.get_body(("plain",)).get_content()
    assert 'style="' in html and "<style" not in html
    assert "short guide (https://example.org/guide)" in text and subject in text
