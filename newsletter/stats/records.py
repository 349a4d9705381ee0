"""The figures as flat records: the JSON API returns them and the CSV downloads have the same columns."""

import csv
import io
from collections.abc import Iterable, Iterator
from datetime import date, datetime

from ..spreadsheet_cells import spreadsheet_cell
from .bounces import GROUPS, refusal_record
from .issues import STATUSES, IssueFigures
from .newsletters import Bucket, NewsletterFigures, NewsletterSummary

ISSUE_COLUMNS = ["id", "newsletter", "subject", "status", "started_at", "finished_at", "recipients", *STATUSES,
                 "soft_bounces", *(f"bounces_{group}" for group in GROUPS), "complaints", "replies", "unsubscribes",
                 "duration_seconds", "per_minute"]
SUMMARY_COLUMNS = ["slug", "name", "confirmed", "pending", "requests", "confirmations", "confirmation_rate",
                   "unsubscribes", "issues_sent", "last_sent_at"]


def issue_record(figures: IssueFigures) -> dict:
    """One issue's figures, flat."""
    return {
        "id": figures.id, "newsletter": figures.newsletter_slug, "subject": figures.subject,
        "status": figures.status, "started_at": _iso(figures.started_at), "finished_at": _iso(figures.finished_at),
        "recipients": figures.recipients, **figures.counts, "soft_bounces": figures.soft_bounces,
        **{f"bounces_{group}": count for group, count in figures.bounce_groups.items()},
        "complaints": figures.complaints, "replies": figures.replies, "unsubscribes": figures.unsubscribes,
        "duration_seconds": figures.duration_seconds, "per_minute": figures.per_minute,
    }


def bucket_record(bucket: Bucket) -> dict:
    """One day or week of a newsletter's timeline."""
    return {"start": bucket.start.isoformat(), **{k: v for k, v in vars(bucket).items() if k != "start"}}


def reason_records(reasons: dict[str, int]) -> list[dict]:
    """Counts per reason code as a list of records."""
    return [{"reason": code, "count": count} for code, count in reasons.items()]


def summary_record(summary: NewsletterSummary) -> dict:
    """One newsletter's line of the overview."""
    item = summary.newsletter
    return {
        "slug": item.slug, "name": item.name, "confirmed": summary.confirmed, "pending": summary.pending,
        "requests": summary.requests, "confirmations": summary.confirmations,
        "confirmation_rate": _rate(summary.confirmation_rate), "unsubscribes": summary.unsubscribes,
        "issues_sent": summary.issues_sent, "last_sent_at": _iso(summary.last_sent_at),
    }


def newsletter_document(figures: NewsletterFigures) -> dict:
    """A newsletter's figures as one JSON object."""
    period = figures.period
    return {
        "newsletter": {"slug": figures.newsletter.slug, "name": figures.newsletter.name},
        "period": {"by": period.by, "days": period.days, "first": period.first.isoformat(),
                   "last": period.last.isoformat()},
        "readers": figures.readers,
        "totals": figures.totals,
        "confirmation_rate": _rate(figures.confirmation_rate),
        "timeline": [bucket_record(bucket) for bucket in figures.timeline],
        "unsubscribe_reasons": figures.reasons,
        "sender_refusals": [refusal_record(refusal) for refusal in figures.refusals],
        "latest_comments": [{"at": _iso(at), "comment": text} for at, text in figures.comments],
    }


def csv_lines(records: Iterable[dict], columns: list[str] | None = None) -> Iterator[str]:
    """CSV text, line by line (header first), safe to open in a spreadsheet."""
    buffer = io.StringIO()
    writer = None
    for record in records:
        if writer is None:
            writer = csv.DictWriter(buffer, fieldnames=columns or list(record), extrasaction="ignore")
            writer.writeheader()
        writer.writerow({key: spreadsheet_cell(value) for key, value in record.items()})
        yield _drain(buffer)
    if writer is None and columns:
        csv.writer(buffer).writerow(columns)
        yield _drain(buffer)


def _drain(buffer: io.StringIO) -> str:
    text = buffer.getvalue()
    buffer.seek(0)
    buffer.truncate()
    return text


def _iso(moment: datetime | date | None) -> str | None:
    return moment.isoformat() if moment else None


def _rate(rate: float | None) -> float | None:
    return round(rate, 4) if rate is not None else None
