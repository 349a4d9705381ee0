"""The one writer: applies what the pure reader yields to the database, in batches, in two passes.

Pass 1 reads the whole file and builds the report; a file refused as a whole (even by a phone number on its
last line) or, with strict, a file with a refused row raises before anything is written. A dry run stops
there, after read-only lookups that count what the import would do. Otherwise pass 1 keeps the rows it
accepted in a spool (a temporary file, see spool.py), and pass 2 reads them from there, not from the file, and
writes batches of BATCH_ROWS rows with set-based SQL (see batch.py). So the file is parsed once, and what is
written is exactly what was checked, even if the file changes meanwhile. The import page's job runs the two
passes as two steps, a publisher's confirmation apart: its check keeps the spool beside the upload
(check_subscribers with a spool), and its import writes from it (write_subscribers) without reading the file
again. Pass 2 looks up what the database knows just before each batch, so readers who subscribed, left or were
suppressed since the check are honoured however long ago it ran.

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
from .read import FileRows, read_subscribers, read_suppressions
from .refusals import ImportRefused
from .report import ImportReport, RowsRefused
from .rows import ConsentedRow, RowError
from .seen import SeenAddresses
from .sniff import Source
from .spool import Spool

BATCH_ROWS = 2000
MAX_FILE_NAME = 255  # Subscription.imported_from
SUPPRESSION_REASON = "imported"
Commit = Callable[[], None]
OnBatch = Callable[[ImportReport, list], None]
# Called after each batch: the report so far, the pass ("reading": pass 1, "writing": pass 2) and how much of
# that pass is done (0 to 1). A job shows it on its progress page.
OnProgress = Callable[[ImportReport, str, float], None]
READING, WRITING = "reading", "writing"
_ROW_VALUES = attrgetter(*(field.name for field in fields(ConsentedRow)))  # as a tuple: quicker to spool


class FileRefused(ImportRefused):
    """A subscriber file refused as a whole, with what to do instead: the newsletter's subscribe page and the
    share page (its QR code and a message ready to send), whose address the caller gives (share_url)."""

    def __init__(self, refused: ImportRefused, newsletter: Newsletter, share_url: str):
        self.reason = refused.message
        self.subscribe_url = external_url("public.newsletter", slug=newsletter.slug)
        self.share_url = share_url
        super().__init__(
            refused.kind,
            f"{refused.message} Your subscribe page is {self.subscribe_url} ; its QR code and a message ready "
            f"to send are on {share_url}",
        )


def source_name(file_name: str) -> str:
    """The file's base name as kept in the consent record (imported_from): one line, at most 255 characters."""
    base = re.split(r"[\\/]", file_name)[-1]
    return "".join(" " if has_header_breaker(ch) else ch for ch in base).strip()[:MAX_FILE_NAME] or "upload"


# --- subscribers ----------------------------------------------------------------------------------------------


def check_subscribers(source: Source, newsletter: Newsletter, *, file_name: str, share_url: str,
                      now: datetime | None = None, strict: bool = False, dry_run: bool = False,
                      on_progress: OnProgress | None = None, spool: Spool | None = None) -> ImportReport:
    """Pass 1: read the whole file, raising FileRefused or (strict) RowsRefused; dry_run also counts outcomes.
    Given a spool, the accepted rows are kept in it for write_subscribers."""
    def count_outcomes(report: ImportReport, batch: list[ConsentedRow]) -> None:
        facts = known.look_up(newsletter.id, [row.email for row in batch])  # read-only
        for row in batch:
            count(report, facts.outcome(row.email))

    on_batch = _spooling(spool, _ROW_VALUES, count_outcomes if dry_run else _only_read)
    try:
        return _check_subscribers(source, file_name, now or utcnow(), strict, dry_run, on_batch, on_progress)
    except ImportRefused as refused:
        raise FileRefused(refused, newsletter, share_url) from None


def import_subscribers(source: Source, newsletter: Newsletter, *, file_name: str, commit: Commit, share_url: str,
                       now: datetime | None = None, strict: bool = False, dry_run: bool = False,
                       on_progress: OnProgress | None = None) -> ImportReport:
    """Check the file (pass 1), then import it in committed batches (pass 2); the report counts what was done.

    share_url: the newsletter's share page, which the message of a file refused as a whole points to."""
    now = now or utcnow()
    options = dict(file_name=file_name, share_url=share_url, now=now, strict=strict, on_progress=on_progress)
    if dry_run:
        return check_subscribers(source, newsletter, dry_run=True, **options)
    with Spool() as spool:
        checked = check_subscribers(source, newsletter, spool=spool, **options)
        return write_subscribers(spool, newsletter, checked=checked, commit=commit, now=now,
                                 on_progress=on_progress)


def write_subscribers(spool: Spool, newsletter: Newsletter, *, checked: ImportReport, commit: Commit,
                      now: datetime | None = None, on_progress: OnProgress | None = None) -> ImportReport:
    """Pass 2: write the rows a check kept in the spool, in committed batches; the report starts from the
    check's counts of rows read, refused and merged. What the database knows (who subscribed, left or was
    suppressed since the check) is looked up batch by batch, just before each batch is written."""
    check_transition(S, S.PENDING, S.CONFIRMED)  # what an import does to a pending subscription
    report = checked.before_writing()
    with ImportTuning() as tuning:
        writer = BatchWriter(newsletter.id, report.file_name, now or utcnow())
        for values in spool.batches():
            tuning.prepare(written=report.imported)
            writer.write(report, [ConsentedRow(*row) for row in values])
            commit()
            _progress(on_progress, report, WRITING, spool.fraction_read)
    return report


