"""Production serving: gunicorn runs the app with deploy/gunicorn.conf.py (start, a request, stop)."""

import json
import os
import signal
import subprocess
import sys
import threading
import urllib.request
from pathlib import Path

from tests.conftest import SECRET, create_demo_newsletter
from tests.support.sending_helpers import confirmed_readers, new_issue, received_by, start_sending
from tests.support.smtp_server import free_port

ROOT = Path(__file__).resolve().parent.parent


class Server:
    """A gunicorn process whose log lines are collected; `ready` is set when it listens."""

    def __init__(self, env: dict, port: int, options: list[str] | None = None):
        self.lines: list[str] = []
        self.ready = threading.Event()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "--config", "deploy/gunicorn.conf.py", "--bind", f"127.0.0.1:{port}",
             *(options or [])],
            cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in self.process.stderr:
            self.lines.append(line)
            if "Listening at: " in line:
                self.ready.set()
        self.ready.set()  # it exited: let the test see why

    def stop(self) -> int:
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout=60)


def server_env(database_url: str, instance: Path) -> dict:
    env = {key: value for key, value in os.environ.items() if not key.startswith(("MAIL_", "CELERY", "LOG_"))}
    env.update(NEWSLETTER_ENV="testing", SECRET_KEY=SECRET, DATABASE_URL=database_url, INSTANCE_PATH=str(instance),
               BASE_URL="https://news.example.test", MAIL_BACKEND="outbox", CELERY_BROKER_URL="",
               WEB_CONCURRENCY="1", LOG_FORMAT="json")
    return env


def test_gunicorn_serves_a_page_logs_json_and_stops_cleanly_on_sigterm(newsletter, database_url, tmp_path):
    port = free_port()
    server = Server(server_env(database_url, tmp_path / "served"), port)
    try:
        assert server.ready.wait(60) and server.process.poll() is None, "".join(server.lines)
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/n/slow-mornings", timeout=30) as answer:
            assert answer.status == 200
            assert "Slow Mornings" in answer.read().decode()
            request_id = answer.headers["X-Request-ID"]
    finally:
        code = server.stop()
    assert code == 0, "".join(server.lines)
    entries = [json.loads(line) for line in server.lines]  # gunicorn's own lines are JSON too
    assert any(entry["message"] == "Shutting down: Master" for entry in entries)
    [request] = [entry for entry in entries if entry.get("event") == "request"]
    assert request["request_id"] == request_id and request["route"] == "/n/<slug>" and request["status"] == 200


def test_a_restarted_web_process_resumes_a_send_without_waiting_for_a_request(make_app, smtp, database_url, tmp_path):
    app = make_app(START_SENDER=False)
    with app.app_context():
        newsletter = create_demo_newsletter()
        emails = confirmed_readers(newsletter, 5)
        start_sending(new_issue(newsletter))  # left sending by the web process that stopped
    env = server_env(database_url, tmp_path / "served")
    env.update(MAIL_BACKEND="smtp", MAIL_SERVER="127.0.0.1", MAIL_PORT=str(app.config["MAIL_PORT"]))
    server = Server(env, free_port())
    try:
        with smtp.condition:  # no request is made
            assert smtp.condition.wait_for(lambda: len(received_by(smtp)) == len(emails), 60), "".join(server.lines)
    finally:
        server.stop()
    assert received_by(smtp) == {email: 1 for email in emails}
