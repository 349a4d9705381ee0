"""What a publisher does: write and keep drafts, check them, preview them, schedule or send them,
pause, resume or cancel a send, and change a newsletter's settings.

Who may act is decided here too: a publisher reaches only their own newsletters and issues, an admin reaches
all, and anything else is NotFound (never "forbidden", so ids cannot be probed). Services flush; callers commit.
"""

import email
import email.policy
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from flask_babel import gettext as _
from sqlalchemy import select

from . import newsletters, sending_domains
from .checks import CheckResult, check_issue
from .errors import InvalidInput, NotFound, Refused
from .extensions import db
from .links import external_url
from .mail.headers import header_safe
from .mail.issue_message import IssueTemplate, Reader
from .mail.system import return_path
from .models import Issue, Newsletter, User, is_id, utcnow
from .sending.ledger import counts_by_status
from .sending.recipients import count_recipients
from .sending.start import start_issue
from .sending.system_mail import queue_raw_mail
from .states import DeliveryStatus, IssueStatus
from .states import check_transition
from .transitions import initial, move_record

MAX_SUBJECT_LENGTH = 300  # the column; the check warns well before (78)
MAX_PREHEADER_LENGTH = 200  # the column; inboxes show 40 to 140 characters of it
MAX_BODY_LENGTH = 200_000  # characters: a long essay is ~60,000; more is a pasted file, not an issue
EARLIEST_SCHEDULE = timedelta(minutes=2)
LATEST_SCHEDULE = timedelta(days=366)
EDITABLE = (IssueStatus.DRAFT,)
RESTORE_WINDOW = timedelta(days=30)  # a discarded draft can be brought back this long
TEST_SUBJECT_PREFIX = "[TEST] "  # a test in the inbox is never mistaken for the real issue


class IssueRefused(Refused):
    """The pre-send check refused the issue; `result` holds every reason, refusals and warnings."""

    code = "issue_refused"

    def __init__(self, result: CheckResult):
        super().__init__(" ".join(result.refusals or result.warnings))
        self.result = result


class WarningsNotAccepted(IssueRefused):
    """The check warned and the publisher has not said they read the warnings."""

    code = "warnings_not_accepted"


@dataclass(frozen=True)
class Preview:
    """An issue as one reader would get it: the raw message and its two parts."""

    raw: bytes
    subject: str
    html: str
    text: str


# --- who may act ---------------------------------------------------------------------------------------

def may_manage(user: User, newsletter: Newsletter) -> bool:
    """True for the newsletter's owner and for admins."""
    return bool(user.is_admin or newsletter.owner_id == user.id)


def newsletter_of(user: User, slug: str) -> Newsletter:
    """The user's newsletter with this slug (any for an admin); NotFound otherwise."""
    try:
        item = newsletters.newsletter_by_slug(slug)  # the one lookup (junk never reaches the database)
    except NotFound:
        item = None
    if item is None or not may_manage(user, item):
        raise NotFound(_("There is no such newsletter among yours."))
    return item


def issue_of(user: User, issue_id: int) -> Issue:
    """The issue if it belongs to one of the user's newsletters (any for an admin); NotFound otherwise."""
    issue = db.session.get(Issue, issue_id) if is_id(issue_id) else None
    if issue is None or not may_manage(user, issue.newsletter):
        raise NotFound(_("There is no such issue among yours."))
    return issue


def find_issue(issue_id: int) -> Issue:
    """Any issue, for the operator's command line; NotFound if there is none with this id."""
    issue = db.session.get(Issue, issue_id) if is_id(issue_id) else None
    if issue is None:
        raise NotFound(f"There is no issue {issue_id}.")
    return issue


def issues_of(newsletter: Newsletter, now: datetime | None = None) -> list[Issue]:
    """A newsletter's issues, newest first (a few per month: no paging), with drafts discarded in the last 30 days."""
    recent = (now or utcnow()) - RESTORE_WINDOW
    return list(db.session.scalars(
        select(Issue)
        .where(Issue.newsletter_id == newsletter.id)
        .where((Issue.status != IssueStatus.DISCARDED) | (Issue.discarded_at > recent))
        .order_by(Issue.created_at.desc(), Issue.id.desc())
    ))


# --- newsletters -----------------------------------------------------------------------------------------

def update_newsletter(newsletter: Newsletter, **settings) -> Newsletter:
    """Change a newsletter's settings (not its slug: links in sent mail use it); InvalidInput if one is bad."""
    values = newsletters.check_settings(owner=newsletter.owner, slug=newsletter.slug, **settings)
    values.pop("slug")
    values["reply_to"] = values["reply_to"] or newsletter.owner.email
    for key, value in values.items():
        setattr(newsletter, key, value)
    db.session.flush()
    return newsletter


