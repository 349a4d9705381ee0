"""The import page's check and import run as background jobs (issue 15, V2): a progress page that survives a
reload, the upload kept until the job ends and deleted whatever way it ends, a quota of pending uploads per
publisher, a dead runner's job taken over, a file that keeps killing runners given up; and, under a real
`gunicorn -w 2 --timeout 30`, a file imported through the page with every reader there."""

import csv
import os
import re
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import requests
from flask import current_app
from sqlalchemy import func, select, update

from newsletter import consent, suppression
from newsletter.extensions import db
from newsletter.importer import jobs, writer
from newsletter.importer.report import ImportReport
from newsletter.models import ImportJob, Subscriber, Subscription
from newsletter.states import ImportJobStatus as J
from newsletter.states import SubscriptionStatus as S
from tests.conftest import create_demo_newsletter
from tests.support.smtp_server import free_port
from tests.test_import_cli import CORPUS, status_of, subscribe_and_confirm, table_counts
from tests.test_import_page import PAGE, confirm, login, run_jobs, send_file, upload, uploads_left
from tests.test_serving import Server, server_env

HEADER = ("email", "name", "consent_at", "confirmed_at", "consent_source", "consent_ip", "confirm_ip")


def consented_file(path: Path, rows: int) -> Path:
    start = datetime(2021, 1, 1, tzinfo=UTC)
    with path.open("w", newline="", encoding="utf-8") as out:
        rows_out = csv.writer(out)
        rows_out.writerow(HEADER)
        for n in range(rows):
            asked = start + timedelta(minutes=n)
            rows_out.writerow((f"reader.{n}@example.org", f"Reader {n}", asked.isoformat(),
                               (asked + timedelta(minutes=5)).isoformat(), "https://example.org/join",
                               "203.0.113.7", ""))
    return path


def checked_left(app) -> list[str]:
    """The rows kept by checks, waiting beside the uploads for their import."""
    folder = Path(app.instance_path) / "uploads-checked"
    return sorted(path.name for path in folder.iterdir()) if folder.exists() else []


def only_job() -> ImportJob:
    db.session.expire_all()
    return db.session.scalars(select(ImportJob)).one()


@pytest.fixture
def owner(client, newsletter):
    login(client)
    return client


def test_the_upload_answers_at_once_and_the_progress_page_survives_a_reload(app, owner):
    answer = send_file(owner, CORPUS / "accepted" / "own-export.csv")
    assert answer.status_code == 303
    job_page = answer.headers["Location"]
    for _ in range(2):  # nothing runs it yet: the page says so, and reloads itself
        page = owner.get(job_page)
        assert page.status_code == 200 and "Waiting for a worker to start it." in page.text
        assert "import_progress.js" in page.text and "Rows read" in page.text
        live = owner.get(f"{job_page}/progress.json").json
        assert live["status"] == "checking" and "Waiting for a worker to start it." in live["html"]
    assert len(uploads_left(app)) == 1 and table_counts()["Subscription"] == 0
    assert "being checked" in owner.get(PAGE).text  # listed on the form until it is done
    run_jobs()
    report = owner.get(job_page)
    assert "Import 5 readers" in report.text and 'data-job-status' not in report.text
    assert owner.get(f"{job_page}/progress.json").json["status"] == "checked"  # the script reloads the page
    done = confirm(owner, report)
    assert "Import done" in done.text and table_counts()["Subscription"] == 5
    assert owner.get(job_page).text == done.text and uploads_left(app) == []


def test_the_page_shows_rows_read_refused_and_written_while_a_job_runs(app, owner, newsletter, tmp_path):
    confirm(owner, upload(owner, CORPUS / "accepted" / "french-excel-export.csv"))
    job = only_job()
    db.session.execute(update(ImportJob).values(status=J.IMPORTING, finished_at=None, lease_owner="elsewhere",
                                                lease_until=datetime.now(UTC) + timedelta(seconds=60)))
    db.session.commit()
    report = ImportReport("f.csv", "csv", rows_read=40_000, refused_rows=12, imported=20_000)
    progress = jobs.Progress()
    progress.update(report, writer.READING, 1.0)
    progress.update(report, writer.WRITING, 0.5)
    progress.phase_started_at -= timedelta(seconds=30)
    jobs.Heartbeat(current_app._get_current_object(), job.id, "elsewhere", progress).beat()
    page = owner.get(f"{PAGE}/{job.id}").text
    assert re.search(r'data-field="rows_read">40000<', page) and re.search(r'data-field="rows_refused">12<', page)
    assert re.search(r'data-field="rows_written">20000<', page)
    assert "Step 2 of 2" in page and "50% of this step done." in page and "About 30 s left in this step." in page


