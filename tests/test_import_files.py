"""Import files: what is refused as a whole, what is refused per row, and what comes through (SPEC "Import").

Pure tests: the importer needs no app and no database. The corpus under tests/corpus/import/ holds hand-written
copies of real export formats, with fake people at example.org, example.com and example.net.
"""

import csv
import io
import tracemalloc
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from newsletter.addresses import normalise_address, validate_address
from newsletter.errors import DomainError, InvalidAddress
from newsletter.importer import (
    EXPORT_COLUMNS,
    REFUSAL_KINDS,
    ConsentedRow,
    ImportRefused,
    RowError,
    read_subscribers,
    read_suppressions,
)
from newsletter.importer.phones import holds_phone_number, is_phone_column

CORPUS = Path(__file__).parent / "corpus" / "import"
NOW = datetime(2025, 1, 1, tzinfo=UTC)
MAILCHIMP_SOURCE = "Mailchimp signup form (Mailchimp export)"


def refusal(name: str) -> ImportRefused:
    """The refusal of a corpus file, which must come before any row is yielded."""
    with pytest.raises(ImportRefused) as caught:
        read_subscribers(CORPUS / "refused" / name, now=NOW)
    return caught.value


def read_accepted(name: str) -> tuple[list[ConsentedRow], list[RowError]]:
    items = list(read_subscribers(CORPUS / "accepted" / name, now=NOW))
    valid = [item for item in items if isinstance(item, ConsentedRow)]
    errors = [item for item in items if isinstance(item, RowError)]
    assert len(valid) + len(errors) == len(items)
    return valid, errors


def where(errors: list[RowError]) -> list[tuple[int, str]]:
    return [(error.line, error.field) for error in errors]


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


# --- refused as a whole --------------------------------------------------------------------------------------


def test_refuses_vcard_named_csv():
    refused = refusal("contacts-vcard-named.csv")
    assert refused.kind == "address_book"
    assert "address-book export (vCard" in refused.message
    assert "subscribe page" in refused.message


def test_refuses_icloud_vcf():
    assert refusal("icloud-contacts.vcf").kind == "address_book"


def test_refuses_google_contacts_csv_old_header():
    refused = refusal("google-contacts-old.csv")
    assert refused.kind == "address_book"
    assert "Google Contacts" in refused.message


def test_refuses_google_contacts_csv_new_header():
    assert refusal("google-contacts-new.csv").kind == "address_book"


def test_refuses_outlook_contacts_csv():
    refused = refusal("outlook-contacts.csv")
    assert refused.kind == "address_book"
    assert "Outlook" in refused.message


def test_refuses_thunderbird_address_book_csv():
    assert refusal("thunderbird-address-book.csv").kind == "address_book"


def test_refuses_yahoo_contacts_csv():
    assert refusal("yahoo-contacts.csv").kind == "address_book"


def test_refuses_linkedin_connections_with_notes_preamble():
    refused = refusal("Connections.csv")
    assert refused.kind == "social_export"
    assert "LinkedIn" in refused.message


def test_refuses_facebook_friends_json():
    refused = refusal("facebook-your_friends.json")
    assert refused.kind == "social_export"
    assert "Facebook" in refused.message


def test_refuses_instagram_followers_json():
    assert refusal("instagram-followers_1.json").kind == "social_export"


def test_refuses_x_twitter_follower_js():
    refused = refusal("twitter-follower.js")
    assert refused.kind == "social_export"
    assert "follower.js" in refused.message


def test_refuses_phone_list_by_its_phone_column():
    refused = refusal("phone-list.csv")
    assert refused.kind == "phone_numbers"
    assert "'phone'" in refused.message


def test_refuses_phone_list_without_header():
    assert refusal("phone-list-no-header.csv").kind == "phone_numbers"


def test_refuses_mailchimp_export_with_a_phone_column():
    assert refusal("mailchimp-with-phone-column.csv").kind == "phone_numbers"


def test_refuses_consented_file_with_phone_number_hidden_in_notes_mid_stream():
    rows = read_subscribers(CORPUS / "refused" / "consented-with-phone-in-notes.csv", now=NOW)
    seen = []
    with pytest.raises(ImportRefused) as caught:
        for item in rows:
            seen.append(item)
    assert caught.value.kind == "phone_numbers"
    assert "line 4, column 'notes'" in caught.value.message
    # 'the 2023 archive' and 'the 2024-01-20 fair' on lines 3 and 4 are not phone numbers.
    assert [item.line for item in seen] == [2, 3]


