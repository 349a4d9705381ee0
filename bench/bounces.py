"""Who failed, according to flufl.bounce alone, our own reading alone, and both as the product runs them.

    flock /tmp/bench.lock .venv/bin/python bench/bounces.py [--list]

On every notice of tests/corpus/bounces/expected.tsv that is a bounce or nothing at all (complaints, opt-outs
and replies are left out: they name a reader without failing one), the failed recipients found three ways are
compared with the table's:
- flufl: flufl.bounce's `all_failures` on the whole message, its permanent failures (GNU Mailman's way);
- ours: the product's parser with flufl.bounce taken out (DSN fields, qmail paragraphs, X-Failed-Recipients,
  then the first address of the notice that is not ours);
- both: the product's parser as it runs (flufl.bounce before the address scan, for notices that are neither
  DSNs nor qmail bounces).
Each notice is right (the same addresses, or none when none failed), wrong (other addresses) or missed (none
found where some failed). --list prints the notices each way gets wrong or misses. The last line is JSON.
"""

import argparse
import csv
import json
import sys
from email import message_from_bytes
from email import policy as email_policy
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from flufl.bounce import all_failures  # noqa: E402

from newsletter.feedback.parsers import mail, parse_inbound, recipients  # noqa: E402
from newsletter.feedback.parsers.model import recipient_or_none  # noqa: E402

CORPUS = ROOT / "tests" / "corpus" / "bounces"
MEASURED = {"suppress", "soft", "publisher", "nothing"}  # the consequences of a bounce, or of none


def rows() -> list[dict]:
    """The table's notices whose consequence says whether a reader failed."""
    with (CORPUS / "expected.tsv").open(newline="") as table:
        return [row for row in csv.DictReader(table, delimiter="\t")
                if set(row["consequence"].split(",")) <= MEASURED]


def expected(row: dict) -> set[str]:
    return set() if row["recipients"] == "-" else set(row["recipients"].split(","))


def flufl_alone(raw: bytes) -> set[str]:
    msg = message_from_bytes(raw, policy=email_policy.compat32)
    try:
        _temporary, permanent = all_failures(msg)
    except Exception:  # noqa: BLE001 - a detector that trips finds nobody
        return set()
    found = (r.decode("utf-8", "replace") if isinstance(r, bytes) else str(r) for r in permanent)
    return {address for address in map(recipient_or_none, found) if address}


def product(raw: bytes) -> set[str]:
    return {event.recipient or "?" for event in parse_inbound(raw)}


def ours_alone(raw: bytes) -> set[str]:
    """The product's parser with flufl.bounce's detectors finding nothing."""
    detected = recipients.detected_failures
    recipients.detected_failures = lambda msg: ([], [])
    try:
        return product(raw)
    finally:
        recipients.detected_failures = detected


def verdict(found: set[str], wanted: set[str]) -> str:
    if found == wanted:
        return "right"
    return "missed" if not found else "wrong"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--list", action="store_true", help="print the notices each way gets wrong or misses")
    args = parser.parse_args()
    assert mail.parse_inbound is parse_inbound  # the parser measured is the one the product runs
    ways = {"flufl": flufl_alone, "ours": ours_alone, "both": product}
    totals = {name: {"right": 0, "wrong": 0, "missed": 0} for name in ways}
    table = rows()
    for row in table:
        raw = (CORPUS / row["file"]).read_bytes()
        for name, way in ways.items():
            outcome = verdict(way(raw), expected(row))
            totals[name][outcome] += 1
            if args.list and outcome != "right":
                print(f"{name:5} {outcome:6} {row['file']} ({row['format']})")
    print(f"{len(table)} notices (bounces and non-bounces; complaints and replies left out)")
    for name, counts in totals.items():
        print(f"{name:5}  right {counts['right']:3}  wrong address {counts['wrong']:3}  missed {counts['missed']:3}")
    print(json.dumps({"notices": len(table), **totals}))


if __name__ == "__main__":
    main()
