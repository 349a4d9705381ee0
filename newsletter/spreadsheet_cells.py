"""Cells of the CSV files the product writes and reads back: text a spreadsheet would run as a formula.

Excel, LibreOffice and Google Sheets run a cell that starts with = + - @ (or a tab or CR, which some skip
first) as a formula: a reader's name or a subject could open a link or run a command (CSV injection, OWASP).
Such text is written after an apostrophe, which spreadsheets show as text; the importer takes it off again,
so the product's own export re-imports unchanged.
"""

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_cell(value):
    """The value as a CSV cell no spreadsheet runs: text that could start a formula gets a leading apostrophe."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def read_cell(value: str) -> str:
    """A cell as spreadsheet_cell wrote it, back to the text it held."""
    if value.startswith("'") and value[1:2] and value[1:2] in FORMULA_STARTS:
        return value[1:]
    return value
