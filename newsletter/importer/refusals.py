"""Why a whole file is refused: one error type, one kind per reason, messages a person can act on.

The CLI and the web append the newsletter's share link to these messages, so they end by pointing to it.
"""

from ..errors import DomainError

KINDS = (
    "not_csv",
    "encoding",
    "empty",
    "address_book",
    "social_export",
    "phone_numbers",
    "bare_list",
    "no_consent_columns",
)

CONSENT_COLUMNS_HINT = (
    "A file can be imported only with, for each person, when they asked (consent_at), when they confirmed "
    "by e-mail (confirmed_at) and where they signed up (consent_source)"
)
SHARE_INSTEAD = "share your subscribe page with them instead, so that those who want your newsletter can ask for it."


class ImportRefused(DomainError):
    """The whole file is refused; nothing of it may be stored."""

    code = "import_refused"

    def __init__(self, kind: str, message: str):
        if kind not in KINDS:
            raise ValueError(f"unknown refusal kind {kind!r}")
        super().__init__(message)
        self.kind = kind


EXPORT_AS_CSV = "Export your subscribers as a CSV file (UTF-8) and import that."


def not_csv(looks_like: str, fix: str = EXPORT_AS_CSV) -> ImportRefused:
    """A file that is not CSV text: a spreadsheet, JSON, a binary file..."""
    return ImportRefused("not_csv", f"This file is not a CSV file: it looks like {looks_like}. {fix}")


def not_utf8(detail: str) -> ImportRefused:
    """Text in another encoding than UTF-8, usually a Windows/Latin-1 'CSV' from an older Excel."""
    return ImportRefused(
        "encoding",
        f"This file is not UTF-8 text ({detail}). Save it as CSV UTF-8 (in Excel: File > Save As > "
        "'CSV UTF-8 (Comma delimited)'; in LibreOffice: character set 'Unicode (UTF-8)') and import it again.",
    )


def empty_file() -> ImportRefused:
    """Nothing to read."""
    return ImportRefused(
        "empty", "This file is empty. Export your subscribers with their consent columns and try again."
    )


def address_book(looks_like: str) -> ImportRefused:
    """Contacts exported from an address book: none of them asked for the newsletter."""
    return ImportRefused(
        "address_book",
        f"This looks like an address-book export ({looks_like}). People in your address book did not ask for "
        f"your newsletter; {SHARE_INSTEAD}",
    )


def social_export(looks_like: str) -> ImportRefused:
    """Friends, followers or connections from a social network: being connected is not consent."""
    return ImportRefused(
        "social_export",
        f"This looks like a social-network export ({looks_like}). Being connected or following someone is not "
        f"asking for your newsletter; {SHARE_INSTEAD}",
    )


def phone_numbers(where: str) -> ImportRefused:
    """Any phone number in the file: the product never stores them and a phone list is not a mailing list."""
    return ImportRefused(
        "phone_numbers",
        f"This file carries phone numbers ({where}). A newsletter needs no phone numbers and a phone list is not "
        "a list of people who asked for your newsletter. If everyone in it confirmed by e-mail, remove every "
        f"phone number and import the file again; otherwise {SHARE_INSTEAD}",
    )


def bare_list(looks_like: str) -> ImportRefused:
    """Addresses with no proof that anyone asked for the newsletter."""
    return ImportRefused(
        "bare_list",
        f"This is a bare list of addresses ({looks_like}), with no proof that these people asked for your "
        f"newsletter. {CONSENT_COLUMNS_HINT}. For everyone else, {SHARE_INSTEAD}",
    )


def missing_consent_columns(missing: list[str], found: list[str]) -> ImportRefused:
    """A table without the columns that prove a confirmed opt-in."""
    shown = ", ".join(repr(name) for name in found[:12]) or "none"
    return ImportRefused(
        "no_consent_columns",
        f"This file lacks the consent columns {', '.join(missing)} (columns found: {shown}). Only people who "
        f"confirmed their subscription by e-mail can be imported. {CONSENT_COLUMNS_HINT}. For everyone else, "
        f"{SHARE_INSTEAD}",
    )