def _check_subscribers(source: Source, file_name: str, now: datetime, strict: bool, dry_run: bool,
                       on_batch: OnBatch, on_progress: OnProgress | None) -> ImportReport:
    """Pass 1, handing each batch of accepted rows to on_batch; the report counts rows read, refused, merged."""
    found = read_subscribers(source, now=now)  # sniffed and recognised once; the rows read on iteration
    report = ImportReport(source_name(file_name), found.kind, dry_run=dry_run)
    return _read_pass(found, _consented_rows(found, report), report, strict, on_batch, on_progress)


def _read_pass(found: FileRows, accepted: Iterator, report: ImportReport, strict: bool, on_batch: OnBatch,
               on_progress: OnProgress | None) -> ImportReport:
    for batch in _batches(accepted):
        on_batch(report, batch)
        _progress(on_progress, report, READING, found.fraction_read)
    _progress(on_progress, report, READING, 1.0)
    if strict and report.refused_rows:
        raise RowsRefused(report)
    return report


def _consented_rows(found: FileRows, report: ImportReport) -> Iterator[ConsentedRow]:
    """The file's valid rows, first occurrence of each address only; counts refused rows and duplicates."""
    seen = SeenAddresses()
    for item in found:
        report.rows_read += 1
        if type(item) is RowError:
            report.refuse_row(item)
        elif seen.add(item.email):
            yield item
        else:
            report.duplicates += 1


# --- suppression lists ----------------------------------------------------------------------------------------


def check_suppressions(source: Source, newsletter_id: int | None, *, file_name: str, strict: bool = False,
                       dry_run: bool = False, on_progress: OnProgress | None = None,
                       spool: Spool | None = None) -> ImportReport:
    """Pass 1 of a suppression list (newsletter_id None: instance-wide): refusals before anything is written.
    Given a spool, the accepted addresses are kept in it for write_suppressions."""
    def count_outcomes(report: ImportReport, batch: list[str]) -> None:
        already = len(known.suppressed_among(newsletter_id, suppression.hmacs_of(batch)))
        report.already += already
        report.imported += len(batch) - already

    on_batch = _spooling(spool, None, count_outcomes if dry_run else _only_read)
    return _check_suppressions(source, file_name, strict, dry_run, on_batch, on_progress)


def import_suppressions(source: Source, newsletter_id: int | None, *, file_name: str, commit: Commit,
                        strict: bool = False, dry_run: bool = False,
                        on_progress: OnProgress | None = None) -> ImportReport:
    """Put every address of the list on the suppression list, as keyed hashes only; committed per batch."""
    options = dict(file_name=file_name, strict=strict, on_progress=on_progress)
    if dry_run:
        return check_suppressions(source, newsletter_id, dry_run=True, **options)
    with Spool() as spool:
        checked = check_suppressions(source, newsletter_id, spool=spool, **options)
        return write_suppressions(spool, newsletter_id, checked=checked, commit=commit, on_progress=on_progress)


def write_suppressions(spool: Spool, newsletter_id: int | None, *, checked: ImportReport, commit: Commit,
                       on_progress: OnProgress | None = None) -> ImportReport:
    """Pass 2 of a suppression list: the addresses a check kept in the spool, added in committed batches."""
    report = checked.before_writing()
    for batch in spool.batches():
        _suppress_batch(report, newsletter_id, batch)
        commit()
        _progress(on_progress, report, WRITING, spool.fraction_read)
    return report


def _check_suppressions(source: Source, file_name: str, strict: bool, dry_run: bool,
                        on_batch: OnBatch, on_progress: OnProgress | None) -> ImportReport:
    found = read_suppressions(source)
    report = ImportReport(source_name(file_name), found.kind, dry_run=dry_run)
    return _read_pass(found, _suppressed_addresses(found, report), report, strict, on_batch, on_progress)


def _suppressed_addresses(found: FileRows, report: ImportReport) -> Iterator[str]:
    seen = SeenAddresses()
    for item in found:
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


def _progress(on_progress: OnProgress | None, report: ImportReport, phase: str, fraction: float) -> None:
    if on_progress is not None:
        on_progress(report, phase, fraction)


def _spooling(spool: Spool | None, values: Callable | None, then: OnBatch) -> OnBatch:
    """on_batch that keeps each batch in the spool (as plain values) before `then`; `then` without a spool."""
    if spool is None:
        return then

    def keep_then(report: ImportReport, batch: list) -> None:
        spool.write(batch if values is None else list(map(values, batch)))
        then(report, batch)

    return keep_then


def _only_read(report: ImportReport, batch: list) -> None:
    """Pass 1 of a check that is not a dry run: the rows are counted as they are read, nothing more."""


def _batches(items: Iterable) -> Iterator[list]:
    iterator = iter(items)
    while batch := list(islice(iterator, BATCH_ROWS)):
        yield batch
