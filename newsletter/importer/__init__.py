"""Import: sniff -> parse -> validate, pure and streaming; then one writer that applies the rows in batches.

read_subscribers yields ConsentedRow or RowError per data row and raises ImportRefused for files refused as
a whole (address books, social exports, phone lists, bare lists, files without consent columns...);
read_suppressions reads lists of addresses that must never receive mail, which are always allowed.
What this package exports needs no app and no database. The writer (importer.writer, with importer.uploads
for the web page) is imported on its own, by name.
"""

from .read import read_subscribers, read_suppressions
from .refusals import KINDS as REFUSAL_KINDS
from .refusals import ImportRefused
from .rows import EXPORT_COLUMNS, ConsentedRow, RowError

__all__ = [
    "EXPORT_COLUMNS",
    "REFUSAL_KINDS",
    "ConsentedRow",
    "ImportRefused",
    "RowError",
    "read_subscribers",
    "read_suppressions",
]
