"""Statuses change in one place (newsletter/transitions.py), by conditional updates checked against the table."""

import ast
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from newsletter.errors import Refused
from newsletter.extensions import db
from newsletter.models import Issue, utcnow
from newsletter.states import INITIAL, TRANSITIONS, DeliveryStatus, IssueStatus, SystemMailStatus
from newsletter.transitions import initial, move, move_record, transition
from newsletter.sending.work import start_due_issues
from tests.support.sending_helpers import confirmed_readers, new_issue

PACKAGE = Path(__file__).resolve().parent.parent / "newsletter"
WRITER = PACKAGE / "transitions.py"
STATUS_VALUES = {status.value for kind in TRANSITIONS for status in kind}


def _is_status_value(node: ast.expr) -> bool:
    """`D.QUEUED`, `IssueStatus.SENT`, `D.QUEUED.value` or a literal "queued"."""
    if isinstance(node, ast.Attribute) and node.attr == "value":
        node = node.value
    if isinstance(node, ast.Constant):
        return node.value in STATUS_VALUES
    return (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name)
            and (node.value.id in {"S", "I", "D", "H", "M", "J"} or node.value.id.endswith("Status")))


def status_writes(source: str) -> list[int]:
    """Lines of `source` that write a status: `x.status = ...` (an exception's own HTTP `self.status` aside),
    `.values(status=...)`, `status=<a status>` in any call (a model or an insert), `literal(<a status>)`.
    A new row's first status is written as `status=initial(...)`, which checks it against states.INITIAL."""
    lines = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, (ast.Assign, ast.AugAssign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for target in targets:
                for part in (target.elts if isinstance(target, ast.Tuple) else [target]):
                    if isinstance(part, ast.Attribute) and part.attr == "status" and not (
                            isinstance(part.value, ast.Name) and part.value.id == "self"):
                        lines.append(node.lineno)
        elif isinstance(node, ast.Call):
            name = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
            for keyword in node.keywords:
                first = isinstance(keyword.value, ast.Call) and getattr(keyword.value.func, "id", "") == "initial"
                if keyword.arg == "status" and not first and (name == "values" or _is_status_value(keyword.value)):
                    lines.append(node.lineno)
            if name == "literal" and node.args and _is_status_value(node.args[0]):
                lines.append(node.lineno)
    return lines


def test_no_status_is_written_outside_transitions():
    writes = [f"{path.relative_to(PACKAGE.parent)}:{line}" for path in sorted(PACKAGE.rglob("*.py"))
              if path != WRITER for line in status_writes(path.read_text())]
    assert writes == [], "statuses are written only by newsletter/transitions.py"


@pytest.mark.parametrize("source", [
    "issue.status = IssueStatus.SENT",
    "left, subscription.status = subscription.status, status",
    "db.session.execute(update(Issue).values(status=new))",
    "mail = SystemMail(kind='confirm', status='failed')",
    "rows = select(literal(D.QUEUED.value), literal(0))",
    "moved = _move(issue_id, domain, D.QUEUED, status=D.HELD.value)",
])
def test_the_status_check_catches_each_way_of_writing_one(source):
    assert status_writes(source) == [1]


def test_the_status_check_leaves_reads_and_http_statuses_alone():
    assert status_writes("if issue.status == I.SENT:\n    self.status = status\nrender(page, status=400)\n"
                         "ReaderRow(status=subscription.status)") == []


def test_a_move_the_table_does_not_have_is_a_bug_not_an_update():
    with pytest.raises(ValueError, match="no IssueStatus move"):
        transition(Issue, IssueStatus.SENDING, from_=[IssueStatus.SENT])
    with pytest.raises(ValueError, match="no DeliveryStatus move"):
        transition(Issue, DeliveryStatus.QUEUED, from_=[DeliveryStatus.FAILED])


def test_a_new_row_starts_only_in_an_initial_status():
    assert initial(SystemMailStatus.QUEUED) == "queued"
    assert all(status in TRANSITIONS[kind] for kind, statuses in INITIAL.items() for status in statuses)
    with pytest.raises(ValueError):
        initial(IssueStatus.SENT)


def test_move_changes_only_rows_in_an_allowed_source_and_counts_them(newsletter):
    drafts = [new_issue(newsletter, subject=f"Draft {n}") for n in range(2)]
    sent = new_issue(newsletter, subject="Old")
    move(Issue, IssueStatus.SENDING, Issue.id == sent.id)
    move(Issue, IssueStatus.SENT, Issue.id == sent.id)
    moved = move(Issue, IssueStatus.CANCELLED, Issue.newsletter_id == newsletter.id)
    db.session.commit()
    assert moved == 2, "the two drafts: a sent issue is not a source of CANCELLED"
    statuses = dict(db.session.execute(select(Issue.id, Issue.status)).all())
    assert statuses == {drafts[0].id: "cancelled", drafts[1].id: "cancelled", sent.id: "sent"}


def test_move_record_refuses_what_the_table_forbids_and_loses_a_race_quietly(newsletter):
    issue = new_issue(newsletter)
    with pytest.raises(Refused):
        move_record(issue, IssueStatus.PAUSED)
    move(Issue, IssueStatus.DISCARDED, Issue.id == issue.id)  # another request, first: this one still sees a draft
    assert issue.status == IssueStatus.DRAFT
    assert move_record(issue, IssueStatus.SCHEDULED) is False
    assert issue.status == IssueStatus.DISCARDED, "refreshed: the record says what won"


def test_a_scheduled_issue_starts_as_send_now_does_with_its_planned_readers(newsletter):
    confirmed_readers(newsletter, 3)
    issue = new_issue(newsletter)
    move(Issue, IssueStatus.SCHEDULED, Issue.id == issue.id, scheduled_at=utcnow() - timedelta(minutes=1))
    db.session.commit()
    assert start_due_issues(utcnow()) == 1
    assert start_due_issues(utcnow()) == 0, "started once"
    db.session.refresh(issue)
    assert (issue.status, issue.planned) == (IssueStatus.SENDING, 3)
    assert issue.started_at is not None
