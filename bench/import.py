"""Import speed and memory: generated consented files of 100k and 1M rows into SQLite and PostgreSQL.

Usage: python bench/import.py [--rows 100000,1000000] [--databases sqlite,postgresql]
PostgreSQL: BENCH_DATABASE_URL, default postgresql+psycopg://postgres@127.0.0.1:5432/newsletter_bench (created
if missing; its public schema is dropped and migrated again for each run). SQLite: a new temporary file per run.
Each run is a child process, so that its peak RSS is its own. Figures include both passes (check, then write).
Targets (issue #5): >= 20,000 rows/s on SQLite; peak RSS at 1M rows within 50 MB of 100k rows.
The last line printed is JSON: rows, rows_per_s, peak_rss_mb and the machine's load (1-minute average, when
the run began: on a shared machine, figures are comparable only at similar loads) per database and size.
"""

import argparse
import csv
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

POSTGRES_URL = os.environ.get("BENCH_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/newsletter_bench")
LISTMONK_ROWS_PER_S = 10_000  # listmonk's maintainer on its importer; the reference quoted in issue #5
DOMAINS = ("example.org", "example.com", "example.net", "mail.example.org", "news.example.com")


def write_consented_file(path: Path, rows: int) -> None:
    """The product's export format: unique addresses, IPv4 and IPv6, ISO dates, a few names with accents."""
    start = datetime(2020, 1, 1, tzinfo=UTC)
    with path.open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(("email", "name", "consent_at", "confirmed_at", "consent_source", "consent_ip", "confirm_ip"))
        for n in range(rows):
            asked = start + timedelta(seconds=97 * n)
            writer.writerow((
                f"reader.{n}@{DOMAINS[n % len(DOMAINS)]}", f"Lecteur Numéro {n}" if n % 3 else "",
                asked.isoformat(), (asked + timedelta(minutes=7)).isoformat(), "https://example.org/n/weekly",
                f"203.0.113.{n % 250}", f"2001:db8::{n % 9000:x}",
            ))


def reset_postgres(url: str) -> None:
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    with engine.begin() as connection:
        connection.execute(text("DROP SCHEMA public CASCADE"))
        connection.execute(text("CREATE SCHEMA public"))
    engine.dispose()


def run_one(url: str, path: Path, rows: int) -> dict:
    """In the child: migrate, create a newsletter, import the file, report time and own peak RSS."""
    from flask_migrate import upgrade

    from newsletter import accounts, create_app, newsletters
    from newsletter.extensions import db
    from newsletter.importer import writer

    with tempfile.TemporaryDirectory() as instance:
        app = create_app({"NEWSLETTER_ENV": "testing", "SECRET_KEY": "bench", "DATABASE_URL": url,
                          "INSTANCE_PATH": instance, "START_SENDER": False})
        with app.app_context():
            upgrade()
            accounts.create_user("bench@example.org", "a long enough password")
            item = newsletters.create_newsletter("bench@example.org", slug="bench", name="Bench",
                                                 from_email="bench@example.org")
            db.session.commit()
            load = os.getloadavg()[0]
            began, cpu_began = time.perf_counter(), time.process_time()
            report = writer.import_subscribers(path, item, file_name=path.name, commit=db.session.commit,
                                               share_url="https://example.org/admin/n/bench/share")
            seconds, cpu_seconds = time.perf_counter() - began, time.process_time() - cpu_began
            db.engine.dispose()
    assert report.imported == rows, f"imported {report.imported} of {rows}"
    return {"rows": rows, "seconds": round(seconds, 2), "cpu_seconds": round(cpu_seconds, 2),
            "rows_per_s": round(rows / seconds),
            "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1), "load": round(load, 2)}


def measure(database: str, path: Path, rows: int, folder: Path) -> dict:
    """One run in a fresh child process on a fresh database."""
    if database == "sqlite":
        url = f"sqlite:///{folder / f'bench-{rows}.db'}"
    else:
        url = POSTGRES_URL
        reset_postgres(url)
    child = subprocess.run([sys.executable, __file__, "--child", url, str(path), str(rows)],
                           capture_output=True, text=True, cwd=ROOT)
    if child.returncode != 0:
        raise SystemExit(f"{database} run of {rows} rows failed:\n{child.stderr[-3000:]}")
    return json.loads(child.stdout.strip().splitlines()[-1])


def postgres_reachable() -> str | None:
    """None if PostgreSQL answers (the benchmark's database created if missing), else why not."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    try:
        target = make_url(POSTGRES_URL)
        server = create_engine(target.set(database="postgres"), isolation_level="AUTOCOMMIT")
        with server.connect() as connection:
            if not connection.execute(text("SELECT 1 FROM pg_database WHERE datname = :name"),
                                      {"name": target.database}).first():
                connection.execute(text(f'CREATE DATABASE "{target.database}"'))
        server.dispose()
        engine = create_engine(POSTGRES_URL)
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
        engine.dispose()
    except Exception as error:  # any driver error means: skip this database, say why
        return str(error).splitlines()[0]
    return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", default="100000,1000000")
    parser.add_argument("--databases", default="sqlite,postgresql")
    parser.add_argument("--child", nargs=3, metavar=("URL", "FILE", "ROWS"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        url, path, rows = args.child
        print(json.dumps(run_one(url, Path(path), int(rows))))
        return
    sizes = [int(size) for size in args.rows.split(",")]
    results: dict = {"reference_rows_per_s": {"listmonk": LISTMONK_ROWS_PER_S}}
    with tempfile.TemporaryDirectory() as folder:
        files = {}
        for rows in sizes:
            files[rows] = Path(folder) / f"consented-{rows}.csv"
            write_consented_file(files[rows], rows)
        for database in args.databases.split(","):
            absent = postgres_reachable() if database == "postgresql" else None
            if absent:
                print(f"{database}: skipped ({absent})")
                results[database] = {"skipped": absent}
                continue
            results[database] = [measure(database, files[rows], rows, Path(folder)) for rows in sizes]
            for run in results[database]:
                print(f"{database:<10} {run['rows']:>9,} rows  {run['rows_per_s']:>8,} rows/s "
                      f"({run['rows_per_s'] / LISTMONK_ROWS_PER_S:.1f}x listmonk's ~10k)  "
                      f"peak RSS {run['peak_rss_mb']} MB  (load {run['load']:.2f})")
    print(json.dumps(results))


if __name__ == "__main__":
    main()