def test_refuses_bare_list_of_addresses():
    refused = refusal("bare-list.csv")
    assert refused.kind == "bare_list"
    assert "consent_at" in refused.message


def test_refuses_email_and_name_only_as_bare_list():
    assert refusal("email-and-name.csv").kind == "bare_list"


def test_refuses_file_without_consent_columns_and_names_them():
    refused = refusal("signups-without-consent-columns.csv")
    assert refused.kind == "no_consent_columns"
    assert "consent_at, confirmed_at, consent_source" in refused.message
    assert "confirmed their subscription by e-mail" in refused.message


def test_refuses_own_format_missing_confirmed_at():
    refused = refusal("export-without-confirmed-at.csv")
    assert refused.kind == "no_consent_columns"
    assert "lacks the consent columns confirmed_at " in refused.message


def test_refuses_xlsx_workbook_renamed_csv():
    refused = refusal("subscribers-xlsx-renamed.csv")
    assert refused.kind == "not_csv"
    assert "save it as CSV UTF-8" in refused.message


def test_refuses_plain_json():
    assert refusal("not-social.json").kind == "not_csv"


def test_refuses_latin1_file_asking_for_csv_utf8():
    refused = refusal("latin1-excel.csv")
    assert refused.kind == "encoding"
    assert "Save it as CSV UTF-8" in refused.message


def test_refuses_utf16_unicode_text():
    assert refusal("excel-unicode-text.txt").kind == "encoding"


def test_refuses_empty_file():
    assert refusal("empty.csv").kind == "empty"


def test_refuses_file_of_blank_lines_and_bom():
    assert refusal("blank-with-bom.csv").kind == "empty"


def test_refuses_random_binary():
    with pytest.raises(ImportRefused) as caught:
        read_subscribers(io.BytesIO(bytes(range(256)) * 8), now=NOW)
    assert caught.value.kind == "not_csv"


def test_refuses_bad_utf8_deep_in_the_file_while_streaming():
    header = ",".join(EXPORT_COLUMNS) + "\n"
    row = "reader{}@example.org,Reader,2024-01-01T00:00:00Z,2024-01-01T00:01:00Z,https://example.org/f,,\n"
    good = header + "".join(row.format(n) for n in range(2000))  # well past the 64 KiB the sniffer reads
    data = good.encode() + "late@example.org,Ren\xe9e,2024-01-01T00:00:00Z,2024-01-01T00:01:00Z,x,,\n".encode("latin-1")
    with pytest.raises(ImportRefused) as caught:
        for _ in read_subscribers(io.BytesIO(data), now=NOW):
            pass
    assert caught.value.kind == "encoding"


def test_every_refusal_is_a_domain_error_with_a_known_kind():
    for path in sorted((CORPUS / "refused").iterdir()):
        with pytest.raises(ImportRefused) as caught:
            list(read_subscribers(path, now=NOW))
        assert isinstance(caught.value, DomainError)
        assert caught.value.kind in REFUSAL_KINDS
        assert str(caught.value) == caught.value.message


# --- accepted, with exact counts -----------------------------------------------------------------------------


def test_accepts_own_export_format():
    valid, errors = read_accepted("own-export.csv")
    assert len(valid) == 5 and errors == []
    assert valid[1] == ConsentedRow(
        line=3,
        email="bruno.keller@example.com",
        name="Bruno Keller",
        consent_at=utc("2024-03-02T18:01:10+00:00"),
        confirmed_at=utc("2024-03-03T07:45:00+00:00"),
        consent_source="https://example.org/n/weekly",
        consent_ip="198.51.100.7",
        confirm_ip="2001:db8::17",
    )
    assert valid[2].name == "" and valid[2].consent_ip is None


