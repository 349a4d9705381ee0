"""The one way a send starts: "send now" (publishing.start_sending, after its checks) and a scheduled issue
whose time has come (work.start_due_issues) both go through `start_issue`."""

from datetime import datetime

from sqlalchemy import select

from ..extensions import db
from ..models import Issue
from ..states import IssueStatus as I
from ..transitions import move
from .recipients import count_recipients


def start_issue(issue_id: int, now: datetime, from_=(I.DRAFT, I.SCHEDULED)) -> bool:
    """The issue starts SENDING now, with the number of readers it is planned for; False if it was not in one
    of `from_` (a conditional update: of two runners starting the same scheduled issue, one wins)."""
    newsletter_id = db.session.scalar(select(Issue.newsletter_id).where(Issue.id == issue_id))
    if newsletter_id is None:
        return False
    return move(Issue, I.SENDING, Issue.id == issue_id, from_=from_, started_at=now, updated_at=now,
                planned=count_recipients(newsletter_id, now)) == 1
