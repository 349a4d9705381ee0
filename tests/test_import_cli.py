"""`subscribers import` on the command line: refusals store nothing, accepted files import with exact counts,
leaving is final, suppression stays, and the product's own export round-trips (SPEC "Import", issue #5)."""

import csv
import io
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from newsletter import consent, privacy, suppression, tokens
from newsletter.extensions import db
from newsletter.importer import EXPORT_COLUMNS, ImportRefused, read_subscribers, writer
from newsletter.models import Subscriber, Subscription, SubscriptionEvent, Suppression
from newsletter.states import SubscriptionStatus as S

CORPUS = Path(__file__).parent / "corpus" / "import"
REFUSED = sorted(path.name for path in (CORPUS / "refused").iterdir())
SUBSCRIBE_URL = "https://news.example.test/n/slow-mornings"
SHARE_URL = "https://news.example.test/admin/n/slow-mornings/share"
EVIDENCE = ("status", "consent_at", "consent_ip", "consent_source", "confirmed_at", "confirm_ip", "imported_from",
            "imported_at", "unsubscribed_at", "consent_wording_sha256")


@pytest.fixture
def cli(app):
    runner = app.test_cli_runner()

    def invoke(*args):
        return runner.invoke(args=[str(arg) for arg in args])

    return invoke


def table_counts() -> dict[str, int]:
    """Rows in every table an import could touch."""
    return {model.__name__: db.session.scalar(select(func.count()).select_from(model))
            for model in (Subscriber, Subscription, Suppression, SubscriptionEvent)}


def evidence(newsletter) -> dict[str, tuple]:
    """Each reader's subscription evidence for a newsletter, by address."""
    db.session.expire_all()
    rows = db.session.execute(
        select(Subscriber.email, Subscription).join(Subscription.subscriber)
        .where(Subscription.newsletter_id == newsletter.id)
    ).all()
    return {email: tuple(getattr(item, name) for name in EVIDENCE) for email, item in rows}


def import_file(cli, path, *options, slug="slow-mornings"):
    return cli("subscribers", "import", path, "--newsletter", slug, *options)


def accepted(name: str) -> Path:
    return CORPUS / "accepted" / name


def status_of(email: str, newsletter) -> str:
    db.session.expire_all()
    return db.session.scalar(select(Subscription.status).join(Subscription.subscriber)
                             .where(Subscriber.email == email, Subscription.newsletter_id == newsletter.id))


def subscribe_and_confirm(newsletter, email: str, name: str = "") -> Subscription:
    consent.subscribe(newsletter, email, name, ip="192.0.2.1", source="https://news.example.test/n/x", wording="w")
    db.session.commit()
    subscription = db.session.scalar(select(Subscription).join(Subscription.subscriber)
                                     .where(Subscriber.email == email))
    consent.confirm(consent.token_for(tokens.CONFIRM, subscription), "192.0.2.2")
    db.session.commit()
    return subscription


# --- refused as a whole ----------------------------------------------------------------------------------------


def test_corpus_has_at_least_ten_refused_formats():
    assert len(REFUSED) >= 10


@pytest.mark.parametrize("name", REFUSED)
def test_import_refuses_raw_list_and_stores_nothing(cli, newsletter, name):
    subscribe_and_confirm(newsletter, "already@example.org")
    before = table_counts()
    with pytest.raises(ImportRefused) as pure:
        for _ in read_subscribers(CORPUS / "refused" / name, now=datetime.now(UTC)):
            pass
    result = import_file(cli, CORPUS / "refused" / name)
    assert result.exit_code == 1, result.output
    assert pure.value.message in result.stderr
    assert SUBSCRIBE_URL in result.stderr and SHARE_URL in result.stderr
    assert "Traceback" not in result.output
    assert table_counts() == before