# --- drafts ----------------------------------------------------------------------------------------------

def clean_subject(subject: str | None) -> str:
    """A subject on one line, trimmed, up to the column's length; InvalidInput otherwise."""
    subject = header_safe((subject or "").strip(), "subject")
    if len(subject) > MAX_SUBJECT_LENGTH:
        raise InvalidInput(_("A subject has at most %(max)s characters.", max=MAX_SUBJECT_LENGTH))
    return subject


def clean_body(body: str | None) -> str:
    """Markdown with LF line ends, without NUL, up to MAX_BODY_LENGTH characters."""
    body = (body or "").replace("\r\n", "\n").replace("\r", "\n")
    if "\x00" in body:
        raise InvalidInput(_("The body contains a NUL character: paste it again as plain text."))
    if len(body) > MAX_BODY_LENGTH:
        raise InvalidInput(_("The body has %(count)s characters; an issue has at most %(max)s.",
                             count=len(body), max=MAX_BODY_LENGTH))
    return body


def clean_preheader(preheader: str | None) -> str:
    """The inbox preview text on one line, trimmed; InvalidInput if too long or broken over lines."""
    preheader = " ".join(header_safe((preheader or "").strip(), "preview text").split())
    if len(preheader) > MAX_PREHEADER_LENGTH:
        raise InvalidInput(_("The preview text has at most %(max)s characters.", max=MAX_PREHEADER_LENGTH))
    return preheader


def create_issue(newsletter: Newsletter, author: User | None, subject: str, body: str, preheader: str = "") -> Issue:
    """A new draft; InvalidInput for a subject with line breaks or an oversized body."""
    issue = Issue(newsletter=newsletter, created_by=author, subject=clean_subject(subject),
                  body_markdown=clean_body(body), preheader=clean_preheader(preheader), status=initial(IssueStatus.DRAFT))
    db.session.add(issue)
    db.session.flush()
    return issue


def update_draft(issue: Issue, subject: str, body: str, preheader: str = "") -> Issue:
    """Save new text into a draft; Refused once the issue is scheduled or sent."""
    if issue.status not in EDITABLE:
        raise Refused(_("Only a draft can be changed. Unschedule the issue first to edit it."))
    issue.subject = clean_subject(subject)
    issue.body_markdown = clean_body(body)
    issue.preheader = clean_preheader(preheader)
    db.session.flush()
    return issue


def discard(issue: Issue) -> Issue:
    """Put a draft (or a scheduled issue) aside; `restore` brings it back for RESTORE_WINDOW."""
    return _move(issue, IssueStatus.DISCARDED, discarded_at=utcnow(), scheduled_at=None)


def restore(issue: Issue, now: datetime | None = None) -> Issue:
    """A discarded issue becomes a draft again, within RESTORE_WINDOW of its discarding."""
    _require(issue, IssueStatus.DISCARDED)
    if issue.discarded_at is None or issue.discarded_at <= (now or utcnow()) - RESTORE_WINDOW:
        raise Refused(_("This issue was discarded more than 30 days ago and cannot be restored."))
    return _move(issue, IssueStatus.DRAFT, discarded_at=None)


# --- preview and test ------------------------------------------------------------------------------------

def sample_reader(issue: Issue, user: User) -> Reader:
    """The publisher as a reader: their address, placeholder links, the newsletter page as the source."""
    # Placeholder links in a preview, not secrets (bandit reads "token" as a password).
    return Reader(email=user.email, name="", unsubscribe_token="preview", preferences_token="preview",  # nosec B106
                  confirmed_at=utcnow(), consent_source=external_url("public.newsletter", slug=issue.newsletter.slug))


def preview(issue: Issue, user: User) -> Preview:
    """The issue exactly as the mail would be built, parsed back into its HTML and text parts."""
    raw = IssueTemplate(issue).message_for(sample_reader(issue, user))
    message = email.message_from_bytes(raw, policy=email.policy.default)
    html = message.get_body(("html",))
    text = message.get_body(("plain",))
    return Preview(raw=raw, subject=str(message["Subject"] or ""), html=_lines(html), text=_lines(text))


def _lines(part) -> str:
    # The parts travel with CRLF line ends (SMTP); a page shows them with LF.
    return part.get_content().replace("\r\n", "\n") if part is not None else ""


def send_test(issue: Issue, user: User) -> None:
    """Queue the issue to the publisher's own address only, signed as the send will be (sent after the caller
    commits)."""
    raw = IssueTemplate(issue, subject_prefix=TEST_SUBJECT_PREFIX,
                        signer=sending_domains.signer_for(issue.newsletter)).message_for(sample_reader(issue, user))
    queue_raw_mail("issue_test", raw, user.email, return_path(issue.newsletter, None))