def test_a_refused_check_deletes_the_upload_and_the_page_explains(app, owner):
    page = upload(owner, CORPUS / "refused" / "phone-list.csv")
    assert "phone numbers" in page.text and "nothing of it was stored" in page.text
    assert uploads_left(app) == [] and only_job().status == J.REFUSED and checked_left(app) == []


def test_a_check_with_nothing_to_import_deletes_the_upload(app, owner, tmp_path):
    # Blank lines after a header (150 MB of them once killed a worker inside the request): nothing to import.
    data = b",".join(name.encode() for name in HEADER) + b"\r\n" + b"\r\n" * 2_000_000
    page = upload(owner, data=data, name="blank.csv")
    assert "There is nothing to import from this file." in page.text
    assert uploads_left(app) == [] and only_job().status == J.DONE and checked_left(app) == []


def test_pending_uploads_are_limited_per_publisher(make_app, smtp):
    app = make_app(START_SENDER=False, IMPORT_PENDING_UPLOADS="1")
    with app.app_context():
        create_demo_newsletter()
        client = app.test_client()
        login(client)
        first = upload(client, CORPUS / "accepted" / "own-export.csv")
        assert "Import 5 readers" in first.text
        refused = send_file(client, CORPUS / "accepted" / "own-export.csv")
        assert refused.status_code == 429 and "the most this instance keeps for one person" in refused.text
        assert len(uploads_left(app)) == 1 and db.session.scalar(select(func.count(ImportJob.id))) == 1
        abandon = first.text.split(f'action="{PAGE}/')[2].split('"')[0]
        client.post(f"{PAGE}/{abandon}", data={"csrf_token": re.search(
            r'name="csrf_token" type="hidden" value="([^"]+)"', first.text).group(1)})
        assert uploads_left(app) == [] and only_job().status == J.ABANDONED and checked_left(app) == []
        assert send_file(client, CORPUS / "accepted" / "own-export.csv").status_code == 303


def test_a_dead_runners_job_is_taken_over_and_a_job_that_keeps_dying_is_given_up(app, owner):
    send_file(owner, CORPUS / "accepted" / "own-export.csv")
    job = only_job()
    assert jobs.claim_next("runner-that-dies") == job.id
    assert jobs.claim_next("another") is None  # leased
    db.session.execute(update(ImportJob).values(lease_until=datetime.now(UTC) - timedelta(seconds=1)))
    db.session.commit()
    assert run_jobs() == 1 and only_job().status == J.CHECKED  # taken over once the lease ran out
    confirm_job = only_job()
    confirm_job_page = owner.get(f"{PAGE}/{confirm_job.id}")
    owner.post(f"{PAGE}/{confirm_job.id}", data={"csrf_token": re.search(
        r'name="csrf_token" type="hidden" value="([^"]+)"', confirm_job_page.text).group(1)})
    for attempt in range(jobs.MAX_ATTEMPTS):
        assert jobs.claim_next(f"dies-{attempt}") == job.id
        db.session.execute(update(ImportJob).values(lease_until=datetime.now(UTC) - timedelta(seconds=1)))
        db.session.commit()
    assert jobs.claim_next("last") is None
    failed = only_job()
    assert failed.status == J.FAILED and "interrupted 3 times" in failed.refusal and uploads_left(app) == []
    assert "interrupted 3 times" in owner.get(f"{PAGE}/{job.id}").text
    assert table_counts()["Subscription"] == 0


def test_the_embedded_runner_runs_the_job(live_app, tmp_path):
    client = live_app.test_client()
    with live_app.app_context():
        login(client)
        answer = send_file(client, consented_file(tmp_path / "readers.csv", 300))
    page = wait_for(lambda: client.get(answer.headers["Location"]).text, "Import 300 readers")
    done = client.post(answer.headers["Location"], data={"csrf_token": re.search(
        r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)})
    wait_for(lambda: client.get(done.headers["Location"]).text, "Import done")
    with live_app.app_context():
        assert db.session.scalar(select(func.count(Subscription.id))) == 300


def wait_for(read, text: str, seconds: float = 60.0) -> str:
    """Reload a page until it says `text` (the job runs in another thread or process)."""
    deadline = time.monotonic() + seconds
    while True:
        page = read()
        if text in page:
            return page
        assert time.monotonic() < deadline, page
        time.sleep(0.2)


# --- under gunicorn --------------------------------------------------------------------------------------------------


def csrf_of(html: str) -> str:
    return re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', html).group(1)


