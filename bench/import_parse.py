"""Rows per second of importer.read_subscribers on a generated valid file in the product's export format.

Usage: python bench/import_parse.py [ROWS]   (default 200000). The last line printed is JSON.
"""

import csv
import json
import sys
import tempfile
import time
import tracemalloc
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from newsletter.importer import EXPORT_COLUMNS, ConsentedRow, read_subscribers  # noqa: E402

DOMAINS = ("example.org", "example.com", "example.net", "mail.example.org", "news.example.com")


def write_export(path: Path, rows: int) -> None:
    """A file shaped like the product's own export: unique addresses, two IPs, ISO dates."""
    start = datetime(2020, 1, 1, tzinfo=UTC)
    with path.open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(EXPORT_COLUMNS)
        for n in range(rows):
            asked = start + timedelta(minutes=n)
            writer.writerow((
                f"reader.{n}@{DOMAINS[n % len(DOMAINS)]}", f"Reader Number{n}", asked.isoformat(),
                (asked + timedelta(minutes=7)).isoformat(), "https://example.org/n/weekly/subscribe",
                f"203.0.113.{n % 250}", f"2001:db8::{n % 9000:x}",
            ))


def measure(path: Path, rows: int) -> dict:
    """Read the file once, counting rows, timing it and tracing peak memory in a second pass."""
    now = datetime.now(UTC)
    began = time.perf_counter()
    valid = sum(1 for item in read_subscribers(path, now=now) if type(item) is ConsentedRow)
    seconds = time.perf_counter() - began
    tracemalloc.start()
    for _ in read_subscribers(path, now=now):
        pass
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return {"rows": rows, "valid": valid, "seconds": round(seconds, 3), "rows_per_second": round(rows / seconds),
            "peak_traced_bytes": peak}


def main() -> None:
    rows = int(sys.argv[1]) if len(sys.argv) > 1 else 200_000
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "export.csv"
        write_export(path, rows)
        print(json.dumps(measure(path, rows)))


if __name__ == "__main__":
    main()