def test_own_export_reimports_unchanged():
    people = [
        ConsentedRow(n + 2, f"reader{n}@example.org", name, utc("2024-03-01T09:15:00+00:00") + timedelta(hours=n),
                     utc("2024-03-01T09:17:00+00:00") + timedelta(hours=n), source, ip, confirm_ip)
        for n, (name, source, ip, confirm_ip) in enumerate([
            ("Alice Martin", "https://example.org/n/weekly", "203.0.113.10", "203.0.113.11"),
            ("Dupont, Jean", 'Stand "Lettres", Lyon', None, "2001:db8::1"),
            ("", "API", None, None),
            ("Hélène Côté", "Formulaire; page d'accueil", "198.51.100.7", None),
        ])
    ]
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(EXPORT_COLUMNS)
    for person in people:
        writer.writerow([
            person.email, person.name, person.consent_at.isoformat(), person.confirmed_at.isoformat(),
            person.consent_source, person.consent_ip or "", person.confirm_ip or "",
        ])
    assert list(read_subscribers(io.BytesIO(out.getvalue().encode()), now=NOW)) == people


def test_accepts_french_excel_export():
    path = CORPUS / "accepted" / "french-excel-export.csv"
    raw = path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf") and b"\r\n" in raw and b";" in raw
    valid, errors = read_accepted("french-excel-export.csv")
    assert [row.name for row in valid] == [
        "Hélène Côté", "François Dupré", "Zoë Lefèvre", "Bénédicte N'Goma", "Aurélie Brûlé",
    ]
    assert valid[2].consent_source == 'Formulaire "Lettre du jeudi"'
    assert valid[3].email == "benedicte.ngoma@example.org"
    assert where(errors) == [(6, "Consent_At")]  # a dd/mm/yyyy date; the trailing ';;;;;;' rows are skipped
    assert "ISO 8601" in errors[0].message


def test_accepts_mailchimp_members_export():
    valid, errors = read_accepted("mailchimp-subscribed-members.csv")
    assert [row.email for row in valid] == [
        "ines.moreau@example.org", "jack.obrien@example.com", "maya.cohen@example.com", "olivia.brown@example.org",
    ]
    jack = valid[1]
    assert jack.name == "Jack O'Brien"
    assert jack.consent_at == datetime(2022, 11, 20, 17, 3, 11, tzinfo=UTC)
    assert jack.confirmed_at == datetime(2022, 11, 20, 17, 9, 40, tzinfo=UTC)
    assert jack.consent_ip == jack.confirm_ip == "203.0.113.54"
    assert {row.consent_source for row in valid} == {MAILCHIMP_SOURCE}
    assert valid[3].name == "Olivia"
    assert where(errors) == [(4, "OPTIN_TIME"), (5, "CONFIRM_TIME"), (7, "CONFIRM_TIME")]


def test_rejects_single_opt_in_rows_of_mailchimp_export():
    _, errors = read_accepted("mailchimp-subscribed-members.csv")
    assert "single opt-in" in errors[1].message


def test_mailchimp_unsubscribed_export_subscribes_nobody():
    items = list(read_subscribers(CORPUS / "suppressions" / "mailchimp-unsubscribed-members.csv", now=NOW))
    assert where(items) == [(2, "UNSUB_TIME"), (3, "UNSUB_TIME")]


def test_accepts_quoted_fields_with_delimiters_quotes_and_newlines():
    valid, errors = read_accepted("quoted-fields.csv")
    assert [row.line for row in valid] == [2, 4, 9, 10]  # physical lines: records span several lines
    assert valid[0].name == "Dupont, Jean"
    assert valid[0].consent_source == "https://example.org/subscribe?ref=a,b"
    assert valid[1].name == 'Siobhán "Shiv" O\'Brien'
    assert valid[1].consent_at == datetime(2024, 1, 11, 8, 0, tzinfo=UTC)  # +01:00 converted to UTC
    assert valid[2].consent_source == 'Stand "Lettres; Livres", Lyon'
    assert where(errors) == [(5, "name")]


