"""What the importer yields: a row with its consent evidence, or the reason a row cannot be imported."""

from dataclasses import dataclass
from datetime import datetime

# The product's own export writes exactly these columns, in this order, so that it re-imports unchanged.
EXPORT_COLUMNS = ("email", "name", "consent_at", "confirmed_at", "consent_source", "consent_ip", "confirm_ip")


@dataclass(frozen=True, slots=True)
class RowError:
    """One data row refused: its physical line in the file, the column at fault and why."""

    line: int
    field: str
    message: str


@dataclass(frozen=True, slots=True)
class ConsentedRow:
    """One person with proof of a confirmed opt-in; datetimes are timezone-aware UTC."""

    line: int
    email: str
    name: str
    consent_at: datetime
    confirmed_at: datetime
    consent_source: str
    consent_ip: str | None
    confirm_ip: str | None
