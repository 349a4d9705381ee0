"""The readers export runs as a background job (issue 15): the publisher asks for it, its page shows rows written
of the total and survives a reload, then offers the file (the same bytes as the command line's export) to the
newsletter's publisher or an admin only, until it is deleted on request or a day after it was written; a limit of
pending exports per person; a runner that dies is taken over; and under a real `gunicorn -w 2 --timeout 30`."""

import io
import os
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import requests
from flask import current_app
from sqlalchemy import func, select, update

from newsletter import accounts
from newsletter.admin_jobs import dispatch, exports, leases, queue
from newsletter.export import export_subscribers
from newsletter.extensions import db
from newsletter.models import AdminJob, Newsletter
from newsletter.states import AdminJobStatus as A
from tests.conftest import create_demo_newsletter
from tests.support.publishers import PASSWORD, forget_request_state, login, post_form
from tests.support.sending_helpers import confirmed_readers
from tests.support.smtp_server import free_port
from tests.test_import_jobs import csrf_of, gunicorn, wait_for, wait_until

PAGE = "/admin/n/slow-mornings/exports"


def run_jobs() -> int:
    """What the runner's job thread does: run every queued job to its end."""
    return dispatch.run_due_jobs(current_app._get_current_object(), "test-runner")


def only_job() -> AdminJob:
    db.session.expire_all()
    return db.session.scalars(select(AdminJob)).one()


def files_left(app) -> list[str]:
    folder = Path(app.instance_path) / "exports"
    return sorted(path.name for path in folder.iterdir()) if folder.exists() else []


def ask_export(client):
    """Press Export: the answer is the redirect to the job's page (or the exports page again, refused)."""
    return post_form(client, PAGE)


def command_line_export(newsletter) -> bytes:
    out = io.StringIO(newline="")
    export_subscribers(newsletter, out)
    return out.getvalue().encode("utf-8")


@pytest.fixture
def owner(client, newsletter):
    login(client, "maya@example.org")
    return client


def test_the_export_is_a_job_whose_page_survives_a_reload_then_offers_the_command_lines_file(app, owner, newsletter):
    confirmed_readers(newsletter, 3)
    assert f'href="{PAGE}"' in owner.get("/admin/n/slow-mornings/subscribers").text
    assert f'action="{PAGE}"' in owner.get(PAGE).text
    answer = ask_export(owner)
    assert answer.status_code == 303
    job_page = answer.headers["Location"]
    for _ in range(2):  # nothing runs it yet: the page says so, and reloads itself
        page = owner.get(job_page)
        assert page.status_code == 200 and "Waiting for a worker to start it." in page.text
        assert "import_progress.js" in page.text and "Rows written" in page.text
        live = owner.get(f"{job_page}/progress.json").json
        assert live["status"] == "queued" and "Waiting for a worker to start it." in live["html"]
    assert "being written" in owner.get(PAGE).text and files_left(app) == []
    assert run_jobs() == 1
    ready = owner.get(job_page)
    assert "Export ready" in ready.text and "3 confirmed readers" in ready.text and "data-job-status" not in ready.text
    assert owner.get(f"{job_page}/progress.json").json["status"] == "done"  # the script reloads the page
    download = owner.get(f"{job_page}/download")
    assert download.status_code == 200 and download.mimetype == "text/csv"
    assert download.headers["Content-Disposition"] == "attachment; filename=slow-mornings-readers.csv"
    assert download.headers["Cache-Control"] == "no-store"
    assert download.data == command_line_export(newsletter) and download.data.count(b"\r\n") == 4
    assert len(files_left(app)) == 1 and only_job().rows_done == 3


def test_delete_now_removes_the_file_and_the_download_is_gone(app, owner, newsletter):
    confirmed_readers(newsletter, 2)
    job_page = ask_export(owner).headers["Location"]
    run_jobs()
    assert post_form(owner, f"{job_page}/delete").status_code == 303
    assert files_left(app) == [] and only_job().status == A.DELETED
    assert owner.get(f"{job_page}/download").status_code == 404
    assert "Export deleted" in owner.get(job_page).text