def test_reports_each_bad_row_with_line_and_field():
    valid, errors = read_accepted("mixed-bad-rows.csv")
    assert [row.line for row in valid] == [2, 22, 23]
    assert where(errors) == [
        (3, "email"),  # not an address
        (4, "email"),  # display name around the address
        (5, "consent_at"),  # missing
        (6, "consent_at"),  # 'yesterday'
        (7, "consent_at"),  # 2023-02-30
        (8, "consent_at"),  # 1985: implausible
        (9, "confirmed_at"),  # before consent_at
        (10, "consent_at"),  # in the future
        (11, "confirmed_at"),  # in the future
        (12, "confirmed_at"),  # missing: never confirmed
        (13, "consent_source"),  # missing
        (14, "consent_ip"),  # 203.0.113.300
        (15, "confirm_ip"),  # 'localhost'
        (16, "name"),  # CR LF: a header injection attempt, over two lines
        (18, "name"),  # NUL
        (19, "name"),  # over 200 characters
        (20, "consent_source"),  # over 500 characters
    ]
    messages = {error.line: error.message for error in errors}
    assert "not a real date" in messages[7]
    assert "before 1990" in messages[8]
    assert "before the person asked" in messages[9]
    assert "in the future" in messages[10] and "in the future" in messages[11]
    assert "not an IP address" in messages[14]
    assert "line breaks" in messages[16] and "line breaks" in messages[18]


def test_normalises_addresses_names_and_times():
    valid, _ = read_accepted("mixed-bad-rows.csv")
    second, third = valid[1], valid[2]
    assert second.email == "valid.second@example.org"
    assert second.name == "Valid Second"
    assert second.consent_at == datetime(2024, 5, 1, 10, 0, tzinfo=UTC)  # 12:00+02:00
    assert third.consent_at == datetime(2024, 5, 1, tzinfo=UTC)  # no zone means UTC
    assert third.consent_ip == "2001:db8::1"
    assert all(row.consent_at.utcoffset() == timedelta(0) for row in valid)


def test_column_names_match_in_any_case_and_with_spaces():
    text = " EMAIL ,Name, Consent_At ,CONFIRMED_AT,consent_source\nA@Example.org,A,2024-01-01,2024-01-02,form\n"
    (row,) = read_subscribers(io.BytesIO(text.encode()), now=NOW)
    assert row.email == "a@example.org" and row.consent_source == "form"


def test_reads_open_binary_files_and_leaves_them_open():
    stream = io.BytesIO((CORPUS / "accepted" / "own-export.csv").read_bytes())
    assert len(list(read_subscribers(stream, now=NOW))) == 5
    assert not stream.closed


def test_memory_stays_flat_while_streaming():
    header = ",".join(EXPORT_COLUMNS) + "\n"
    row = "reader{}@example.org,Reader {},2024-01-01T00:00:00Z,2024-01-01T00:01:00Z,https://example.org/f,,\n"
    data = (header + "".join(row.format(n, n) for n in range(30_000))).encode()
    stream = io.BytesIO(data)
    tracemalloc.start()
    count = sum(1 for _ in read_subscribers(stream, now=NOW))
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert count == 30_000
    assert peak < len(data) / 4  # rows are not kept


# --- suppression lists: always allowed -------------------------------------------------------------------------


def test_suppression_list_may_be_a_bare_list():
    items = list(read_suppressions(CORPUS / "suppressions" / "bare-list-crlf.txt"))
    assert items[:2] == ["alice.martin@example.org", "bruno.keller@example.com"]
    assert where([items[2]]) == [(4, "email")]
    assert items[3] == "chidi.okafor@example.net"


def test_suppression_list_may_be_a_mailchimp_unsubscribed_export():
    items = list(read_suppressions(CORPUS / "suppressions" / "mailchimp-unsubscribed-members.csv"))
    assert items == ["paul.girard@example.org", "quinn.hart@example.com"]


def test_suppression_list_ignores_phone_numbers():
    items = list(read_suppressions(CORPUS / "suppressions" / "semicolon-with-phone.csv"))
    assert items == ["rosa.fischer@example.net", "sven.ohm@example.org"]


def test_suppression_list_may_be_an_address_book_export():
    items = list(read_suppressions(CORPUS / "refused" / "google-contacts-old.csv"))
    assert items == ["alice.martin@example.org", "bruno.keller@example.com"]


def test_suppression_list_refuses_what_is_not_text():
    with pytest.raises(ImportRefused) as caught:
        list(read_suppressions(CORPUS / "refused" / "subscribers-xlsx-renamed.csv"))
    assert caught.value.kind == "not_csv"
    with pytest.raises(ImportRefused) as caught:
        list(read_suppressions(CORPUS / "refused" / "latin1-excel.csv"))
    assert caught.value.kind == "encoding"


# --- phone numbers: found, and not mistaken ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "name", ["Phone", "Mobile Number", "Tel.", "Téléphone", "Handy", "Phone 1 - Value", "Telefonnummer"]
)
def test_phone_columns_are_recognised_by_name(name):
    assert is_phone_column(name)


