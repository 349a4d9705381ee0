"""The import page: upload, read the report, confirm; refusals store nothing; only the owner or an admin.

The check and the import run as background jobs (importer/jobs.py); here the test runs them, in its own thread,
with run_jobs, where a runner's thread would (test_import_jobs.py runs them through the runner itself).
"""

import io
import os
import time
from pathlib import Path

import pytest
from flask import current_app, g
from sqlalchemy import func, select

from newsletter import accounts, suppression
from newsletter.extensions import db
from newsletter.importer import jobs
from newsletter.models import Subscriber, Subscription, Suppression
from newsletter.states import SubscriptionStatus as S
from tests.conftest import create_demo_newsletter, csrf_token
from tests.test_import_cli import CORPUS, SHARE_URL, SUBSCRIBE_URL, table_counts

PAGE = "/admin/n/slow-mornings/import"


def login(client, email="maya@example.org", password="a long enough password"):
    # The test holds one app context, so `g` outlives requests: forget the previous client's user and token.
    for cached in ("_login_user", "csrf_token"):
        g.pop(cached, None)
    answer = client.post("/login", data={"csrf_token": csrf_token(client, "/login"), "email": email,
                                         "password": password})
    assert answer.status_code == 302, answer.text


def run_jobs() -> int:
    """What the runner's import thread does: run every queued job to its end."""
    return jobs.run_due_jobs(current_app._get_current_object(), "test-runner")


def send_file(client, path: Path | None = None, data: bytes | None = None, name: str | None = None, **options):
    """Post the file: the answer is the redirect to its job's page (or the form again, refused)."""
    content = data if data is not None else path.read_bytes()
    form = {"csrf_token": csrf_token(client, PAGE), "file": (io.BytesIO(content), name or path.name),
            **{key: "y" for key, on in options.items() if on}}
    return client.post(PAGE, data=form, content_type="multipart/form-data")


def upload(client, path: Path | None = None, data: bytes | None = None, name: str | None = None, **options):
    """Post the file, let the check run, and answer the job's page (the report, or the refusal)."""
    answer = send_file(client, path, data, name, **options)
    if answer.status_code != 303:
        return answer
    run_jobs()
    return client.get(answer.headers["Location"])


def confirm(client, report_page):
    action = report_page.text.split(f'action="{PAGE}/')[1].split('"')[0]
    answer = client.post(f"{PAGE}/{action}", data={"csrf_token": csrf_token(client, PAGE)})
    if answer.status_code != 303:
        return answer
    run_jobs()
    return client.get(answer.headers["Location"])


def uploads_left(app) -> list[str]:
    folder = Path(app.instance_path) / "uploads"
    return sorted(path.name for path in folder.iterdir()) if folder.exists() else []


@pytest.fixture
def owner(client, newsletter):
    login(client)
    return client


# --- permissions -------------------------------------------------------------------------------------------------


def test_anonymous_is_sent_to_login(client, newsletter):
    answer = client.get(PAGE)
    assert answer.status_code == 302 and "/login" in answer.headers["Location"]


def test_other_publisher_gets_404(client, newsletter):
    accounts.create_user("other@example.org", "a long enough password")
    db.session.commit()
    login(client, "other@example.org")
    assert client.get(PAGE).status_code == 404
    token = csrf_token(client, "/admin/")
    form = {"csrf_token": token, "file": (io.BytesIO(b"x"), "x.csv")}
    assert client.post(PAGE, data=form, content_type="multipart/form-data").status_code == 404


def test_owner_and_admin_see_the_page(app, client, newsletter):
    login(client)
    assert client.get(PAGE).status_code == 200
    accounts.create_user("admin@example.org", "an admin password", admin=True)
    db.session.commit()
    admin_client = app.test_client()
    login(admin_client, "admin@example.org", "an admin password")
    page = admin_client.get(PAGE)
    assert page.status_code == 200 and 'type="file"' in page.text


def test_another_publisher_cannot_confirm_an_upload(app, owner):
    report = upload(owner, CORPUS / "accepted" / "own-export.csv")
    action = report.text.split(f'action="{PAGE}/')[1].split('"')[0]
    accounts.create_user("other@example.org", "a long enough password")
    create_demo_newsletter("other-letter", owner="other@example.org")
    other = app.test_client()
    login(other, "other@example.org")
    token = csrf_token(other, "/admin/")
    assert other.post(f"{PAGE}/{action}", data={"csrf_token": token}).status_code == 404
    stolen = other.post(f"/admin/n/other-letter/import/{action}", data={"csrf_token": token})
    assert stolen.status_code == 404
    assert other.get(f"/admin/n/other-letter/import/{action}").status_code == 404
    assert run_jobs() == 0 and table_counts()["Subscription"] == 0


