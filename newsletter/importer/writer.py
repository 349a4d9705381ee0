"""The one writer: applies what the pure reader yields to the database, in batches, in two passes.

Pass 1 reads the whole file and builds the report; a file refused as a whole (even by a phone number on its
last line) or, with strict, a file with a refused row raises before anything is written. A dry run stops
there, after read-only lookups that count what the import would do. Otherwise pass 1 keeps the rows it
accepted in a spool (a temporary file, see spool.py), and pass 2 reads them from there, not from the file, and
writes batches of BATCH_ROWS rows with set-based SQL (see batch.py). So the file is parsed once, and what is
written is exactly what was checked, even if the file changes meanwhile.

Transaction policy: the caller passes `commit`, called after each batch (the CLI and the web pass
db.session.commit). A crash therefore leaves whole batches only, and running the same import again is
harmless: imported readers are then "already subscribed" and left unchanged, and conflicting inserts are
skipped. Holding a million rows in one transaction instead would lock SQLite writers out for the whole import.
"""

import re
from dataclasses import fields
from datetime import datetime
from itertools import islice
from operator import attrgetter
from typing import Callable, Iterable, Iterator

from flask import current_app
from werkzeug.routing import BuildError

from .. import suppression
from ..addresses import has_header_breaker
from ..extensions import db
from ..links import external_url
from ..models import Newsletter, Suppression, utcnow
from ..states import SubscriptionStatus as S
from ..states import check_transition
from . import known
from .batch import BatchWriter, count
from .bulk import ImportTuning, insert_ignoring_conflicts
from .formats import MAILCHIMP_SOURCE, recognise
from .read import inspect_subscribers, read_subscribers, read_suppressions
from .refusals import ImportRefused
from .report import CSV, MAILCHIMP, OWN_EXPORT, SUPPRESSION_LIST, ImportReport, RowsRefused
from .rows import EXPORT_COLUMNS, ConsentedRow, RowError
from .seen import SeenAddresses
from .sniff import Source
from .spool import Spool

BATCH_ROWS = 2000
MAX_FILE_NAME = 255  # Subscription.imported_from
SUPPRESSION_REASON = "imported"
Commit = Callable[[], None]
OnBatch = Callable[[ImportReport, list], None]
_ROW_VALUES = attrgetter(*(field.name for field in fields(ConsentedRow)))  # as a tuple: quicker to spool


class FileRefused(ImportRefused):
    """A subscriber file refused as a whole, with what to do instead: the newsletter's subscribe and share pages."""

    def __init__(self, refused: ImportRefused, newsletter: Newsletter):
        self.reason = refused.message
        self.subscribe_url = external_url("public.newsletter", slug=newsletter.slug)
        self.share_url = _share_page_url(newsletter)
        super().__init__(
            refused.kind,
            f"{refused.message} Your subscribe page is {self.subscribe_url} ; its QR code and a message ready "
            f"to send are on {self.share_url}",
        )


def _share_page_url(newsletter: Newsletter) -> str:
    """The publisher's share page: the subscribe link's QR code and a message ready to send."""
    try:
        return external_url("admin.share", slug=newsletter.slug)
    except BuildError:  # the endpoint was renamed: its documented path still leads there
        return f"{current_app.config['BASE_URL']}/admin/n/{newsletter.slug}/share"


def source_name(file_name: str) -> str:
    """The file's base name as kept in the consent record (imported_from): one line, at most 255 characters."""
    base = re.split(r"[\\/]", file_name)[-1]
    return "".join(" " if has_header_breaker(ch) else ch for ch in base).strip()[:MAX_FILE_NAME] or "upload"


# --- subscribers ----------------------------------------------------------------------------------------------


def check_subscribers(source: Source, newsletter: Newsletter, *, file_name: str, now: datetime | None = None,
                      strict: bool = False, dry_run: bool = False) -> ImportReport:
    """Pass 1: read the whole file, raising FileRefused or (strict) RowsRefused; dry_run also counts outcomes."""
    def count_outcomes(report: ImportReport, batch: list[ConsentedRow]) -> None:
        facts = known.look_up(newsletter.id, [row.email for row in batch])  # read-only
        for row in batch:
            count(report, facts.outcome(row.email))

    on_batch = count_outcomes if dry_run else _only_read
    return _check_subscribers(source, newsletter, file_name, now or utcnow(), strict, dry_run, on_batch)


