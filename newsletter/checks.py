"""The pre-send content check, shared by the web pages and the command line.

Refusals block sending (nothing worth reading would go out, or Gmail would clip it); warnings are shown with
their reason and the publisher decides. Over the issue's subject and Markdown, plus one query (when the last
issue went out) and one rendering of the mail (its HTML size).
"""

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from flask_babel import gettext as _
from flask_babel import ngettext
from markdown_it.token import Token
from sqlalchemy import func, select

from .content import parse_markdown
from .extensions import db
from .mail.issue_message import IssueTemplate
from .models import Issue, utcnow

MAX_SUBJECT_LENGTH = 78  # RFC 5322's recommended line length: longer subjects are cut in most inboxes
MIN_CAPS_LETTERS = 6  # "NEWS" or "FAQ" in capitals is fine; a shouted sentence is not
FEW_WORDS = 50  # under this, an issue with images says little to someone reading the text part
# Issues drift: one sent a few days early is not a broken promise, one sent in half the time is.
CADENCE_SLACK = 0.75
# Gmail clips a message whose HTML passes about 102 KB: it shows "[Message clipped]" and hides the rest,
# the footer with the unsubscribe link included. Warn with room to spare, refuse past the limit.
HTML_WARN_BYTES = 90 * 1024
HTML_MAX_BYTES = 102 * 1024


@dataclass(frozen=True)
class CheckResult:
    refusals: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return not self.refusals


@dataclass
class BodyFacts:
    """What the check needs to know about a Markdown body."""

    words: int = 0
    paragraphs: int = 0
    links: int = 0
    images: int = 0
    images_without_alt: int = 0


def check_issue(issue: Issue, at: datetime | None = None) -> CheckResult:
    """Refusals and warnings for sending this issue at `at` (default: now)."""
    refusals: list[str] = []
    warnings: list[str] = []
    subject = (issue.subject or "").strip()
    facts = body_facts(issue.body_markdown or "")
    if not subject:
        refusals.append(_("The issue has no subject: readers decide from it whether to open the mail."))
    if facts.words == 0 and facts.images == 0:
        refusals.append(_("The issue is empty: write something in the body."))
    elif facts.words == 0:
        refusals.append(_("The issue holds only images: add text, so that it can be read as plain text, "
                          "with images turned off and by screen readers."))
    warnings.extend(subject_warnings(subject))
    warnings.extend(body_warnings(facts))
    if facts.words or facts.images:
        size_check(IssueTemplate(issue).html_bytes, refusals, warnings)
    cadence = cadence_warning(issue, at or utcnow())
    if cadence:
        warnings.append(cadence)
    return CheckResult(refusals=refusals, warnings=warnings)


def size_check(html_bytes: int, refusals: list[str], warnings: list[str]) -> None:
    """A refusal past Gmail's clipping size, a warning when close to it."""
    kilobytes = round(html_bytes / 1024)
    if html_bytes > HTML_MAX_BYTES:
        refusals.append(_("The mail's HTML is %(size)s KB: Gmail cuts mail past 102 KB and hides the rest, "
                          "the unsubscribe link included. Shorten the issue, or split it in two.", size=kilobytes))
    elif html_bytes > HTML_WARN_BYTES:
        warnings.append(_("The mail's HTML is %(size)s KB, close to the 102 KB past which Gmail cuts the mail "
                          "and hides its end, the unsubscribe link included.", size=kilobytes))


def subject_warnings(subject: str) -> list[str]:
    """Warnings about a subject line that is too long or shouted."""
    warnings = []
    if len(subject) > MAX_SUBJECT_LENGTH:
        warnings.append(_("The subject has %(count)s characters: most inboxes cut it after about %(max)s.",
                          count=len(subject), max=MAX_SUBJECT_LENGTH))
    letters = [ch for ch in subject if ch.lower() != ch.upper()]  # letters that have a case
    if len(letters) >= MIN_CAPS_LETTERS and all(ch.isupper() for ch in letters):
        warnings.append(_("The subject is in capital letters: it reads as shouting and spam filters "
                          "count it against the mail."))
    return warnings


def body_warnings(facts: BodyFacts) -> list[str]:
    """Warnings about a link-heavy body or one whose meaning is lost in plain text."""
    warnings = []
    if facts.links > facts.paragraphs:
        warnings.append(_("The body has %(links)s links for %(paragraphs)s paragraphs: link-heavy mail looks "
                          "like advertising to readers and spam filters.",
                          links=facts.links, paragraphs=facts.paragraphs))
    if facts.images_without_alt:
        warnings.append(ngettext(
            "%(num)s image has no description: the plain-text part shows only “[image]”. "
            "Describe it: ![what it shows](address).",
            "%(num)s images have no description: the plain-text part shows only “[image]”. "
            "Describe them: ![what it shows](address).",
            facts.images_without_alt))
    if facts.images and 0 < facts.words < FEW_WORDS:
        warnings.append(_("Most of this issue is in images: its plain-text part has only %(count)s words. "
                          "Say in words what the images show.", count=facts.words))
    return warnings


def cadence_warning(issue: Issue, at: datetime) -> str | None:
    """A warning if this issue would come sooner after the last one than the newsletter promises."""
    days = issue.newsletter.cadence_days
    if not days:
        return None
    last = db.session.scalar(
        select(func.max(Issue.started_at)).where(
            Issue.newsletter_id == issue.newsletter_id, Issue.id != issue.id, Issue.started_at.is_not(None)
        )
    )
    if last is None or at - last >= timedelta(days=days * CADENCE_SLACK):
        return None
    elapsed = max((at - last).days, 0)
    return ngettext("The last issue went out %(num)s day before this one, but the newsletter promises readers "
                    "about one issue every %(days)s days.",
                    "The last issue went out %(num)s days before this one, but the newsletter promises readers "
                    "about one issue every %(days)s days.", elapsed, days=days)


def body_facts(markdown: str) -> BodyFacts:
    """Count words, paragraphs, links and images of a Markdown body."""
    facts = BodyFacts()
    for token in parse_markdown(markdown):
        if token.type == "paragraph_open":
            facts.paragraphs += 1
        elif token.type in ("fence", "code_block"):
            facts.words += len(token.content.split())
        elif token.type == "inline":
            count_inline(token.children or [], facts)
    return facts


def count_inline(children: list[Token], facts: BodyFacts) -> None:
    """Add one inline run's words, links and images; an image's alt text is not body text."""
    for child in children:
        if child.type in ("text", "code_inline"):
            facts.words += len(child.content.split())
        elif child.type == "link_open":
            facts.links += 1
        elif child.type == "image":
            facts.images += 1
            if not child.content.strip():
                facts.images_without_alt += 1