def import_through_the_page(base: str, path: Path, expected: int, seconds: float = 120.0) -> dict:
    """Log in, upload, wait for the check, confirm, wait for the import: what the publisher does in a browser."""
    web = requests.Session()
    login_page = web.get(f"{base}/login", timeout=30).text
    web.post(f"{base}/login", data={"csrf_token": csrf_of(login_page), "email": "maya@example.org",
                                    "password": "a long enough password"}, timeout=30).raise_for_status()
    form = web.get(f"{base}{PAGE}", timeout=30).text
    began = time.monotonic()
    with path.open("rb") as file:
        answer = web.post(f"{base}{PAGE}", data={"csrf_token": csrf_of(form)}, files={"file": (path.name, file)},
                          allow_redirects=False, timeout=30)
    assert answer.status_code == 303, answer.text
    job_page = base + answer.headers["Location"]
    uploaded = time.monotonic()
    report = wait_for(lambda: web.get(job_page, timeout=30).text, "Check before importing", seconds)
    assert re.search(rf"<td>{expected}</td>", report), report  # to import: every row
    checked = time.monotonic()
    done = web.post(job_page, data={"csrf_token": csrf_of(report)}, allow_redirects=False, timeout=30)
    assert done.status_code == 303
    wait_for(lambda: web.get(job_page, timeout=30).text, "Import done", seconds)
    return {"upload_s": uploaded - began, "check_s": checked - uploaded, "import_s": time.monotonic() - checked,
            "total_s": time.monotonic() - began}


def gunicorn(database_url: str, instance: Path, port: int) -> Server:
    env = server_env(database_url, instance)
    env["BASE_URL"] = f"http://127.0.0.1:{port}"  # plain http: the session cookie is not marked Secure
    # sync workers, as `gunicorn app:app` runs without the config: a request past --timeout is killed
    return Server(env, port, ["--workers", "2", "--timeout", "30", "--worker-class", "sync"])


def test_a_file_imports_through_the_page_under_gunicorn_with_two_workers(newsletter, database_url, tmp_path):
    rows = 3000
    path = consented_file(tmp_path / "readers.csv", rows)
    db.session.commit()
    port = free_port()
    server = gunicorn(database_url, tmp_path / "served", port)
    try:
        assert server.ready.wait(60) and server.process.poll() is None, "".join(server.lines)
        import_through_the_page(f"http://127.0.0.1:{port}", path, rows)
        # The runner deletes the upload just after recording "done": a moment after the page says so.
        wait_until(lambda: not any((tmp_path / "served" / "uploads").glob("*")), "the upload deleted")
    finally:
        assert server.stop() == 0, "".join(server.lines)
    db.session.expire_all()
    assert db.session.scalar(select(func.count(Subscription.id))) == rows


