"""An import through the web page under `gunicorn -w 2 --timeout 30` (sync workers, which kill any request past
30 s): log in, upload, wait for the check on the job's page, confirm, wait for the import; then count the readers.

Usage: python bench/import_web.py [--rows 700000] [--database sqlite|postgresql] [--blank-mb 150]
PostgreSQL: BENCH_DATABASE_URL as in bench/import.py (its public schema is dropped and migrated again).
--blank-mb N also uploads a file of N MB of blank lines after a header (issue 15: one once killed a worker and
stayed in uploads/) and reports how its job ended and what is left in uploads/.
Reports the seconds of each stage, rows/s over check + import, whether a worker was killed (gunicorn's log),
and the load (1-minute average) when the run began; also the CPU seconds of the server's processes during the
check and during the import (SQLite works inside them), which a loaded machine moves far less than wall time.
Beside them, the reference: the command line's import
(bench/import.py's child, both passes in one process) of the same file into a fresh database of the same kind,
run just after, and the ratios of the page's import step and of check + import to it. The last line printed is
JSON.
"""

import argparse
import csv
import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
ROOT = Path(__file__).resolve().parent.parent
POSTGRES_URL = os.environ.get("BENCH_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/newsletter_bench")
EMAIL, PASSWORD, SLUG = "bench@example.org", "a long enough password", "bench"
HEADER = ("email", "name", "consent_at", "confirmed_at", "consent_source", "consent_ip", "confirm_ip")


def write_consented_file(path: Path, rows: int) -> None:
    start = datetime(2020, 1, 1, tzinfo=UTC)
    with path.open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(HEADER)
        for n in range(rows):
            asked = start + timedelta(seconds=97 * n)
            writer.writerow((f"reader.{n}@example.org", f"Lecteur Numéro {n}" if n % 3 else "", asked.isoformat(),
                             (asked + timedelta(minutes=7)).isoformat(), "https://example.org/n/weekly",
                             f"203.0.113.{n % 250}", f"2001:db8::{n % 9000:x}"))


def prepare(url: str, instance: str) -> None:
    """Migrate a fresh database and create the publisher and the newsletter (in a child: its own app)."""
    code = (
        "from flask_migrate import upgrade\n"
        "from newsletter import accounts, create_app, newsletters\n"
        "from newsletter.extensions import db\n"
        f"app = create_app({{'NEWSLETTER_ENV': 'testing', 'SECRET_KEY': 'bench', 'DATABASE_URL': {url!r}, "
        f"'INSTANCE_PATH': {instance!r}, 'START_SENDER': False}})\n"
        "with app.app_context():\n"
        "    upgrade()\n"
        f"    accounts.create_user({EMAIL!r}, {PASSWORD!r})\n"
        f"    newsletters.create_newsletter({EMAIL!r}, slug={SLUG!r}, name='Bench', from_email={EMAIL!r})\n"
        "    db.session.commit()\n"
    )
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True, capture_output=True)


def count_readers(url: str, instance: str) -> int:
    code = (
        "from sqlalchemy import func, select\n"
        "from newsletter import create_app\n"
        "from newsletter.extensions import db\n"
        "from newsletter.models import Subscription\n"
        f"app = create_app({{'NEWSLETTER_ENV': 'testing', 'SECRET_KEY': 'bench', 'DATABASE_URL': {url!r}, "
        f"'INSTANCE_PATH': {instance!r}, 'START_SENDER': False}})\n"
        "with app.app_context():\n"
        "    print(db.session.scalar(select(func.count(Subscription.id))))\n"
    )
    return int(subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True, capture_output=True,
                              text=True).stdout.strip())