# --- scheduling and sending ------------------------------------------------------------------------------

def refuse_unless_sendable(issue: Issue, at: datetime | None = None, accept_warnings: bool = True) -> CheckResult:
    """Run the pre-send check; IssueRefused if it refuses (or warns, unless warnings are accepted)."""
    result = check_issue(issue, at)
    if result.refusals:
        raise IssueRefused(result)
    if result.warnings and not accept_warnings:
        raise WarningsNotAccepted(result)
    return result


def recipient_count(issue: Issue) -> int:
    """How many readers the issue would go to if it were sent now (the number the publisher confirms)."""
    return count_recipients(issue.newsletter_id, utcnow())


def schedule(issue: Issue, when: datetime, now: datetime | None = None, accept_warnings: bool = True) -> Issue:
    """Plan the send for `when` (naive means UTC): a few minutes to a year ahead, and the check must pass."""
    now = now or utcnow()
    when = when if when.tzinfo else when.replace(tzinfo=timezone.utc)
    if when < now + EARLIEST_SCHEDULE:
        raise InvalidInput(_("Choose a time at least a few minutes from now."))
    if when > now + LATEST_SCHEDULE:
        raise InvalidInput(_("Choose a time within the coming year."))
    refuse_unless_sendable(issue, when, accept_warnings)
    sending_domains.refuse_unless_authenticated(issue.newsletter)
    return _move(issue, IssueStatus.SCHEDULED, scheduled_at=when)


def unschedule(issue: Issue) -> Issue:
    """Back to draft, to edit it or to keep it for later."""
    _require(issue, IssueStatus.SCHEDULED)
    return _move(issue, IssueStatus.DRAFT, scheduled_at=None)


def start_sending(issue: Issue, accept_warnings: bool = True) -> Issue:
    """Send now: the check must pass; then the start a scheduled issue also takes when its time comes
    (sending.start.start_issue); the sender does the rest."""
    refuse_unless_sendable(issue, accept_warnings=accept_warnings)
    sending_domains.refuse_unless_authenticated(issue.newsletter)
    check_transition(IssueStatus, issue.status, IssueStatus.SENDING)
    db.session.flush()
    started = start_issue(issue.id, utcnow(), from_=[issue.status])
    db.session.refresh(issue)
    return _moved(issue, started)


def pause(issue: Issue) -> Issue:
    """Hold a send where it is; nothing more goes out until it is resumed."""
    _require(issue, IssueStatus.SENDING)
    return _move(issue, IssueStatus.PAUSED)


def resume(issue: Issue) -> Issue:
    """Carry on a paused send with the readers it has not reached yet."""
    # Only from PAUSED: the table also lets a draft become SENDING, but that way is start_sending (checked).
    _require(issue, IssueStatus.PAUSED)
    return _move(issue, IssueStatus.SENDING, stop_reason=None)


def cancel(issue: Issue) -> Issue:
    """Stop for good: a draft is discarded, a send ends where it is."""
    return _move(issue, IssueStatus.CANCELLED, stop_reason=issue.stop_reason or "Cancelled by the publisher.",
                 finished_at=issue.finished_at or (utcnow() if issue.started_at else None))


def _require(issue: Issue, status: IssueStatus) -> None:
    if issue.status != status:
        raise Refused(_("This cannot be done to an issue that is %(status)s.", status=issue.status))


def _move(issue: Issue, new: IssueStatus, **values) -> Issue:
    """Through the transition table (Refused if it forbids the move), as a conditional update."""
    return _moved(issue, move_record(issue, new, **values))


def _moved(issue: Issue, moved: bool) -> Issue:
    if not moved:  # another request or the sender changed the issue first (it is refreshed: say what it is now)
        raise Refused(_("This cannot be done to an issue that is %(status)s.", status=issue.status))
    db.session.info["wake_sender"] = True  # the sender looks at issues after the caller commits
    return issue


def progress(issue: Issue) -> dict:
    """Where a send stands: the issue's fields and its deliveries counted by status."""
    counts = {status.value: 0 for status in DeliveryStatus}
    counts.update(counts_by_status(issue.id))
    done = sum(counts[s] for s in ("sent", "failed", "bounced", "skipped", "unknown"))
    return {
        "id": issue.id,
        "status": issue.status,
        "recipients": issue.recipients,
        "planned": max(issue.planned, issue.recipients),
        "counts": counts,
        "done": done,
        "started_at": _iso(issue.started_at),
        "finished_at": _iso(issue.finished_at),
        "stop_reason": issue.stop_reason,
    }


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None
