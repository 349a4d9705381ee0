"""Phone numbers in a file, by column name or by value: any of them refuses the file.

Every row is scanned, so the scan is a regular expression first: only the rare cell that looks like a
number goes to the phonenumbers library, which is a hundred times slower. Cells that passed their check as an
address, a date or an IP address are skipped: they cannot be phone numbers.
"""

import re
import unicodedata

import phonenumbers

_PHONE_WORDS = frozenset(
    "phone phones telephone tel tlf telefon telefono telefone telefoon mobile mobil mobiel cell cellphone "
    "handy portable gsm fax whatsapp sms".split()
)
_PHONE_PARTS = ("phone", "telefon", "handy")  # inside words: homephone, Telefonnummer, Handynummer
_WORD = re.compile(r"[a-z0-9]+")

# A run of 7+ characters of digits and phone punctuation, not glued to a word, a URL, an address, a number or
# a time, and neither an IPv4 address nor an ISO date (the two shapes every consented file is full of).
_CANDIDATE = re.compile(
    r"(?<![\w/.=&?#%@\-])"
    r"(?!\d{1,3}(?:\.\d{1,3}){3}(?!\d))"
    r"(?!\d{4}-\d\d-\d\d)"
    r"(?:\+|\(\+?)?\d[\d \t().\-/]{5,24}\d"
    r"(?![\w/@:]|[-./]\d)"
)
_DATE = re.compile(r"\d{4}[-/.]\d{1,2}[-/.]\d{1,2}|\d{1,2}[-/.]\d{1,2}[-/.]\d{2,4}(?!\d)")
_IPV4 = re.compile(r"\d{1,3}(?:\.\d{1,3}){3}")
_DECIMAL = re.compile(r"\d+[.,]\d+")
_NOT_DIGIT = re.compile(r"\D")
_UNIX_TIME = re.compile(r"1\d{9}")  # seconds since 1970 between 2001 and 2033; no NANP number starts with 1
# National numbers need a region to be judged; these cover the product's first users.
_REGIONS = ("FR", "DE", "GB", "US")
CELL_SEPARATOR = "\x1f"  # joins a row's cells for one regex pass; never part of a candidate


def is_phone_column(name: str) -> bool:
    """True for column names such as Phone, Mobile, Tel., Téléphone, Handy, 'Phone 1 - Value'."""
    folded = unicodedata.normalize("NFKD", name.casefold()).encode("ascii", "ignore").decode()
    words = _WORD.findall(folded)
    return any(word in _PHONE_WORDS or any(part in word for part in _PHONE_PARTS) for word in words)


def holds_phone_number(text: str) -> bool:
    """True if the text contains something phonenumbers accepts as a possible phone number."""
    if not _CANDIDATE.search(text):
        return False  # the common case: one regex pass and done
    return any(_is_possible_number(match.group()) for match in _CANDIDATE.finditer(text))


def _is_possible_number(candidate: str) -> bool:
    digits = len(candidate) - len(_NOT_DIGIT.findall(candidate))
    if not 7 <= digits <= 17:
        return False
    if _DATE.match(candidate) or _IPV4.fullmatch(candidate) or _DECIMAL.fullmatch(candidate):
        return False
    if _UNIX_TIME.fullmatch(candidate):
        return False
    if candidate.lstrip("(").startswith("+"):
        return phonenumbers.is_possible_number_string(candidate, None)
    return any(phonenumbers.is_possible_number_string(candidate, region) for region in _REGIONS)


def first_phone_cell(cells: list[str], indices: range | tuple[int, ...]) -> int | None:
    """Index of the first cell, among those at indices, holding a phone number; None if there is none."""
    if not holds_phone_number(CELL_SEPARATOR.join([cells[i] for i in indices])):
        return None
    return next((i for i in indices if holds_phone_number(cells[i])), None)


class PhoneScanner:
    """Finds phone numbers in rows, reading only the cells that could hold one.

    A cell that passed its check as an address, a date or an IP address holds no phone number, so valid rows
    cost one regex pass over their free-text cells; a refused row has every cell scanned.
    """

    def __init__(self, width: int, typed: frozenset[int], never: frozenset[int]):
        self._width = width
        self._free = tuple(i for i in range(width) if i not in typed | never)
        self._all = tuple(i for i in range(width) if i not in never)

    def phone_at(self, cells: list[str], row_valid: bool) -> int | None:
        """Index of a cell holding a phone number (cells past the header included), or None."""
        indices = self._free if row_valid else self._all
        if len(cells) > self._width:  # cells beyond the header are free text too
            indices = indices + tuple(range(self._width, len(cells)))
        return first_phone_cell(cells, indices)