def wait_until(check, what: str, seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        assert time.monotonic() < deadline, f"still waiting for {what} after {seconds} s"
        time.sleep(0.1)


def test_an_ended_jobs_upload_left_behind_goes_at_the_next_pass(app, owner):
    """A worker stopped between recording the end and deleting the file leaves it there; the next pass of
    any runner deletes it, not a day later."""
    report = upload(owner, CORPUS / "accepted" / "own-export.csv")
    left = uploads_left(app)
    assert "Import 5 readers" in report.text and len(left) == 1
    confirm(owner, report)
    assert only_job().status == J.DONE and uploads_left(app) == []
    (Path(app.instance_path) / "uploads" / left[0]).write_text("email\nsomeone@example.org\n")  # as if never deleted
    assert run_jobs() == 0
    assert uploads_left(app) == []


def test_a_checked_upload_left_for_a_day_is_abandoned_and_deleted(app, owner):
    report = upload(owner, CORPUS / "accepted" / "own-export.csv")
    assert "Import 5 readers" in report.text and len(uploads_left(app)) == 1
    db.session.execute(update(ImportJob).values(finished_at=datetime.now(UTC) - timedelta(days=1, seconds=1)))
    db.session.commit()
    run_jobs()  # the runner's pass abandons it (so does the next upload)
    assert only_job().status == J.ABANDONED and uploads_left(app) == [] and checked_left(app) == []
    assert confirm(owner, report).status_code == 410 and table_counts()["Subscription"] == 0


# --- the import writes the rows its check kept -------------------------------------------------------------------


def test_the_import_writes_the_rows_its_check_kept_without_reading_the_file_again(app, owner):
    report = upload(owner, CORPUS / "accepted" / "own-export.csv")
    assert "Import 5 readers" in report.text and len(checked_left(app)) == 1
    # The upload now holds a file that its check would refuse: the import never reads it again.
    (Path(app.instance_path) / "uploads" / uploads_left(app)[0]).write_text(
        "email,phone\nsomeone@example.org,+33 6 12 34 56 78\n", encoding="utf-8")
    done = confirm(owner, report)
    assert "Import done" in done.text and only_job().rows_written == 5
    assert (only_job().rows_read, jobs.report_of(only_job()).imported) == (5, 5)
    assert table_counts()["Subscription"] == table_counts()["SubscriptionEvent"] == 5
    assert uploads_left(app) == [] and checked_left(app) == []


def test_the_import_honours_what_changed_since_the_check(app, owner, newsletter):
    report = upload(owner, CORPUS / "accepted" / "own-export.csv")
    assert "Import 5 readers" in report.text
    subscribe_and_confirm(newsletter, "alice.martin@example.org")  # subscribed by herself meanwhile
    suppression.suppress(suppression.hmac_of("bruno.keller@example.com"), "imported", newsletter.id)
    consent.subscribe(newsletter, "chidi.okafor@example.net", "", ip="192.0.2.9", source="form", wording="w")
    db.session.commit()
    consent.unsubscribe(subscribe_and_confirm(newsletter, "dana.whitfield@example.com"))  # came and left
    db.session.commit()
    assert "Import done" in confirm(owner, report).text
    done = jobs.report_of(only_job())
    assert (done.imported, done.already, done.suppressed, done.left, done.rows_read) == (2, 1, 1, 1, 5)
    assert status_of("bruno.keller@example.com", newsletter) is None
    assert status_of("dana.whitfield@example.com", newsletter) == S.UNSUBSCRIBED
    sources = dict(db.session.execute(select(Subscriber.email, Subscription.consent_source)
                                      .join(Subscription.subscriber)).all())
    assert sources["alice.martin@example.org"] == "https://news.example.test/n/x"  # her own, unchanged
    assert sources["chidi.okafor@example.net"] == "API (publisher token 3)"  # pending: confirmed by the file
    assert status_of("chidi.okafor@example.net", newsletter) == S.CONFIRMED
    assert status_of("erik.lund@example.net", newsletter) == S.CONFIRMED


def test_without_the_checked_rows_the_import_reads_the_file_again(app, owner):
    report = upload(owner, CORPUS / "accepted" / "own-export.csv")
    for name in checked_left(app):  # a check made before the rows were kept
        (Path(app.instance_path) / "uploads-checked" / name).unlink()
    assert "Import done" in confirm(owner, report).text
    assert table_counts()["Subscription"] == 5 and uploads_left(app) == []


def test_checked_rows_changed_on_disk_stop_the_import_before_anything_is_written(app, owner):
    report = upload(owner, CORPUS / "accepted" / "own-export.csv")
    kept = Path(app.instance_path) / "uploads-checked" / checked_left(app)[0]
    data = bytearray(kept.read_bytes())
    data[60] ^= 1  # inside the first batch
    kept.write_bytes(bytes(data))
    page = confirm(owner, report)
    assert "Import stopped" in page.text and only_job().refusal == jobs.FAILED_MESSAGE
    assert table_counts()["Subscription"] == 0 and uploads_left(app) == [] and checked_left(app) == []


def test_checked_rows_left_for_a_day_without_their_job_are_deleted(app, owner):
    report = upload(owner, CORPUS / "accepted" / "own-export.csv")
    kept = checked_left(app)
    assert "Import 5 readers" in report.text and len(kept) == 1
    stray = Path(app.instance_path) / "uploads-checked" / "left-by-a-stopped-runner.rows.0a1b2c.part"
    stray.write_bytes(b"rows")
    a_day_ago = time.time() - 24 * 3600 - 1
    os.utime(stray, (a_day_ago, a_day_ago))
    run_jobs()
    assert checked_left(app) == kept and not stray.exists()  # the one waiting for its confirmation stays


def test_a_dead_runners_import_is_taken_over_from_the_kept_rows(app, owner):
    report = upload(owner, CORPUS / "accepted" / "own-export.csv")
    confirm_page = owner.post(f"{PAGE}/{only_job().id}", data={"csrf_token": csrf_of(report.text)})
    assert confirm_page.status_code == 303 and only_job().status == J.IMPORTING
    assert jobs.claim_next("runner-that-dies") == only_job().id
    db.session.execute(update(ImportJob).values(lease_until=datetime.now(UTC) - timedelta(seconds=1)))
    db.session.commit()
    assert run_jobs() == 1
    job = only_job()
    assert (job.status, job.attempts, job.rows_written, job.rows_read) == (J.DONE, 2, 5, 5)
    assert table_counts()["Subscription"] == 5 and uploads_left(app) == [] and checked_left(app) == []
