"""Drafts are hard to lose (autosave, discard with undo for 30 days), sends and schedules are confirmed with the
exact count, and times are typed and read in the publisher's own time zone."""

from datetime import datetime, timedelta, timezone

import pytest

from newsletter import publishing, timezones
from newsletter.errors import InvalidInput, Refused
from newsletter.extensions import db
from newsletter.models import Issue, utcnow
from tests.support.publishers import login, make_issue, post_form
from tests.support.sending_helpers import confirmed_readers


@pytest.fixture
def maya(client, newsletter):
    login(client, "maya@example.org")
    return client


def test_autosave_of_a_new_issue_creates_the_draft_and_names_its_page(maya, newsletter):
    answer = post_form(maya, f"/admin/n/{newsletter.slug}/issues/autosave", {"subject": "Dawn", "body": "Words"})
    assert answer.status_code == 200
    issue = db.session.scalars(db.select(Issue)).one()
    assert (issue.subject, issue.body_markdown, issue.status) == ("Dawn", "Words", "draft")
    assert answer.json["issue_url"] == f"/admin/issues/{issue.id}" and answer.json["saved_at"]
    again = post_form(maya, answer.json["autosave_url"], {"subject": "Dawn", "body": "More words"})
    assert again.status_code == 200 and db.session.get(Issue, issue.id).body_markdown == "More words"


def test_autosave_refuses_a_subject_with_a_line_break_and_keeps_the_stored_text(maya, newsletter):
    issue = make_issue(newsletter)
    answer = post_form(maya, f"/admin/issues/{issue.id}/autosave", {"subject": "Two\nlines", "body": "x"})
    assert answer.status_code == 400 and "on one line" in answer.json["error"]
    db.session.expire_all()
    assert issue.subject == "A quiet week"


def test_autosave_of_a_scheduled_issue_is_refused(maya, newsletter):
    issue = make_issue(newsletter, "scheduled")
    answer = post_form(maya, f"/admin/issues/{issue.id}/autosave", {"subject": "Sneaky", "body": "x"})
    assert answer.status_code == 409 and "Only a draft can be changed" in answer.json["error"]


def test_send_now_first_shows_the_exact_count_and_sends_nothing(maya, newsletter):
    confirmed_readers(newsletter, 2)
    issue = make_issue(newsletter)
    answer = post_form(maya, f"/admin/issues/{issue.id}/send")
    assert answer.status_code == 200 and "Send “A quiet week” to 2 readers now?" in answer.text
    db.session.expire_all()
    assert issue.status == "draft"
    assert post_form(maya, f"/admin/issues/{issue.id}/send", {"confirmed": "1"}).status_code == 302
    db.session.expire_all()
    assert issue.status == "sending" and issue.planned == 2


def test_schedule_is_typed_in_the_publishers_zone_and_stored_in_utc(maya, newsletter):
    timezones.set_zone(newsletter.owner, "Europe/Paris")
    db.session.commit()
    issue = make_issue(newsletter)
    day = (utcnow() + timedelta(days=10)).date()
    form = {"schedule-when": f"{day.isoformat()}T09:30"}
    ask = post_form(maya, f"/admin/issues/{issue.id}/schedule", form)
    assert ask.status_code == 200 and "(Europe/Paris time)" in ask.text
    db.session.expire_all()
    assert issue.status == "draft"
    assert post_form(maya, f"/admin/issues/{issue.id}/schedule", {**form, "schedule-confirmed": "1"}).status_code == 302
    db.session.expire_all()
    local = datetime(day.year, day.month, day.day, 9, 30)
    assert issue.scheduled_at == timezones.to_utc(local, "Europe/Paris")
    assert "(Europe/Paris time)" in maya.get(f"/admin/issues/{issue.id}").text


def test_a_zone_that_does_not_exist_is_a_form_error(maya, newsletter):
    answer = post_form(maya, "/admin/time-zone", {"zone": "Europe/Atlantis"})
    assert answer.status_code == 400 and "Choose a time zone from the list" in answer.text
    db.session.expire_all()
    assert newsletter.owner.timezone is None
    assert post_form(maya, "/admin/time-zone", {"zone": "America/Montreal"}).status_code == 302
    db.session.expire_all()
    assert newsletter.owner.timezone == "America/Montreal"


def test_a_browser_zone_is_taken_only_when_the_account_has_none(newsletter):
    user = newsletter.owner
    timezones.adopt_browser_zone(user, "Not/AZone")
    assert user.timezone is None
    timezones.adopt_browser_zone(user, "Europe/Paris")
    timezones.adopt_browser_zone(user, "Asia/Tokyo")
    assert user.timezone == "Europe/Paris"
    with pytest.raises(InvalidInput):
        timezones.check_zone("")


def test_a_wall_clock_time_skipped_by_the_spring_change_still_lands_on_a_real_moment():
    moment = timezones.to_utc(datetime(2027, 3, 28, 2, 30), "Europe/Paris")
    assert moment == datetime(2027, 3, 28, 1, 30, tzinfo=timezone.utc)


def test_discard_asks_first_then_the_list_offers_restore(maya, newsletter):
    issue = make_issue(newsletter)
    ask = post_form(maya, f"/admin/issues/{issue.id}/discard")
    assert ask.status_code == 200 and "Discard “A quiet week”?" in ask.text
    db.session.expire_all()
    assert issue.status == "draft"
    assert post_form(maya, f"/admin/issues/{issue.id}/discard", {"confirmed": "1"}).status_code == 302
    db.session.expire_all()
    assert issue.status == "discarded" and issue.discarded_at
    listing = maya.get(f"/admin/n/{newsletter.slug}").text
    assert "Discarded" in listing and f"/admin/issues/{issue.id}/restore" in listing
    assert post_form(maya, f"/admin/issues/{issue.id}/restore").status_code == 302
    db.session.expire_all()
    assert issue.status == "draft" and issue.discarded_at is None


def test_a_draft_discarded_over_30_days_ago_is_gone_from_the_list_and_cannot_return(newsletter):
    issue = make_issue(newsletter, "discarded")
    later = utcnow() + timedelta(days=31)
    assert publishing.issues_of(newsletter, now=later) == []
    with pytest.raises(Refused):
        publishing.restore(issue, now=later)


def test_a_cancelled_send_is_not_restored(newsletter):
    issue = make_issue(newsletter, "sending")
    publishing.cancel(issue)
    with pytest.raises(Refused):
        publishing.restore(issue)