def test_refusal_names_what_the_file_is(cli, newsletter):
    messages = {name: import_file(cli, CORPUS / "refused" / name).stderr for name in (
        "google-contacts-old.csv", "phone-list.csv", "signups-without-consent-columns.csv")}
    assert "this looks like an address-book export" in messages["google-contacts-old.csv"].lower()
    assert "carries phone numbers" in messages["phone-list.csv"]
    assert "lacks the consent columns" in messages["signups-without-consent-columns.csv"]


def test_refusal_is_by_content_not_by_file_name(cli, newsletter, tmp_path):
    disguised = tmp_path / "subscribers-export.csv"
    disguised.write_bytes((CORPUS / "refused" / "icloud-contacts.vcf").read_bytes())
    named_vcf = tmp_path / "contacts.vcf"
    named_vcf.write_bytes(accepted("own-export.csv").read_bytes())
    assert import_file(cli, disguised).exit_code == 1
    assert import_file(cli, named_vcf).exit_code == 0


# --- accepted, with exact counts -------------------------------------------------------------------------------


@pytest.mark.parametrize("name, kind, imported, refused, duplicates", [
    ("own-export.csv", "this product's own export", 5, 0, 0),
    ("french-excel-export.csv", "CSV with consent columns", 5, 1, 0),
    ("mailchimp-subscribed-members.csv", "Mailchimp member export", 4, 3, 0),
    ("quoted-fields.csv", "CSV with consent columns", 4, 1, 0),
    ("mixed-bad-rows.csv", "this product's own export", 4, 16, 0),
    ("duplicates-mixed-case.csv", "this product's own export", 3, 1, 2),
])
def test_import_accepts_consented_file_with_exact_counts(cli, newsletter, name, kind, imported, refused, duplicates):
    result = import_file(cli, accepted(name))
    assert result.exit_code == 0, result.stderr
    assert f"{name}: {kind}" in result.stdout
    assert f"Imported: {imported}\n" in result.stdout
    assert f"Rows refused: {refused}\n" in result.stdout
    assert f"Duplicates merged (first occurrence kept): {duplicates}\n" in result.stdout
    confirmed = db.session.scalar(select(func.count(Subscription.id)).where(Subscription.status == S.CONFIRMED))
    events = db.session.scalar(select(func.count(SubscriptionEvent.id)).where(SubscriptionEvent.kind == "imported"))
    assert confirmed == events == imported
    assert db.session.scalar(select(func.count(Subscriber.id))) == imported


def test_imported_reader_keeps_the_file_evidence_and_is_marked_imported(cli, newsletter):
    import_file(cli, accepted("french-excel-export.csv"))
    subscription = db.session.scalar(select(Subscription).join(Subscription.subscriber)
                                     .where(Subscriber.email == "helene.cote@example.org"))
    assert subscription.subscriber.name == "Hélène Côté"
    assert subscription.consent_at == datetime(2024, 3, 1, 9, 15, tzinfo=UTC)
    assert subscription.confirmed_at == datetime(2024, 3, 1, 9, 17, 42, tzinfo=UTC)
    assert subscription.consent_source == "Formulaire du site, page d'accueil"
    assert subscription.consent_ip == subscription.confirm_ip == "203.0.113.10"
    assert subscription.imported_from == "french-excel-export.csv"
    assert (datetime.now(UTC) - subscription.imported_at).total_seconds() < 60
    assert subscription.subscriber.email_hmac == suppression.hmac_of("helene.cote@example.org")


def test_duplicates_are_merged_first_occurrence_wins(cli, newsletter):
    import_file(cli, accepted("duplicates-mixed-case.csv"))
    amal = db.session.scalar(select(Subscription).join(Subscription.subscriber)
                             .where(Subscriber.email == "amal.haddad@example.org"))
    assert amal.subscriber.name == "Amal Haddad" and amal.consent_ip == "203.0.113.20"