def test_an_export_deleted_before_it_runs_is_never_written(app, owner, newsletter):
    confirmed_readers(newsletter, 2)
    job_page = ask_export(owner).headers["Location"]
    post_form(owner, f"{job_page}/delete")
    assert run_jobs() == 0 and files_left(app) == [] and only_job().status == A.DELETED


def test_the_page_shows_rows_written_of_the_total_while_the_job_runs(app, owner, newsletter):
    job_page = ask_export(owner).headers["Location"]
    job = only_job()
    db.session.execute(update(AdminJob).values(lease_owner="elsewhere", started_at=datetime.now(UTC) - timedelta(
        seconds=30), lease_until=datetime.now(UTC) + timedelta(seconds=60)))
    db.session.commit()
    progress = exports.Progress(total=400_000, done=100_000)
    leases.Heartbeat(current_app._get_current_object(), AdminJob, queue.RUNNABLE, job.id, "elsewhere",
                     progress.values, progress.lost).beat()
    page = owner.get(job_page).text
    assert re.search(r'data-field="rows_done">100000<', page) and re.search(r'data-field="rows_total">400000<', page)
    assert "25% done." in page and "About 90 s left." in page
    assert not progress.lost.is_set()


def test_the_embedded_runner_runs_the_export(live_app):
    client = live_app.test_client()
    with live_app.app_context():
        newsletter = db.session.scalars(select(Newsletter)).one()
        confirmed_readers(newsletter, 30)
        expected = command_line_export(newsletter)
        login(client, "maya@example.org")
        answer = ask_export(client)
        db.session.remove()
    assert answer.status_code == 303
    wait_for(lambda: client.get(answer.headers["Location"]).text, "Export ready")
    assert client.get(f"{answer.headers['Location']}/download").data == expected


def test_only_the_newsletters_publisher_or_an_admin_sees_and_downloads_it(app, owner, newsletter):
    confirmed_readers(newsletter, 2)
    create_demo_newsletter(slug="deep-rest", owner="bea@example.org")
    accounts.create_user("admin@example.org", PASSWORD, admin=True)
    db.session.commit()
    job_page = ask_export(owner).headers["Location"]
    run_jobs()
    bea = app.test_client()
    login(bea, "bea@example.org")
    job_id = only_job().id
    for url in (job_page, f"{job_page}/progress.json", f"{job_page}/download",
                f"/admin/n/deep-rest/exports/{job_id}", f"/admin/n/deep-rest/exports/{job_id}/download"):
        forget_request_state()
        assert bea.get(url).status_code == 404, url
    assert post_form(bea, f"{job_page}/delete").status_code == 404
    assert post_form(bea, f"/admin/n/deep-rest/exports/{job_id}/delete").status_code == 404  # her newsletter's URL
    assert only_job().status == A.DONE and len(files_left(app)) == 1
    admin = app.test_client()
    login(admin, "admin@example.org")
    forget_request_state()
    assert admin.get(f"{job_page}/download").data == command_line_export(newsletter)


@pytest.mark.parametrize("suffix", ["", "/progress.json", "/download"])
@pytest.mark.parametrize("job_id", ["0", "999999", "99999999999999999999", "-1", "abc"])
def test_bad_job_ids_are_404_not_500(app, owner, job_id, suffix):
    assert owner.get(f"{PAGE}/{job_id}{suffix}").status_code == 404
    assert post_form(owner, f"{PAGE}/{job_id}/delete").status_code == 404


def test_a_file_is_deleted_a_day_after_it_was_written_by_the_runners_pass(app, owner, newsletter):
    confirmed_readers(newsletter, 2)
    job_page = ask_export(owner).headers["Location"]
    run_jobs()
    (Path(app.instance_path) / "exports" / "stray.1.part").write_text("a crashed runner's file")
    assert len(files_left(app)) == 2
    day_ago = datetime.now(UTC) - timedelta(seconds=exports.KEEP_SECONDS + 1)
    db.session.execute(update(AdminJob).values(finished_at=day_ago))
    db.session.commit()
    stray = Path(app.instance_path) / "exports" / "stray.1.part"
    os.utime(stray, (day_ago.timestamp(), day_ago.timestamp()))
    assert run_jobs() == 0
    assert only_job().status == A.DELETED and files_left(app) == []
    assert owner.get(f"{job_page}/download").status_code == 404


