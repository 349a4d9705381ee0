"""What an import did (or, in a dry run, would do): counts and the first refused rows. Pure: no app, no database."""

import json
from dataclasses import asdict, dataclass, field, fields, replace

from ..errors import DomainError
from .rows import RowError

MAX_ROW_ERRORS = 1000  # kept in memory and shown; further refused rows are only counted

# What kind of file was read, as the report names it.
OWN_EXPORT = "own_export"
CSV = "csv"
MAILCHIMP = "mailchimp"
SUPPRESSION_LIST = "suppression_list"
KIND_NAMES = {
    OWN_EXPORT: "this product's own export",
    CSV: "CSV with consent columns",
    MAILCHIMP: "Mailchimp member export",
    SUPPRESSION_LIST: "suppression list",
}


@dataclass
class ImportReport:
    """Counts of one import. Every data row lands in exactly one count (see `accounted`)."""

    file_name: str
    kind: str
    dry_run: bool = False
    rows_read: int = 0
    imported: int = 0  # subscriber files: readers made confirmed; suppression lists: addresses added
    already: int = 0  # already subscribed (confirmed), or already on the suppression list
    suppressed: int = 0  # skipped: on the suppression list (erased, bounced, complained or suppressed)
    left: int = 0  # skipped: unsubscribed, bounced or complained here: never subscribed again by an import
    duplicates: int = 0
    refused_rows: int = 0
    row_errors: list[RowError] = field(default_factory=list)

    @property
    def is_suppression_list(self) -> bool:
        return self.kind == SUPPRESSION_LIST

    @property
    def kind_name(self) -> str:
        return KIND_NAMES[self.kind]

    @property
    def more_row_errors(self) -> int:
        """Refused rows counted but not kept in row_errors."""
        return self.refused_rows - len(self.row_errors)

    @property
    def accounted(self) -> int:
        """The sum of all outcomes; equals rows_read once the import (or the dry run) is complete."""
        return self.imported + self.already + self.suppressed + self.left + self.duplicates + self.refused_rows

    def to_json(self) -> str:
        """The report as JSON, to keep with a background job (from_json reads it back)."""
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> "ImportReport":
        values = json.loads(text)
        values["row_errors"] = [RowError(**error) for error in values["row_errors"]]
        return cls(**{f.name: values[f.name] for f in fields(cls) if f.name in values})

    def before_writing(self) -> "ImportReport":
        """A check's report as the writing pass starts from it: rows read, refused and merged; nothing written."""
        return replace(self, dry_run=False, imported=0, already=0, suppressed=0, left=0,
                       row_errors=list(self.row_errors))

    def refuse_row(self, error: RowError) -> None:
        """Count a refused row, keeping the first MAX_ROW_ERRORS for the report."""
        self.refused_rows += 1
        if len(self.row_errors) < MAX_ROW_ERRORS:
            self.row_errors.append(error)


class RowsRefused(DomainError):
    """--strict: the file has refused rows, so nothing of it is imported. Carries the report to show them."""

    code = "import_refused"

    def __init__(self, report: ImportReport):
        first = "; ".join(f"line {e.line}, {e.field}: {e.message}" for e in report.row_errors[:3])
        more = f" (and {report.refused_rows - 3} more)" if report.refused_rows > 3 else ""
        super().__init__(
            f"{report.refused_rows} row(s) of {report.file_name} cannot be imported and --strict refuses the "
            f"whole file, so nothing was imported: {first}{more}. Correct these rows, or import without --strict "
            "to import the other rows."
        )
        self.report = report


def describe(report: ImportReport) -> list[str]:
    """The report as lines of text, for the command line."""
    would = "Would " if report.dry_run else ""
    lines = [f"{report.file_name}: {report.kind_name}, {report.rows_read} row(s) read."]
    if report.is_suppression_list:
        lines += [
            f"{would}{'add' if would else 'Added'} to the suppression list: {report.imported}",
            f"Already on the suppression list: {report.already}",
        ]
    else:
        lines += [
            f"{would}{'import' if would else 'Imported'}: {report.imported}",
            f"Already subscribed, unchanged: {report.already}",
            f"Skipped, on the suppression list (erased, bounced, complained or suppressed): {report.suppressed}",
            f"Skipped, left this newsletter (never subscribed again by an import): {report.left}",
        ]
    lines += [f"Duplicates merged (first occurrence kept): {report.duplicates}",
              f"Rows refused: {report.refused_rows}"]
    lines += [f"  line {e.line}, {e.field}: {e.message}" for e in report.row_errors]
    if report.more_row_errors:
        lines.append(f"  ... and {report.more_row_errors} more refused row(s) not listed")
    return lines