def test_readers_download_includes_the_import_evidence(cli, newsletter):
    import_file(cli, accepted("own-export.csv"))
    subscriber = db.session.scalar(select(Subscriber).where(Subscriber.email == "alice.martin@example.org"))
    record = privacy.personal_data(subscriber)["subscriptions"][0]
    assert record["imported_from"] == "own-export.csv" and record["imported_at"]
    assert record["consent_source"] == "https://example.org/n/weekly"
    assert record["confirmed_at"].startswith("2024-03-01T09:17:12")
    assert [event["event"] for event in privacy.personal_data(subscriber)["history"]] == ["imported"]


# --- the product's own export ----------------------------------------------------------------------------------


def test_reimporting_own_export_changes_nothing(cli, newsletter, tmp_path):
    import_file(cli, accepted("mailchimp-subscribed-members.csv"))
    subscribe_and_confirm(newsletter, "web.reader@example.org", "Web Reader")
    exported = tmp_path / "export.csv"
    assert cli("subscribers", "export", "slow-mornings", "--output", exported).exit_code == 0
    before, counts = evidence(newsletter), table_counts()
    result = import_file(cli, exported)
    assert result.exit_code == 0, result.stderr
    assert "Imported: 0\n" in result.stdout and "Already subscribed, unchanged: 5\n" in result.stdout
    assert evidence(newsletter) == before and table_counts() == counts


def test_own_export_round_trips_exactly_into_another_newsletter(cli, newsletter, tmp_path):
    from tests.conftest import create_demo_newsletter

    create_demo_newsletter("deep-rest")
    import_file(cli, accepted("quoted-fields.csv"))
    subscribe_and_confirm(newsletter, "web.reader@example.org", "Web Reader")
    first, second = tmp_path / "first.csv", tmp_path / "second.csv"
    cli("subscribers", "export", "slow-mornings", "--output", first)
    assert import_file(cli, first, slug="deep-rest").exit_code == 0
    cli("subscribers", "export", "deep-rest", "--output", second)
    assert second.read_bytes() == first.read_bytes()
    assert len(list(csv.reader(io.StringIO(first.read_text())))) == 6
    assert first.read_text().splitlines()[0] == ",".join(EXPORT_COLUMNS)


def test_export_cells_cannot_become_formulas_and_still_round_trip(cli, newsletter, tmp_path):
    from tests.conftest import create_demo_newsletter

    create_demo_newsletter("deep-rest")
    formula = '=HYPERLINK("http://evil.example","Open")'
    subscribe_and_confirm(newsletter, "=1+cmd|calc@example.org", formula)
    first, second = tmp_path / "first.csv", tmp_path / "second.csv"
    assert cli("subscribers", "export", "slow-mornings", "--output", first).exit_code == 0
    [row] = csv.DictReader(io.StringIO(first.read_text()))
    assert row["email"] == "'=1+cmd|calc@example.org" and row["name"] == "'" + formula
    assert all(not cell.startswith(("=", "+", "-", "@")) for cell in row.values())
    assert import_file(cli, first, slug="deep-rest").exit_code == 0
    cli("subscribers", "export", "deep-rest", "--output", second)
    assert second.read_bytes() == first.read_bytes()
    assert db.session.scalar(select(Subscriber.name).where(Subscriber.email == "=1+cmd|calc@example.org")) == formula


# --- leaving is final, suppression stays -----------------------------------------------------------------------


def test_unsubscribed_address_is_skipped_and_stays_unsubscribed(cli, newsletter):
    import_file(cli, accepted("own-export.csv"))
    alice = db.session.scalar(select(Subscription).join(Subscription.subscriber)
                              .where(Subscriber.email == "alice.martin@example.org"))
    consent.unsubscribe(alice)
    db.session.commit()
    result = import_file(cli, accepted("own-export.csv"))
    assert "Skipped, left this newsletter (never subscribed again by an import): 1\n" in result.stdout
    assert status_of("alice.martin@example.org", newsletter) == S.UNSUBSCRIBED