@pytest.mark.parametrize("name", ["email", "Title", "consent_at", "NOTES", "TAGS", "Company"])
def test_other_columns_are_not_phone_columns(name):
    assert not is_phone_column(name)


@pytest.mark.parametrize(
    "text", ["06 12 34 56 78", "+33 6 12 34 56 78", "call 0612345678 please", "030/1234567", "(202) 555-0143"]
)
def test_phone_numbers_are_found_in_any_text(text):
    assert holds_phone_number(text)


@pytest.mark.parametrize(
    "text",
    ["2024-03-01T09:15:00+00:00", "2024-03-01 09:15:00", "01/03/2024", "01.03.2024 10:00", "203.0.113.7",
     "2001:db8::1", "alice.martin1987@example.org", "https://example.org/forms/12345678", "48.8566140", "1709284500"],
)
def test_dates_ips_addresses_and_numbers_are_not_phone_numbers(text):
    assert not holds_phone_number(text)


# --- properties -------------------------------------------------------------------------------------------------

HEADER = ",".join(EXPORT_COLUMNS) + "\n"
CSV_ALPHABET = st.sampled_from(list('abcé@.+-:;,"\r\n \t0123456789TZ/\x00()'))
NO_SHRINK_DEADLINE = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def read_everything(data: bytes) -> None:
    """Reading may refuse the file; anything else it does must be yielding rows or row errors."""
    try:
        for item in read_subscribers(io.BytesIO(data), now=NOW):
            assert type(item) in (ConsentedRow, RowError)
    except ImportRefused as refused:
        assert refused.kind in REFUSAL_KINDS


@NO_SHRINK_DEADLINE
@given(st.binary(max_size=3000))
def test_random_bytes_are_refused_or_read(data):
    read_everything(data)


@NO_SHRINK_DEADLINE
@given(st.text(CSV_ALPHABET, max_size=600))
def test_random_csv_text_is_refused_or_read(text):
    read_everything(text.encode())


@NO_SHRINK_DEADLINE
@given(st.text(CSV_ALPHABET, max_size=600), st.sampled_from(["", "\ufeff"]))
def test_random_rows_under_a_valid_header_are_refused_or_read(text, bom):
    read_everything((bom + HEADER + text).encode())


@NO_SHRINK_DEADLINE
@given(st.lists(st.lists(st.text(max_size=30), min_size=7, max_size=9), max_size=20))
def test_random_cells_under_a_valid_header_are_refused_or_read(rows):
    out = io.StringIO()
    csv.writer(out).writerows([list(EXPORT_COLUMNS), *rows])
    read_everything(out.getvalue().encode("utf-8", "surrogatepass"))


@NO_SHRINK_DEADLINE
@given(st.binary(max_size=2000))
def test_random_bytes_as_suppression_list_are_refused_or_read(data):
    try:
        for item in read_suppressions(io.BytesIO(data)):
            assert type(item) in (str, RowError)
    except ImportRefused as refused:
        assert refused.kind in REFUSAL_KINDS


@settings(max_examples=500, deadline=None)
@given(st.one_of(st.emails(), st.text(max_size=80), st.builds("{}@{}".format, st.text(max_size=20), st.emails())))
def test_normalise_address_shortcut_agrees_with_the_full_check(raw):
    def outcome(normalise):
        try:
            return normalise(raw)
        except InvalidAddress:
            return InvalidAddress

    assert outcome(normalise_address) == outcome(validate_address)


def test_abandoned_uploads_are_deleted_and_fresh_ones_kept(tmp_path):
    """Uploads hold readers' addresses: one nobody confirmed within a day goes when the next upload arrives."""
    import os
    import time

    from newsletter.importer.uploads import ABANDONED_AFTER_SECONDS, discard_abandoned

    old, fresh = tmp_path / "old.csv", tmp_path / "fresh.csv"
    old.write_text("email\na@example.org\n")
    fresh.write_text("email\nb@example.org\n")
    stale = time.time() - ABANDONED_AFTER_SECONDS - 60
    os.utime(old, (stale, stale))
    discard_abandoned(tmp_path)
    assert not old.exists()
    assert fresh.exists()
    discard_abandoned(tmp_path / "missing")  # no folder yet: nothing to do, no error
