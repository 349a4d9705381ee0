"""Real bounce notices (tests/corpus/bounces/expected.tsv): whom each names, why, and what it does to the reader."""

import csv
from pathlib import Path

import pytest

from newsletter.feedback.parsers import HARD_BOUNCE, REFUSAL, SOFT_BOUNCE, parse_inbound
from newsletter.feedback.reasons import Group, group_of

CORPUS = Path(__file__).parent / "corpus" / "bounces"
CONSEQUENCES = {HARD_BOUNCE: "suppress", SOFT_BOUNCE: "soft", REFUSAL: "publisher", "complaint": "complaint",
                "opt_out": "unsubscribe", "reply": "reply"}
BY_GROUP = {Group.ADDRESS: "suppress", Group.READER: "soft", Group.UNCLEAR: "soft", Group.SENDER: "publisher"}

with (CORPUS / "expected.tsv").open(newline="") as table:
    ROWS = {row["file"]: row for row in csv.DictReader(table, delimiter="\t")}


def outcome(name: str) -> tuple[str, str, str]:
    events = parse_inbound((CORPUS / name).read_bytes())
    recipients = ",".join(sorted({event.recipient or "?" for event in events})) or "-"
    reasons = ",".join(sorted({event.reason or event.kind for event in events})) or "-"
    consequences = ",".join(sorted({CONSEQUENCES[event.kind] for event in events})) or "nothing"
    return recipients, reasons, consequences


def test_the_corpus_is_real_large_and_varied():
    """At least 150 real notices from at least 25 MTAs or providers (a notice nobody can tell apart counts for
    none), each with its source; every notice of the real-world folders has its row."""
    assert len(ROWS) >= 150
    assert len({row["format"] for row in ROWS.values() if not row["format"].startswith("unidentified")}) >= 25
    assert all(row["source"] for row in ROWS.values())
    assert {path.relative_to(CORPUS).as_posix() for folder in ("flufl", "sisimai", "bounced")
            for path in (CORPUS / folder).iterdir() if path.suffix in (".txt", ".eml")} == set(ROWS)


@pytest.mark.parametrize("name", sorted(ROWS))
def test_notice_names_its_reader_reason_and_consequence(name):
    row = ROWS[name]
    assert outcome(name) == (row["recipients"], row["reason"], row["consequence"])


@pytest.mark.parametrize("name", sorted(ROWS))
def test_the_consequence_follows_the_reason_group(name):
    """Every address-level bounce suppresses, no sender-side refusal does, nothing else is a hard bounce."""
    row = ROWS[name]
    for reason in row["reason"].split(","):
        if reason not in ("-", "complaint", "reply", "opt_out"):
            assert BY_GROUP[group_of(reason)] in row["consequence"].split(",")