def test_pending_exports_are_limited_per_person_with_a_clear_message(make_app, smtp):
    app = make_app(START_SENDER=False, EXPORT_PENDING_JOBS="1")
    with app.app_context():
        create_demo_newsletter()
        client = app.test_client()
        login(client, "maya@example.org")
        first = ask_export(client)
        assert first.status_code == 303
        refused = ask_export(client)
        assert refused.status_code == 429
        assert "You already have 1 exports waiting or being written" in refused.text
        assert db.session.scalar(select(func.count(AdminJob.id))) == 1
        run_jobs()
        assert ask_export(client).status_code == 303  # the first one is written: room for another


def test_a_dead_runners_export_is_taken_over_and_one_that_keeps_dying_is_given_up(app, owner, newsletter):
    confirmed_readers(newsletter, 2)
    job_page = ask_export(owner).headers["Location"]
    assert queue.claim_next("runner-that-dies").id == only_job().id
    assert queue.claim_next("another") is None  # leased
    for attempt in range(queue.MAX_ATTEMPTS - 1):
        db.session.execute(update(AdminJob).values(lease_until=datetime.now(UTC) - timedelta(seconds=1)))
        db.session.commit()
        assert queue.claim_next(f"dies-{attempt}") is not None
    db.session.execute(update(AdminJob).values(lease_until=datetime.now(UTC) - timedelta(seconds=1)))
    db.session.commit()
    assert run_jobs() == 0
    failed = only_job()
    assert failed.status == A.FAILED and "interrupted 3 times" in failed.refusal
    assert "interrupted 3 times" in owner.get(job_page).text and files_left(app) == []


def test_a_runner_whose_lease_was_taken_stops_and_leaves_no_file(app, owner, newsletter):
    confirmed_readers(newsletter, 2)
    ask_export(owner)
    job = queue.claim_next("slow-runner")
    db.session.execute(update(AdminJob).values(lease_owner="the-other-runner"))
    db.session.commit()
    progress = exports.Progress(total=2)
    leases.Heartbeat(current_app._get_current_object(), AdminJob, queue.RUNNABLE, job.id, "slow-runner",
                     progress.values, progress.lost).beat()
    assert progress.lost.is_set()


# --- under gunicorn --------------------------------------------------------------------------------------------------


def test_an_export_through_the_page_under_gunicorn_with_two_workers(newsletter, database_url, tmp_path):
    confirmed_readers(newsletter, 200)
    expected = command_line_export(newsletter)
    db.session.commit()
    port = free_port()
    server = gunicorn(database_url, tmp_path / "served", port)
    base = f"http://127.0.0.1:{port}"
    try:
        assert server.ready.wait(60) and server.process.poll() is None, "".join(server.lines)
        web = requests.Session()
        login_page = web.get(f"{base}/login", timeout=30).text
        web.post(f"{base}/login", data={"csrf_token": csrf_of(login_page), "email": "maya@example.org",
                                        "password": PASSWORD}, timeout=30).raise_for_status()
        page = web.get(f"{base}{PAGE}", timeout=30).text
        answer = web.post(f"{base}{PAGE}", data={"csrf_token": csrf_of(page)}, allow_redirects=False, timeout=30)
        assert answer.status_code == 303, answer.text
        job_page = base + answer.headers["Location"]
        wait_for(lambda: web.get(job_page, timeout=30).text, "Export ready", 120)
        download = web.get(f"{job_page}/download", timeout=30)
        assert download.status_code == 200 and download.content == expected
        ready = web.get(job_page, timeout=30).text
        web.post(f"{job_page}/delete", data={"csrf_token": csrf_of(ready)}, timeout=30).raise_for_status()
        wait_until(lambda: not any((tmp_path / "served" / "exports").glob("*")), "the file deleted")
        assert web.get(f"{job_page}/download", timeout=30).status_code == 404
    finally:
        assert server.stop() == 0, "".join(server.lines)