def test_pending_again_after_leaving_is_not_confirmed_by_import(cli, newsletter):
    subscription = subscribe_and_confirm(newsletter, "alice.martin@example.org")
    consent.unsubscribe(subscription)
    db.session.commit()
    consent.subscribe(newsletter, "alice.martin@example.org", "", ip=None, source="form", wording="w")
    db.session.commit()
    result = import_file(cli, accepted("own-export.csv"))
    assert "left this newsletter (never subscribed again by an import): 1\n" in result.stdout
    assert status_of("alice.martin@example.org", newsletter) == S.PENDING


def test_pending_reader_is_confirmed_with_the_file_evidence(cli, newsletter):
    consent.subscribe(newsletter, "bruno.keller@example.com", "", ip="192.0.2.9", source="form", wording="w")
    db.session.commit()
    result = import_file(cli, accepted("own-export.csv"))
    assert "Imported: 5\n" in result.stdout
    bruno = evidence(newsletter)["bruno.keller@example.com"]
    assert bruno[:6] == (S.CONFIRMED, datetime(2024, 3, 2, 18, 1, 10, tzinfo=UTC), "198.51.100.7",
                         "https://example.org/n/weekly", datetime(2024, 3, 3, 7, 45, tzinfo=UTC), "2001:db8::17")
    assert db.session.scalar(select(Subscriber.name).where(Subscriber.email == "bruno.keller@example.com")) \
        == "Bruno Keller"


def test_erased_address_cannot_be_added_again_by_import(cli, newsletter):
    import_file(cli, accepted("own-export.csv"))
    consent.erase(db.session.scalar(select(Subscriber).where(Subscriber.email == "alice.martin@example.org")))
    db.session.commit()
    result = import_file(cli, accepted("own-export.csv"))
    assert result.exit_code == 0
    assert "Skipped, on the suppression list (erased, bounced, complained or suppressed): 1\n" in result.stdout
    assert db.session.scalar(select(Subscriber).where(Subscriber.email == "alice.martin@example.org")) is None


def test_suppressed_address_stays_suppressed(cli, newsletter, tmp_path):
    listed = tmp_path / "do-not-mail.txt"
    listed.write_text("Bruno.Keller@example.com\n")
    result = import_file(cli, listed, "--suppress")
    assert result.exit_code == 0 and "Added to the suppression list: 1\n" in result.stdout
    result = import_file(cli, accepted("own-export.csv"))
    assert "Imported: 4\n" in result.stdout and "or suppressed): 1\n" in result.stdout
    assert status_of("bruno.keller@example.com", newsletter) is None
    assert suppression.is_suppressed(suppression.hmac_of("bruno.keller@example.com"), newsletter.id)


def test_existing_subscriber_keeps_their_name_unless_they_have_none(cli, newsletter):
    from tests.conftest import create_demo_newsletter

    other = create_demo_newsletter("deep-rest")
    subscribe_and_confirm(other, "alice.martin@example.org", "Alice M.")
    subscribe_and_confirm(other, "bruno.keller@example.com", "")
    import_file(cli, accepted("own-export.csv"))
    names = dict(db.session.execute(select(Subscriber.email, Subscriber.name)).all())
    assert names["alice.martin@example.org"] == "Alice M." and names["bruno.keller@example.com"] == "Bruno Keller"


# --- suppression lists -----------------------------------------------------------------------------------------


def test_suppression_list_without_newsletter_is_instance_wide_and_holds_only_hashes(cli, newsletter):
    result = cli("subscribers", "import", CORPUS / "suppressions" / "bare-list-crlf.txt", "--suppress")
    assert result.exit_code == 0, result.stderr
    rows = db.session.scalars(select(Suppression)).all()
    assert {row.newsletter_id for row in rows} == {None} and {row.reason for row in rows} == {"imported"}
    assert suppression.hmac_of("alice.martin@example.org") in {row.address_hmac for row in rows}
    assert "Rows refused: 1\n" in result.stdout
    again = cli("subscribers", "import", CORPUS / "suppressions" / "bare-list-crlf.txt", "--suppress")
    assert "Added to the suppression list: 0\n" in again.stdout
    assert db.session.scalar(select(func.count(Suppression.id))) == len(rows)