# --- refused files -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name, says", [
    ("google-contacts-new.csv", "address-book export"),
    ("Connections.csv", "social-network export"),
    ("phone-list.csv", "phone numbers"),
    ("bare-list.csv", "bare list of addresses"),
    ("signups-without-consent-columns.csv", "lacks the consent columns"),
    ("consented-with-phone-in-notes.csv", "phone numbers"),
])
def test_page_refuses_raw_lists_and_stores_nothing(app, owner, name, says):
    before = table_counts()
    answer = upload(owner, CORPUS / "refused" / name, name="subscribers.csv")
    assert answer.status_code == 200
    assert says in answer.text and "nothing of it was stored" in answer.text
    assert f'href="{SUBSCRIBE_URL}"' in answer.text and f'href="{SHARE_URL}"' in answer.text
    assert table_counts() == before and uploads_left(app) == []


def test_page_strict_refuses_a_file_with_a_bad_row(app, owner):
    answer = upload(owner, CORPUS / "accepted" / "french-excel-export.csv", strict=True)
    assert answer.status_code == 200 and "Consent_At" in answer.text and "nothing was stored" in answer.text
    assert table_counts()["Subscription"] == 0 and uploads_left(app) == []


# --- accepted files ------------------------------------------------------------------------------------------------


def test_french_excel_export_is_checked_then_imported_on_confirmation(app, owner):
    report = upload(owner, CORPUS / "accepted" / "french-excel-export.csv")
    assert report.status_code == 200, report.text
    assert "Import 5 readers" in report.text and "12/03/2024 10:05" in report.text
    assert table_counts()["Subscription"] == 0 and len(uploads_left(app)) == 1
    done = confirm(owner, report)
    assert done.status_code == 200 and "Import done" in done.text
    rows = db.session.scalars(select(Subscription)).all()
    assert len(rows) == 5 and {row.status for row in rows} == {S.CONFIRMED}
    assert {row.imported_from for row in rows} == {"french-excel-export.csv"}
    assert db.session.scalar(select(Subscriber.name).where(Subscriber.email == "zoe.lefevre@example.net")) \
        == "Zoë Lefèvre"
    assert uploads_left(app) == []


def test_confirming_twice_imports_once(app, owner):
    report = upload(owner, CORPUS / "accepted" / "own-export.csv")
    assert confirm(owner, report).status_code == 200
    assert confirm(owner, report).status_code == 410
    assert run_jobs() == 0
    assert table_counts()["Subscription"] == 5


def test_report_counts_readers_already_there(app, owner):
    confirm(owner, upload(owner, CORPUS / "accepted" / "own-export.csv"))
    report = upload(owner, CORPUS / "accepted" / "own-export.csv")
    assert "There is nothing to import from this file." in report.text
    assert "Import 0" not in report.text


def test_publisher_suppresses_addresses_for_their_own_newsletter_only(app, owner, newsletter):
    report = upload(owner, CORPUS / "suppressions" / "mailchimp-unsubscribed-members.csv", suppress=True)
    assert "Add 2 addresses to the suppression list" in report.text
    confirm(owner, report)
    rows = db.session.scalars(select(Suppression)).all()
    assert len(rows) == 2 and {row.newsletter_id for row in rows} == {newsletter.id}


# --- size limits and abandoned uploads ---------------------------------------------------------------------------------


@pytest.fixture
def small_app(make_app, smtp):
    app = make_app(START_SENDER=False, IMPORT_MAX_BYTES="1024")
    with app.app_context():
        create_demo_newsletter()
        yield app


def test_file_over_the_limit_is_refused_with_a_clear_message(small_app):
    client = small_app.test_client()
    login(client)
    answer = upload(client, data=b"email\n" + b"x" * 4000, name="big.csv")
    assert answer.status_code == 413 and "larger than 1 KB" in answer.text and 'type="file"' in answer.text
    assert uploads_left(small_app) == []


def test_body_over_werkzeug_limit_gets_the_form_not_a_crash(small_app):
    client = small_app.test_client()
    login(client)
    answer = upload(client, data=b"x" * (1024 * 1024 + 4096), name="huge.csv")
    assert answer.status_code == 413 and "larger than 1 KB" in answer.text and 'type="file"' in answer.text


def test_abandoned_uploads_are_deleted_by_the_next_upload(app, owner):
    folder = Path(app.instance_path) / "uploads"
    folder.mkdir(parents=True, exist_ok=True)
    old = folder / "abandonedupload0000000.csv"
    old.write_text("email\n")
    two_days_ago = time.time() - 2 * 24 * 3600
    os.utime(old, (two_days_ago, two_days_ago))
    upload(owner, CORPUS / "accepted" / "own-export.csv")
    assert not old.exists() and len(uploads_left(app)) == 1


def test_suppressed_reader_is_reported_on_the_page(app, owner, newsletter):
    suppression.suppress(suppression.hmac_of("alice.martin@example.org"), "hard_bounce")
    db.session.commit()
    report = upload(owner, CORPUS / "accepted" / "own-export.csv")
    assert "Import 4 readers" in report.text
    confirm(owner, report)
    assert db.session.scalar(select(func.count(Subscription.id))) == 4