class Gunicorn:
    def __init__(self, url: str, instance: str, port: int):
        env = {key: value for key, value in os.environ.items() if not key.startswith(("MAIL_", "CELERY", "LOG_"))}
        env.update(NEWSLETTER_ENV="testing", SECRET_KEY="bench", DATABASE_URL=url, INSTANCE_PATH=instance,
                   BASE_URL=f"http://127.0.0.1:{port}", MAIL_BACKEND="outbox", CELERY_BROKER_URL="")
        self.lines: list[str] = []
        self.process = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "--config", "deploy/gunicorn.conf.py", "--bind", f"127.0.0.1:{port}",
             "--workers", "2", "--timeout", "30", "--worker-class", "sync"],
            cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        threading.Thread(target=lambda: self.lines.extend(self.process.stderr), daemon=True).start()

    def stop(self) -> None:
        self.process.send_signal(signal.SIGTERM)
        self.process.wait(timeout=60)

    def cpu_seconds(self) -> float:
        """CPU time used so far by the server's processes (master and workers), from /proc."""
        ticks = os.sysconf("SC_CLK_TCK")
        total = 0
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rpartition(")")[2].split()
            except OSError:  # a process that ended meanwhile
                continue
            if int(stat.parent.name) == self.process.pid or int(fields[1]) == self.process.pid:
                total += int(fields[11]) + int(fields[12])  # utime, stime
        return total / ticks

    @property
    def workers_killed(self) -> int:
        return sum("WORKER TIMEOUT" in line or "was sent SIGKILL" in line for line in self.lines)


def csrf_of(html: str) -> str:
    return re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', html).group(1)


def wait_for(web, url: str, texts: tuple[str, ...], seconds: float = 1800) -> str:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        page = web.get(url, timeout=30).text
        if any(text in page for text in texts):
            return page
        time.sleep(0.5)
    raise SystemExit(f"{url} never said {texts}")


def log_in(base: str) -> requests.Session:
    web = requests.Session()
    for _ in range(100):  # the server may still be starting
        try:
            page = web.get(f"{base}/login", timeout=30).text
            break
        except requests.ConnectionError:
            time.sleep(0.2)
    web.post(f"{base}/login", data={"csrf_token": csrf_of(page), "email": EMAIL, "password": PASSWORD},
             timeout=30).raise_for_status()
    return web


def upload(web, base: str, path: Path) -> tuple[str, float]:
    form = web.get(f"{base}/admin/n/{SLUG}/import", timeout=30).text
    began = time.monotonic()
    with path.open("rb") as file:
        answer = web.post(f"{base}/admin/n/{SLUG}/import", data={"csrf_token": csrf_of(form)},
                          files={"file": (path.name, file)}, allow_redirects=False, timeout=60)
    assert answer.status_code == 303, answer.text[:2000]
    return base + answer.headers["Location"], time.monotonic() - began


def import_file(base: str, path: Path, server: Gunicorn) -> dict:
    web = log_in(base)
    job, upload_s = upload(web, base, path)
    began, cpu_began = time.monotonic(), server.cpu_seconds()
    report = wait_for(web, job, ("Check before importing", "refused as a whole", "Import refused", "Import stopped"))
    assert "Check before importing" in report, report[:3000]
    checked, cpu_checked = time.monotonic(), server.cpu_seconds()
    done = web.post(job, data={"csrf_token": csrf_of(report)}, allow_redirects=False, timeout=30)
    assert done.status_code == 303, done.text[:2000]
    wait_for(web, job, ("Import done", "Import stopped"))
    return {"upload_s": round(upload_s, 1), "check_s": round(checked - began, 1),
            "import_s": round(time.monotonic() - checked, 1), "total_s": round(time.monotonic() - began, 1),
            "check_cpu_s": round(cpu_checked - cpu_began, 1),
            "import_cpu_s": round(server.cpu_seconds() - cpu_checked, 1)}


def blank_file(base: str, path: Path, instance: str) -> dict:
    web = log_in(base)
    job, upload_s = upload(web, base, path)
    began = time.monotonic()
    page = wait_for(web, job, ("nothing to import", "refused as a whole", "Import stopped"))
    outcome = ("nothing to import" if "nothing to import" in page else
               "refused" if "refused as a whole" in page else "stopped")
    left = sorted(f"{p.parent.name}/{p.name}" for folder in ("uploads", "uploads-checked")
                  for p in (Path(instance) / folder).glob("*"))
    return {"upload_s": round(upload_s, 1), "job_s": round(time.monotonic() - began, 1), "outcome": outcome,
            "uploads_left": left}