def test_suppression_list_is_always_allowed_even_with_phone_numbers(cli, newsletter):
    result = import_file(cli, CORPUS / "suppressions" / "semicolon-with-phone.csv", "--suppress")
    assert result.exit_code == 0, result.stderr
    assert {row.newsletter_id for row in db.session.scalars(select(Suppression))} == {newsletter.id}


def test_suppression_list_covers_only_its_newsletter(cli, newsletter, tmp_path):
    listed = tmp_path / "list.txt"
    listed.write_text("someone@example.org\n")
    import_file(cli, listed, "--suppress")
    key = suppression.hmac_of("someone@example.org")
    assert suppression.is_suppressed(key, newsletter.id) and not suppression.is_suppressed(key, None)


# --- strict, dry run, usage ------------------------------------------------------------------------------------


def test_strict_with_one_bad_row_stores_nothing(cli, newsletter):
    before = table_counts()
    result = import_file(cli, accepted("french-excel-export.csv"), "--strict")
    assert result.exit_code == 1
    assert "line 6, Consent_At" in result.stderr and "nothing was imported" in result.stderr
    assert table_counts() == before


def test_strict_with_no_bad_row_imports(cli, newsletter):
    assert import_file(cli, accepted("own-export.csv"), "--strict").exit_code == 0
    assert table_counts()["Subscription"] == 5


def test_dry_run_stores_nothing_and_says_what_would_happen(cli, newsletter):
    subscribe_and_confirm(newsletter, "alice.martin@example.org")
    before = table_counts()
    result = import_file(cli, accepted("own-export.csv"), "--dry-run")
    assert result.exit_code == 0, result.stderr
    assert "Would import: 4\n" in result.stdout and "Already subscribed, unchanged: 1\n" in result.stdout
    assert table_counts() == before


def test_dry_run_of_a_suppression_list_stores_nothing(cli, newsletter):
    result = import_file(cli, CORPUS / "suppressions" / "bare-list-crlf.txt", "--suppress", "--dry-run")
    assert result.exit_code == 0 and "Would add to the suppression list: 3\n" in result.stdout
    assert table_counts()["Suppression"] == 0


def test_usage_errors_exit_2(cli, newsletter, tmp_path):
    assert cli("subscribers", "import", accepted("own-export.csv")).exit_code == 2
    assert cli("subscribers", "import", tmp_path / "missing.csv", "--newsletter", "slow-mornings").exit_code == 2
    unknown = import_file(cli, accepted("own-export.csv"), slug="nope")
    assert unknown.exit_code == 1 and "nope" in unknown.stderr


# --- batches -----------------------------------------------------------------------------------------------------


