"""The public archive: issues that went out, readable on the web and in the Atom feed."""

from flask_babel import gettext
from sqlalchemy import select

from .errors import NotFound
from .extensions import db
from .models import Issue, Newsletter


def published_issues(newsletter: Newsletter, limit: int | None = None) -> list[Issue]:
    """Issues whose sending began (drafts and scheduled issues never show), newest first."""
    query = (
        select(Issue)
        .where(Issue.newsletter_id == newsletter.id, Issue.started_at.is_not(None))
        .order_by(Issue.started_at.desc(), Issue.id.desc())
    )
    if limit is not None:
        query = query.limit(limit)
    return list(db.session.scalars(query))


def published_issue(newsletter: Newsletter, issue_id: int) -> Issue:
    """One published issue of this newsletter; NotFound for drafts and for other newsletters' issues."""
    issue = db.session.get(Issue, issue_id)
    if issue is None or issue.newsletter_id != newsletter.id or issue.started_at is None:
        raise NotFound(gettext("There is no such issue."))
    return issue