def command_line_reference(database: str, path: Path, rows: int, folder: str) -> dict:
    """The same file through the command line's import path, in a child process, into a fresh database."""
    url = f"sqlite:///{folder}/reference.db" if database == "sqlite" else POSTGRES_URL
    if database == "postgresql":
        reset_postgres(url)
    child = subprocess.run([sys.executable, str(ROOT / "bench" / "import.py"), "--child", url, str(path), str(rows)],
                           capture_output=True, text=True, cwd=ROOT)
    if child.returncode != 0:
        raise SystemExit(f"the command line's import failed:\n{child.stderr[-3000:]}")
    run = json.loads(child.stdout.strip().splitlines()[-1])
    return {"seconds": run["seconds"], "cpu_seconds": run["cpu_seconds"], "rows_per_s": run["rows_per_s"],
            "load": run["load"]}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=700_000)
    parser.add_argument("--database", default="sqlite", choices=("sqlite", "postgresql"))
    parser.add_argument("--blank-mb", type=int, default=0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        instance = str(Path(folder) / "instance")
        url = f"sqlite:///{folder}/bench.db" if args.database == "sqlite" else POSTGRES_URL
        if args.database == "postgresql":
            reset_postgres(url)
        prepare(url, instance)
        path = Path(folder) / "readers.csv"
        write_consented_file(path, args.rows)
        result = {"rows": args.rows, "database": args.database, "megabytes": round(path.stat().st_size / 1e6, 1),
                  "load": round(os.getloadavg()[0], 2)}
        server = Gunicorn(url, instance, port := free_port())
        try:
            result.update(import_file(f"http://127.0.0.1:{port}", path, server))
            result["rows_per_s"] = round(args.rows / (result["check_s"] + result["import_s"]))
            if args.blank_mb:
                blank = Path(folder) / "blank.csv"
                with blank.open("wb") as out:
                    out.write(",".join(HEADER).encode() + b"\n")
                    for _ in range(args.blank_mb):
                        out.write(b"\n" * 1_000_000)
                result["blank"] = {"megabytes": args.blank_mb, **blank_file(f"http://127.0.0.1:{port}", blank,
                                                                             instance)}
        finally:
            server.stop()
        result["readers"] = count_readers(url, instance)
        result["workers_killed"] = server.workers_killed
        cli = result["command_line"] = command_line_reference(args.database, path, args.rows, folder)
        result["import_vs_command_line"] = round(result["import_s"] / cli["seconds"], 2)
        result["total_vs_command_line"] = round((result["check_s"] + result["import_s"]) / cli["seconds"], 2)
        result["import_cpu_vs_command_line"] = round(result["import_cpu_s"] / cli["cpu_seconds"], 2)
        result["total_cpu_vs_command_line"] = round((result["check_cpu_s"] + result["import_cpu_s"])
                                                    / cli["cpu_seconds"], 2)
    print(f"{result['rows']:,} rows ({result['megabytes']} MB) through the page on {result['database']}: "
          f"upload {result['upload_s']} s, check {result['check_s']} s, import {result['import_s']} s, "
          f"{result['rows_per_s']:,} rows/s; {result['readers']:,} readers; workers killed: "
          f"{result['workers_killed']} (load {result['load']})")
    print(f"reference, the command line's import of the same file: {cli['seconds']} s, {cli['rows_per_s']:,} rows/s "
          f"(load {cli['load']}); the page's import step {result['import_vs_command_line']}x its time, check + "
          f"import {result['total_vs_command_line']}x")
    print(f"CPU seconds: the server's processes during the check {result['check_cpu_s']}, during the import "
          f"{result['import_cpu_s']}; the command line {cli['cpu_seconds']}: the import step "
          f"{result['import_cpu_vs_command_line']}x, check + import {result['total_cpu_vs_command_line']}x")
    print(json.dumps(result))


def reset_postgres(url: str) -> None:
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    with engine.begin() as connection:
        connection.execute(text("DROP SCHEMA public CASCADE"))
        connection.execute(text("CREATE SCHEMA public"))
    engine.dispose()


if __name__ == "__main__":
    main()
