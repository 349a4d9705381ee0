"""Known files, recognised by their header: contact exports (refused) and the two consented formats.

Column names are compared as parse.column_key makes them: 'E-mail 1 - Value' is 'e_mail_1_value'.
"""

from dataclasses import dataclass

from . import refusals
from .parse import Table
from .phones import first_phone_cell, is_phone_column

# One column is enough: no newsletter tool exports these, every address book does.
_ADDRESS_BOOK_COLUMNS = {
    **dict.fromkeys(
        ("given_name", "additional_name", "family_name", "yomi_name", "given_name_yomi", "group_membership",
         "e_mail_1_type", "e_mail_1_value", "e_mail_1_label", "phonetic_first_name", "file_as"),
        "Google Contacts CSV",
    ),
    **dict.fromkeys(
        ("e_mail_2_address", "e_mail_display_name", "given_yomi", "surname_yomi", "business_street",
         "business_phone", "company_yomi"),
        "Outlook contacts CSV",
    ),
    **dict.fromkeys(
        ("primary_email", "secondary_email", "screen_name", "web_page_1", "birth_year", "work_zipcode"),
        "Thunderbird address book CSV",
    ),
    **dict.fromkeys(
        ("alternate_email_1", "messenger_id", "distribution_lists", "yahoo_phone"), "Yahoo contacts CSV"
    ),
}
_SOCIAL_COLUMNS = {
    **dict.fromkeys(("connected_on", "linkedin_url", "linkedin_profile"), "LinkedIn connections"),
    **dict.fromkeys(("xing_profil", "xing_profile", "xing_url", "kontakt_seit"), "Xing contacts"),
    **dict.fromkeys(("friend_since", "friends_since", "facebook_id", "facebook_profile"), "a friends list"),
    **dict.fromkeys(("followed_on", "follower_since", "following_since"), "a followers list"),
    "profile_url": "a social-network contacts list",
}
_EMAIL_NAMES = (  # in order of preference when a file has several
    "email", "e_mail", "email_address", "e_mail_address", "emailaddress", "mail", "courriel", "adresse_email",
    "adresse_e_mail", "adresse_mail", "e_mail_adresse",
)
_EMAIL_COLUMNS = frozenset(_EMAIL_NAMES)
_NAME_COLUMNS = frozenset(
    ("name", "first_name", "last_name", "full_name", "firstname", "lastname", "surname", "nom", "prenom",
     "prénom", "nom_complet", "vorname", "nachname", "display_name")
)
_MAILCHIMP_MARKERS = frozenset(("optin_time", "confirm_time", "member_rating", "leid", "euid"))
# Mailchimp columns holding IDs, ratings and coordinates: digits, but never anyone's phone number.
_MAILCHIMP_METADATA = frozenset(("member_rating", "leid", "euid", "gmtoff", "dstoff", "latitude", "longitude"))
MAILCHIMP_SOURCE = "Mailchimp signup form (Mailchimp export)"


@dataclass(frozen=True, slots=True)
class ConsentLayout:
    """Where each piece of consent evidence sits in a row (column indices), for one accepted format."""

    header: tuple[str, ...]
    email: int
    names: tuple[int, ...]
    consent_at: int
    confirmed_at: int
    consent_source: int | None  # None: every row gets fixed_source
    fixed_source: str
    consent_ip: int | None
    confirm_ip: int | None
    left: tuple[int, ...]  # columns whose value means the person left (Mailchimp UNSUB_TIME, CLEAN_TIME)
    not_phones: frozenset[int]
    unasked_message: str
    unconfirmed_message: str

    @property
    def typed(self) -> frozenset[int]:
        """Columns checked as an address, a date or an IP address."""
        columns = (self.email, self.consent_at, self.confirmed_at, self.consent_ip, self.confirm_ip)
        return frozenset(index for index in columns if index is not None)


def recognise(table: Table) -> ConsentLayout:
    """Map a header to the consent evidence, refusing contact lists, phone lists and bare lists by their columns."""
    keys = table.keys
    _refuse_contact_exports(table)
    if _MAILCHIMP_MARKERS.intersection(keys) and "email_address" in keys:
        return _mailchimp_layout(table.header, keys)
    return _own_layout(table.header, keys)


def _refuse_contact_exports(table: Table) -> None:
    """Raise ImportRefused for address books, social exports, phone columns and bare lists."""
    keys = table.keys
    for key in keys:
        if key in _ADDRESS_BOOK_COLUMNS:
            raise refusals.address_book(_ADDRESS_BOOK_COLUMNS[key])
    for key in keys:
        if key in _SOCIAL_COLUMNS:
            raise refusals.social_export(_SOCIAL_COLUMNS[key])
    for name in table.header:
        if is_phone_column(name):
            raise refusals.phone_numbers(f"a column named {name!r}")
    _refuse_headerless(table.header)
    named = {key for key in keys if key}
    if named & _EMAIL_COLUMNS and named <= _EMAIL_COLUMNS | _NAME_COLUMNS:
        raise refusals.bare_list("only e-mail and name columns: " + ", ".join(h for h in table.header if h))