def import_subscribers(source: Source, newsletter: Newsletter, *, file_name: str, commit: Commit,
                       now: datetime | None = None, strict: bool = False, dry_run: bool = False) -> ImportReport:
    """Check the file (pass 1), then import it in committed batches (pass 2); the report counts what was done."""
    now = now or utcnow()
    if dry_run:
        return check_subscribers(source, newsletter, file_name=file_name, now=now, strict=strict, dry_run=True)
    check_transition(S, S.PENDING, S.CONFIRMED)  # what an import does to a pending subscription
    with Spool() as spool:
        report = _check_subscribers(source, newsletter, file_name, now, strict, False,
                                    lambda _, batch: spool.write(list(map(_ROW_VALUES, batch))))
        with ImportTuning() as tuning:
            writer = BatchWriter(newsletter.id, report.file_name, now)
            for values in spool.batches():
                tuning.prepare(written=report.imported)
                writer.write(report, [ConsentedRow(*row) for row in values])
                commit()
    return report


def _check_subscribers(source: Source, newsletter: Newsletter, file_name: str, now: datetime, strict: bool,
                       dry_run: bool, on_batch: OnBatch) -> ImportReport:
    """Pass 1, handing each batch of accepted rows to on_batch; the report counts rows read, refused, merged."""
    try:
        report = ImportReport(source_name(file_name), _subscriber_file_kind(source), dry_run=dry_run)
        for batch in _batches(_consented_rows(source, now, report)):
            on_batch(report, batch)
    except ImportRefused as refused:
        raise FileRefused(refused, newsletter) from None
    if strict and report.refused_rows:
        raise RowsRefused(report)
    return report


def _subscriber_file_kind(source: Source) -> str:
    table = inspect_subscribers(source)
    if recognise(table).fixed_source == MAILCHIMP_SOURCE:
        return MAILCHIMP
    return OWN_EXPORT if table.header == EXPORT_COLUMNS and table.delimiter == "," else CSV


def _consented_rows(source: Source, now: datetime, report: ImportReport) -> Iterator[ConsentedRow]:
    """The file's valid rows, first occurrence of each address only; counts refused rows and duplicates."""
    seen = SeenAddresses()
    for item in read_subscribers(source, now=now):
        report.rows_read += 1
        if type(item) is RowError:
            report.refuse_row(item)
        elif seen.add(item.email):
            yield item
        else:
            report.duplicates += 1


# --- suppression lists ----------------------------------------------------------------------------------------


def check_suppressions(source: Source, newsletter_id: int | None, *, file_name: str, strict: bool = False,
                       dry_run: bool = False) -> ImportReport:
    """Pass 1 of a suppression list (newsletter_id None: instance-wide): refusals before anything is written."""
    def count_outcomes(report: ImportReport, batch: list[str]) -> None:
        already = len(known.suppressed_among(newsletter_id, suppression.hmacs_of(batch)))
        report.already += already
        report.imported += len(batch) - already

    return _check_suppressions(source, file_name, strict, dry_run, count_outcomes if dry_run else _only_read)


def import_suppressions(source: Source, newsletter_id: int | None, *, file_name: str, commit: Commit,
                        strict: bool = False, dry_run: bool = False) -> ImportReport:
    """Put every address of the list on the suppression list, as keyed hashes only; committed per batch."""
    if dry_run:
        return check_suppressions(source, newsletter_id, file_name=file_name, strict=strict, dry_run=True)
    with Spool() as spool:
        report = _check_suppressions(source, file_name, strict, False, lambda _, batch: spool.write(batch))
        for batch in spool.batches():
            _suppress_batch(report, newsletter_id, batch)
            commit()
    return report


def _check_suppressions(source: Source, file_name: str, strict: bool, dry_run: bool,
                        on_batch: OnBatch) -> ImportReport:
    report = ImportReport(source_name(file_name), SUPPRESSION_LIST, dry_run=dry_run)
    for batch in _batches(_suppressed_addresses(source, report)):
        on_batch(report, batch)
    if strict and report.refused_rows:
        raise RowsRefused(report)
    return report


def _suppressed_addresses(source: Source, report: ImportReport) -> Iterator[str]:
    seen = SeenAddresses()
    for item in read_suppressions(source):
        report.rows_read += 1
        if type(item) is RowError:
            report.refuse_row(item)
        elif seen.add(item):
            yield item
        else:
            report.duplicates += 1


def _suppress_batch(report: ImportReport, newsletter_id: int | None, batch: list[str]) -> None:
    hmacs = suppression.hmacs_of(batch)
    already = known.suppressed_among(newsletter_id, hmacs)
    new = [key for key in hmacs if key not in already]
    if new:
        db.session.execute(insert_ignoring_conflicts(Suppression), [
            {"address_hmac": key, "newsletter_id": newsletter_id, "reason": SUPPRESSION_REASON} for key in new
        ])
    report.imported += len(new)
    report.already += len(already)


# --- shared ---------------------------------------------------------------------------------------------------


def _only_read(report: ImportReport, batch: list) -> None:
    """Pass 1 of a check that is not a dry run: the rows are counted as they are read, nothing more."""


def _batches(items: Iterable) -> Iterator[list]:
    iterator = iter(items)
    while batch := list(islice(iterator, BATCH_ROWS)):
        yield batch