def generated_file(path: Path, emails: list[str]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as out:
        writer_ = csv.writer(out)
        writer_.writerow(EXPORT_COLUMNS)
        for email in emails:
            writer_.writerow([email, "", "2024-01-01T10:00:00+00:00", "2024-01-01T10:05:00+00:00", "form", "", ""])
    return path


def test_duplicates_across_batches_are_merged(cli, newsletter, tmp_path, monkeypatch):
    monkeypatch.setattr(writer, "BATCH_ROWS", 4)
    emails = [f"r{n}@example.org" for n in range(10)] + ["R3@example.org", "r9@example.org"]
    result = import_file(cli, generated_file(tmp_path / "many.csv", emails))
    assert "Imported: 10\n" in result.stdout and "(first occurrence kept): 2\n" in result.stdout
    assert table_counts()["Subscription"] == 10


def test_crash_mid_import_leaves_whole_batches_and_rerun_is_harmless(app, newsletter, tmp_path, monkeypatch):
    monkeypatch.setattr(writer, "BATCH_ROWS", 4)
    path = generated_file(tmp_path / "many.csv", [f"r{n}@example.org" for n in range(10)])
    commits = []

    def commit_then_crash():
        db.session.commit()
        commits.append(1)
        if len(commits) == 2:
            raise KeyboardInterrupt("power cut")

    with pytest.raises(KeyboardInterrupt):
        writer.import_subscribers(path, newsletter, file_name="many.csv", commit=commit_then_crash,
                                  share_url=SHARE_URL)
    db.session.rollback()
    assert table_counts()["Subscription"] == 8
    report = writer.import_subscribers(path, newsletter, file_name="many.csv", commit=db.session.commit,
                                       share_url=SHARE_URL)
    assert (report.imported, report.already) == (2, 8)
    assert table_counts()["Subscription"] == table_counts()["SubscriptionEvent"] == 10


def test_file_edited_between_the_passes_imports_what_was_checked(app, newsletter, tmp_path, monkeypatch):
    monkeypatch.setattr(writer, "BATCH_ROWS", 4)
    path = generated_file(tmp_path / "many.csv", [f"r{n}@example.org" for n in range(10)])
    read_spool = writer.Spool.batches

    def edit_file_then_read_spool(spool):
        # Pass 2 reads the rows pass 1 kept, never the file again: a file now refused changes nothing.
        path.write_text("email,phone\nsomeone@example.org,+33 6 12 34 56 78\n", encoding="utf-8")
        yield from read_spool(spool)

    monkeypatch.setattr(writer.Spool, "batches", edit_file_then_read_spool)
    report = writer.import_subscribers(path, newsletter, file_name="many.csv", commit=db.session.commit,
                                       share_url=SHARE_URL)
    assert (report.rows_read, report.imported) == (10, 10)
    assert table_counts()["Subscription"] == table_counts()["SubscriptionEvent"] == 10


def test_file_refused_at_its_last_line_stores_nothing_even_across_batches(cli, newsletter, tmp_path, monkeypatch):
    monkeypatch.setattr(writer, "BATCH_ROWS", 4)
    path = generated_file(tmp_path / "many.csv", [f"r{n}@example.org" for n in range(10)])
    with path.open("a", encoding="utf-8") as out:
        out.write("last@example.org,+33 6 12 34 56 78,2024-01-01T10:00:00+00:00,2024-01-01T10:05:00+00:00,form,,\n")
    before = table_counts()
    result = import_file(cli, path)
    assert result.exit_code == 1 and "phone" in result.stderr
    assert table_counts() == before


# --- properties ----------------------------------------------------------------------------------------------------

SMALL = settings(max_examples=40, deadline=None,
                 suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
CSV_TEXT = st.text(st.sampled_from(list('ab@.;,"\r\n 0123456789-:T+Z')), max_size=300)
HEADER = ",".join(EXPORT_COLUMNS) + "\n"


def import_never_crashes(cli, path: Path, data: bytes) -> None:
    """Exit 0 with a report or exit 1 with nothing changed; never a traceback."""
    path.write_bytes(data)
    before = table_counts()
    result = import_file(cli, path)
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert result.exit_code in (0, 1) and "Traceback" not in result.output
    if result.exit_code == 1:
        assert table_counts() == before
    else:
        assert "Rows refused:" in result.stdout


@pytest.mark.slow
@SMALL
@given(data=st.binary(max_size=2000))
def test_random_bytes_never_crash_the_import(cli, newsletter, tmp_path, data):
    import_never_crashes(cli, tmp_path / "random.csv", data)


@pytest.mark.slow
@SMALL
@given(text=CSV_TEXT)
def test_random_csv_never_crashes_the_import(cli, newsletter, tmp_path, text):
    import_never_crashes(cli, tmp_path / "random.csv", text.encode())


@pytest.mark.slow
@SMALL
@given(text=CSV_TEXT, bom=st.sampled_from(["", "\ufeff"]))
def test_random_rows_under_a_valid_header_never_crash_the_import(cli, newsletter, tmp_path, text, bom):
    import_never_crashes(cli, tmp_path / "random.csv", (bom + HEADER + text).encode())