def _refuse_headerless(first_row: tuple[str, ...]) -> None:
    # Without a header the first line is data: a phone list or a list of addresses.
    if first_phone_cell(list(first_row), range(len(first_row))) is not None:
        raise refusals.phone_numbers("on line 1, which is not a header")
    if any(_looks_like_address(cell) for cell in first_row):
        raise refusals.bare_list("no header line: the first line already holds an address")


def _looks_like_address(cell: str) -> bool:
    # Column names never hold an '@'; a first line that does is data, valid address or not.
    return "@" in cell


def _names_addresses(key: str) -> bool:
    # 'E-mail 1 - Value' or 'Primary Email' hold addresses; 'E-mail 1 - Type' or 'E-mail Display Name' do not.
    return "email" in key.replace("_", "") and not key.endswith(("type", "label", "display_name"))


def _index(keys: tuple[str, ...], *names: str) -> int | None:
    for name in names:
        if name in keys:
            return keys.index(name)
    return None


def _own_layout(header: tuple[str, ...], keys: tuple[str, ...]) -> ConsentLayout:
    columns = {
        "email": _index(keys, *_EMAIL_NAMES),
        "consent_at": _index(keys, "consent_at"),
        "confirmed_at": _index(keys, "confirmed_at"),
        "consent_source": _index(keys, "consent_source"),
    }
    _require(columns, header)
    name = _index(keys, "name")
    names = (name,) if name is not None else _present(keys, "first_name", "last_name")
    return ConsentLayout(
        header=header, email=columns["email"], names=names, consent_at=columns["consent_at"],
        confirmed_at=columns["confirmed_at"], consent_source=columns["consent_source"], fixed_source="",
        consent_ip=_index(keys, "consent_ip"), confirm_ip=_index(keys, "confirm_ip"), left=(),
        not_phones=frozenset(),
        unasked_message="Missing: when the person asked to subscribe.",
        unconfirmed_message="No confirmation time: only people who confirmed by e-mail can be imported.",
    )


def _mailchimp_layout(header: tuple[str, ...], keys: tuple[str, ...]) -> ConsentLayout:
    columns = {
        "Email Address": _index(keys, "email_address"),
        "OPTIN_TIME": _index(keys, "optin_time"),
        "CONFIRM_TIME": _index(keys, "confirm_time"),
    }
    _require(columns, header)
    return ConsentLayout(
        header=header, email=columns["Email Address"], names=_present(keys, "first_name", "last_name"),
        consent_at=columns["OPTIN_TIME"], confirmed_at=columns["CONFIRM_TIME"], consent_source=None,
        fixed_source=MAILCHIMP_SOURCE, consent_ip=_index(keys, "optin_ip"), confirm_ip=_index(keys, "confirm_ip"),
        left=_present(keys, "unsub_time", "clean_time"),
        not_phones=frozenset(i for i, key in enumerate(keys) if key in _MAILCHIMP_METADATA),
        unasked_message=(
            "No OPTIN_TIME: Mailchimp leaves it empty for contacts added by hand or imported, "
            "who never signed up themselves."
        ),
        unconfirmed_message=(
            "No CONFIRM_TIME: this person joined by single opt-in and never confirmed by e-mail, "
            "so they cannot be imported."
        ),
    )


def _present(keys: tuple[str, ...], *names: str) -> tuple[int, ...]:
    return tuple(keys.index(name) for name in names if name in keys)


def _require(columns: dict[str, int | None], header: tuple[str, ...]) -> None:
    missing = [name for name, index in columns.items() if index is None]
    if missing:
        raise refusals.missing_consent_columns(missing, [h for h in header if h])


def suppression_column(table: Table) -> tuple[int, bool]:
    """(index of the address column, whether line 1 is a header) for a suppression list."""
    for index, cell in enumerate(table.header):
        if _looks_like_address(cell):
            return index, False
    keys = table.keys
    found = _index(keys, *_EMAIL_NAMES)
    if found is None:
        found = next((i for i, key in enumerate(keys) if _names_addresses(key)), None)
    if found is None:
        raise refusals.not_csv(
            f"a table without an e-mail column (columns: {', '.join(h for h in table.header if h)})",
            "Name the address column 'email', or give a plain list of addresses, one per line.",
        )
    return found, True
