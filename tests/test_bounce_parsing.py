"""Bounces, complaints and replies read from raw inbound mail (newsletter.bounces.parse_inbound)."""

import logging
from datetime import datetime, timezone
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from newsletter.feedback.parsers import (
    COMPLAINT,
    HARD_BOUNCE,
    KINDS,
    REFUSAL,
    REPLY,
    SOFT_BOUNCE,
    FeedbackEvent,
    parse_inbound,
    verp_address,
    verp_token,
)
from newsletter.feedback.parsers.status import best_status, find_enhanced_status
from newsletter.feedback.reasons import classify
from newsletter.errors import InvalidInput

CORPUS = Path(__file__).parent / "corpus" / "bounces"
CORPUS_FILES = sorted(path.name for path in CORPUS.glob("*.eml"))

# file -> the events it must give: (kind, recipient, status, message_id)
EXPECTED = {
    "rfc3464_simple.eml": [(SOFT_BOUNCE, "louisl@larry.example.net", "4.0.0", "d101.i1.a1b2c3@example.org")],
    "rfc3464_multi_recipient.eml": [  # the delayed recipient is a warning, not a bounce
        (SOFT_BOUNCE, "arathib@vnet.example.com", "5.0.0", "d102.i2.b2c3d4@example.org"),
        (HARD_BOUNCE, "wsnell@sdcc13.example.edu", "5.0.0", "d102.i2.b2c3d4@example.org"),
    ],
    "rfc5965_abuse.eml": [(COMPLAINT, "user@example.com", "abuse", "8787KJKJ3K4J3K4J3K4J3.mail@example.net")],
    "postfix_user_unknown.eml": [(HARD_BOUNCE, "nobody@example.com", "5.1.1", "d103.i3.c3d4e5@example.org")],
    "postfix_delayed.eml": [],  # a delay warning is not a bounce
    "postfix_mailbox_full.eml": [(SOFT_BOUNCE, "full@example.net", "5.2.2", "d113.i13.a3b4c5@example.org")],
    "exim_dsn.eml": [(HARD_BOUNCE, "gone@example.net", "5.1.1", "d105.i5.e5f6a7@example.org")],
    "exim_plaintext.eml": [(HARD_BOUNCE, "ghost@example.com", "5.0.0", "d106.i6.f6a7b8@example.org")],
    "exim_over_quota.eml": [(SOFT_BOUNCE, "stuffed@example.com", "5.0.0", "d114.i14.b4c5d6@example.org")],
    "sendmail.eml": [(HARD_BOUNCE, "nosuchuser@example.com", "5.1.1", "d107.i7.a7b8c9@example.org")],
    "qmail.eml": [(HARD_BOUNCE, "nobody@example.net", "5.1.1", "d108.i8.b8c9d0@example.org")],
    "exchange_office365.eml": [(HARD_BOUNCE, "unknown.person@example.com", "5.1.10", "d109.i9.c9d0e1@example.org")],
    "exchange_legacy_ndr.eml": [(HARD_BOUNCE, "departed@exch.example.com", "5.1.1", "d110.i10.d0e1f2@example.org")],
    "gmail_dsn.eml": [(HARD_BOUNCE, "not.there@example.com", "5.1.1", "d111.i11.e1f2a3@example.org")],
    "amazon_ses_dsn.eml": [(HARD_BOUNCE, "missing@example.net", "5.1.1", "d112.i12.f2a3b4@example.org")],
    "yahoo_arf.eml": [(COMPLAINT, "reader.one@example.com", "abuse", "d115.i15.c5d6e7@example.org")],
    "outlook_jmrp.eml": [(COMPLAINT, "reader.two@hotmail.example.com", "abuse", "d116.i16.d6e7f8@example.org")],
    "out_of_office.eml": [],
    "vacation_precedence.eml": [],
    "normal_reply.eml": [(REPLY, "reader.five@example.com", None, "d119.i19.a9b0c1@example.org")],
    "malformed_truncated_mime.eml": [(HARD_BOUNCE, "cut.off@example.com", "5.1.1", None)],
    "malformed_missing_boundary.eml": [
        (HARD_BOUNCE, "lost.boundary@example.net", "5.1.1", "d120.i20.b0c1d2@example.org")
    ],
    "malformed_binary_garbage.eml": [],
    "malformed_dsn_no_recipients.eml": [],
    "malformed_wrong_charset.eml": [(HARD_BOUNCE, "introuvable@example.com", "5.1.1", "d121.i21.c1d2e3@example.org")],
    "malformed_huge_headers.eml": [(HARD_BOUNCE, "huge.headers@example.com", "5.1.1", "d122.i22.d2e3f4@example.org")],
}

# file -> the VERP token its envelope (headers, returned copy or feedback report) carries
EXPECTED_TOKENS = {
    "postfix_user_unknown.eml": "d103.c3d4e5",
    "qmail.eml": "d108.b8c9d0",
    "exim_plaintext.eml": "d106.f6a7b8",
    "outlook_jmrp.eml": "d116.d6e7f8",
    "yahoo_arf.eml": "d115.c5d6e7",
    "rfc3464_multi_recipient.eml": None,
}


def read(name: str) -> bytes:
    return (CORPUS / name).read_bytes()


def summary(events: list[FeedbackEvent]) -> list[tuple]:
    return [(e.kind, e.recipient, e.status, e.message_id) for e in events]


def message(*headers: str, body: str = "Hello.\n") -> bytes:
    return ("\n".join(headers) + "\n\n" + body).encode()


REPLY_HEADERS = (
    "From: Reader <reader@example.com>",
    "To: news@example.org",
    "Subject: Re: Weekly Notes",
    "In-Reply-To: <d1.i1.k1@example.org>",
)


# --- the corpus -----------------------------------------------------------------------------------


def test_corpus_has_the_required_samples():
    assert len(CORPUS_FILES) >= 16
    assert len([name for name in CORPUS_FILES if name.startswith("malformed_")]) >= 5
    assert set(CORPUS_FILES) == set(EXPECTED), "every corpus file needs an expectation, and only those"


@pytest.mark.parametrize("name", CORPUS_FILES)
def test_corpus_file_gives_expected_events(name):
    assert summary(parse_inbound(read(name))) == EXPECTED[name]


@pytest.mark.parametrize("name", sorted(EXPECTED_TOKENS))
def test_corpus_file_carries_its_verp_token(name):
    events = parse_inbound(read(name))
    assert events and {event.envelope_token for event in events} == {EXPECTED_TOKENS[name]}


@pytest.mark.parametrize("name", CORPUS_FILES)
def test_diagnostic_is_one_trimmed_line(name):
    for event in parse_inbound(read(name)):
        assert len(event.diagnostic) <= 1000
        assert "\n" not in event.diagnostic and "\r" not in event.diagnostic


def test_bounce_dates_come_from_the_last_attempt():
    (event,) = parse_inbound(read("sendmail.eml"))
    assert event.occurred_at == datetime(2024, 3, 6, 12, 1, 44, tzinfo=timezone.utc)


# --- classification -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "text", "reason"),
    [
        ("5.1.1", "user unknown", "user_unknown"),
        ("5.2.2", "mailbox full", "mailbox_full"),
        ("4.2.2", "", "mailbox_full"),
        ("5.0.0", "552 Requested mail action aborted: over quota", "mailbox_full"),
        ("4.4.1", "connection timed out", "network_error"),
        ("5.7.26", "550 5.7.26 Unauthenticated email from example.org is not accepted", "auth_failure"),
        ("5.7.1", "550 5.7.1 Service unavailable; client host [192.0.2.1] blocked using Spamhaus", "blocked"),
        ("5.7.1", "554 5.7.1 <reader@example.com>: Recipient address rejected: User unknown", "user_unknown"),
        ("4.7.0", "421 4.7.0 [TSS04] Messages temporarily deferred due to unexpected volume", "rate_limited"),
        ("5.0.0", "550 5.0.0 Message rejected as spam", "spam_detected"),
        (None, "550 Requested action not taken: mailbox unavailable", "user_unknown"),
        (None, "554 Transaction failed", "undetermined"),
        (None, "", "undetermined"),
    ],
)
def test_reason_follows_status_then_words_then_reply_code(status, text, reason):
    assert classify(status, text) == reason


@pytest.mark.parametrize("text", ["550 5.0.0 Rejected", "554 refused", "550 Administrative prohibition"])
def test_a_first_digit_of_5_alone_does_not_make_a_bounce_hard(text):
    assert classify(None, text) not in ("user_unknown", "host_unknown", "has_moved")


def test_generic_status_is_refined_by_the_diagnostic():
    assert best_status("5.0.0", "550 5.1.1 <a@example.com>: User unknown") == "5.1.1"
    assert best_status("5.1.1", "550 5.7.1 Blocked") == "5.1.1"
    assert best_status(None, "550 No such user") == "5.0.0"


def test_ip_addresses_and_dates_are_not_status_codes():
    assert find_enhanced_status("host mx.example.com [10.4.5.6]: 550 rejected") is None
    assert find_enhanced_status("sent on 2.1.2024") is None
    assert find_enhanced_status("(#5.1.1)") == "5.1.1"


def dsn(action: str, status: str) -> bytes:
    return (
        "From: MAILER-DAEMON@mail.example.net\nTo: bounces@example.org\nSubject: Delivery report\n"
        'MIME-Version: 1.0\nContent-Type: multipart/report; report-type=delivery-status; boundary="B"\n\n'
        "--B\nContent-Type: text/plain\n\nReport.\n\n--B\nContent-Type: message/delivery-status\n\n"
        "Reporting-MTA: dns; mail.example.net\n\n"
        f"Final-Recipient: rfc822; reader@example.com\nAction: {action}\nStatus: {status}\n\n--B--\n"
    ).encode()


@pytest.mark.parametrize("action", ["delivered", "relayed", "expanded"])
def test_successful_dsn_actions_give_no_event(action):
    assert parse_inbound(dsn(action, "2.0.0")) == []


@pytest.mark.parametrize(("status", "kind", "reason"), [("4.1.1", HARD_BOUNCE, "user_unknown"),
                                                        ("4.7.0", REFUSAL, "policy"),
                                                        ("4.2.2", SOFT_BOUNCE, "mailbox_full")])
def test_failed_action_with_a_4xx_status_counts_by_its_reason_not_its_class(status, kind, reason):
    (event,) = parse_inbound(dsn("failed", status))
    assert (event.kind, event.reason) == (kind, reason)


def test_original_recipient_wins_over_an_expanded_final_recipient():
    raw = dsn("failed", "5.1.1").replace(
        b"Final-Recipient: rfc822; reader@example.com",
        b"Original-Recipient: rfc822; reader@example.com\nFinal-Recipient: rfc822; local-user@mx.example.com",
    )
    assert parse_inbound(raw)[0].recipient == "reader@example.com"


def test_gmail_original_message_id_field_is_used_without_a_returned_copy():
    raw = dsn("failed", "5.1.1").replace(
        b"Reporting-MTA: dns; mail.example.net\n",
        b"Reporting-MTA: dns; googlemail.com\nX-Original-Message-ID: <d9.i9.k9@example.org>\n",
    )
    assert parse_inbound(raw)[0].message_id == "d9.i9.k9@example.org"


def test_dsn_naming_no_recipient_still_reports_its_verp_token():
    (event,) = parse_inbound(read("malformed_dsn_no_recipients.eml"), envelope_to=["bounces+d7.k7@example.org"])
    assert (event.kind, event.recipient, event.status, event.envelope_token) == (SOFT_BOUNCE, None, None, "d7.k7")


def arf(feedback_type: str) -> bytes:
    return (
        "From: fbl@isp.example.net\nTo: fbl@example.org\nSubject: complaint\nMIME-Version: 1.0\n"
        'Content-Type: multipart/report; report-type=feedback-report; boundary="B"\n\n'
        "--B\nContent-Type: text/plain\n\nA report.\n\n--B\nContent-Type: message/feedback-report\n\n"
        f"Feedback-Type: {feedback_type}\nUser-Agent: Test/1\nVersion: 1\nOriginal-Rcpt-To: <reader@example.com>\n\n"
        "--B\nContent-Type: text/rfc822-headers\n\nMessage-ID: <d2.i2.k2@example.org>\n\n--B--\n"
    ).encode()


@pytest.mark.parametrize("feedback_type", ["abuse", "fraud", "virus", "other", "Abuse"])
def test_abuse_reports_are_complaints(feedback_type):
    assert summary(parse_inbound(arf(feedback_type))) == [
        (COMPLAINT, "reader@example.com", feedback_type.lower(), "d2.i2.k2@example.org")
    ]


@pytest.mark.parametrize("feedback_type", ["not-spam", "auth-failure", ""])
def test_not_spam_and_other_reports_are_not_complaints(feedback_type):
    assert parse_inbound(arf(feedback_type)) == []


# --- replies and autoreplies ----------------------------------------------------------------------


def test_reply_keeps_no_words_of_the_reader():
    (event,) = parse_inbound(read("normal_reply.eml"))
    assert event.diagnostic == ""
    assert "555-0100" not in repr(event) and "allotments" not in repr(event)


def test_reply_takes_in_reply_to_before_references():
    raw = message(*REPLY_HEADERS[:3], "In-Reply-To: <a@example.org>", "References: <b@example.org> <c@example.org>")
    assert parse_inbound(raw)[0].message_id == "a@example.org"
    raw = message(*REPLY_HEADERS[:3], "References: <b@example.org> <c@example.org>")
    assert parse_inbound(raw)[0].message_id == "b@example.org"


def test_reply_to_the_return_path_counts_without_references():
    raw = message("From: reader@example.com", "To: bounces+d3.k3@example.org", "Subject: hello")
    assert summary(parse_inbound(raw)) == [(REPLY, "reader@example.com", None, None)]
    assert parse_inbound(raw)[0].envelope_token == "d3.k3"


def test_unrelated_mail_gives_nothing():
    assert parse_inbound(message("From: someone@example.com", "To: news@example.org", "Subject: hi")) == []


@pytest.mark.parametrize(
    "header",
    [
        "Auto-Submitted: auto-replied",
        "Auto-Submitted: auto-generated",
        "X-Autoreply: yes",
        "X-Autorespond: Vacation",
        "Precedence: bulk",
        "Precedence: auto_reply",
        "Subject: Out of Office: Re: Weekly Notes",
        "Return-Path: <>",
    ],
)
def test_automatic_answers_are_not_replies(header):
    assert parse_inbound(message(header, *REPLY_HEADERS)) == []


def test_auto_submitted_no_is_a_human_reply():
    assert parse_inbound(message("Auto-Submitted: no", *REPLY_HEADERS))[0].kind == REPLY


def test_reader_asking_about_an_undeliverable_issue_is_a_reply_not_a_bounce():
    headers = [h for h in REPLY_HEADERS if not h.startswith("Subject")]
    raw = message(*headers, "Subject: Re: why was issue 4 undeliverable?", body="Ask friend@example.net.\n")
    assert summary(parse_inbound(raw)) == [(REPLY, "reader@example.com", None, "d1.i1.k1@example.org")]


# --- VERP ---------------------------------------------------------------------------------------


def test_verp_address_round_trips():
    address = verp_address("d12.k9f-Az_x=", "bounces", "Example.ORG")
    assert address == "bounces+d12.k9f-Az_x=@example.org"
    assert verp_token(address, "bounces") == "d12.k9f-Az_x="
    assert verp_token(f"<{address.upper()}>", "bounces") == "D12.K9F-AZ_X="


@pytest.mark.parametrize("token", ["", "a b", "a@b", "a+b", "a\nb", ".a", "a..b", "x" * 60])
def test_verp_address_refuses_unusable_tokens(token):
    with pytest.raises(InvalidInput):
        verp_address(token, "bounces", "example.org")


@pytest.mark.parametrize("address", ["bounces@example.org", "news@example.org", "bounces+@example.org", "junk", ""])
def test_verp_token_is_none_for_other_addresses(address):
    assert verp_token(address, "bounces") is None


def test_envelope_recipient_is_searched_for_the_token():
    envelope_to = ["news@example.org", "bounces+t1@example.org"]
    events = parse_inbound(read("rfc3464_multi_recipient.eml"), envelope_to=envelope_to)
    assert {event.envelope_token for event in events} == {"t1"}


def test_custom_verp_mailbox_name():
    raw = message("From: reader@example.com", "To: returns+zz9@example.org", "Subject: hello")
    assert parse_inbound(raw, verp_local="returns")[0].envelope_token == "zz9"


# --- robustness -----------------------------------------------------------------------------------


def test_malformed_input_logs_one_line(caplog):
    with caplog.at_level(logging.INFO, logger="newsletter.feedback"):
        assert parse_inbound(read("malformed_binary_garbage.eml")) == []
    assert len(caplog.records) == 1
    assert "\n" not in caplog.records[0].getMessage()


@pytest.mark.parametrize("raw", [b"", b"\r\n\r\n", None, "text, not bytes", b"\xff" * 10, b":\n:\n"])
def test_nonsense_gives_no_event(raw):
    assert parse_inbound(raw) == []


def test_deeply_nested_multiparts_do_not_raise():
    raw = b"From: MAILER-DAEMON@example.net\nSubject: x\n"
    raw += b"".join(b'Content-Type: multipart/mixed; boundary="b%d"\n\n--b%d\n' % (i, i) for i in range(3000))
    assert isinstance(parse_inbound(raw), list)


def check_events(events) -> None:
    assert isinstance(events, list)
    for event in events:
        assert isinstance(event, FeedbackEvent) and event.kind in KINDS
        assert len(event.diagnostic) <= 1000 and "\n" not in event.diagnostic
        assert event.recipient is None or "@" in event.recipient


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=4096))
def test_random_bytes_never_raise(raw):
    check_events(parse_inbound(raw))


SNIPPETS = [b"\n", b"\r\n\r\n", b"--", b":", b"=?utf-8?B?", b"<>", b"\x00", b"\xff\xfe", b"Content-Type: multipart/"]


@st.composite
def mutated_corpus_file(draw):
    raw = bytearray(read(draw(st.sampled_from([n for n in CORPUS_FILES if "huge" not in n]))))
    for _ in range(draw(st.integers(1, 8))):
        at = draw(st.integers(0, len(raw)))
        operation = draw(st.sampled_from(["delete", "insert", "flip", "duplicate", "truncate"]))
        size = draw(st.integers(1, 200))
        if operation == "delete":
            del raw[at : at + size]
        elif operation == "insert":
            raw[at:at] = draw(st.sampled_from(SNIPPETS))
        elif operation == "flip" and at < len(raw):
            raw[at] = draw(st.integers(0, 255))
        elif operation == "duplicate":
            raw[at:at] = raw[at : at + size]
        elif operation == "truncate":
            del raw[at:]
    return bytes(raw)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated_corpus_file())
def test_mutated_corpus_files_never_raise(raw):
    check_events(parse_inbound(raw))


# --- the regressions of issue 12, one by one ----------------------------------------------------------


EXIM_TIMEOUT = (
    "From: Mail Delivery System <Mailer-Daemon@mx.example.net>\nTo: bounces+d4.k4@example.org\n"
    "Subject: Mail delivery failed: returning message to sender\nX-Failed-Recipients: reader@example.com\n"
    "Auto-Submitted: auto-replied\n\nThis message was created automatically by mail delivery software.\n\n"
    "A message that you sent could not be delivered to one or more of its\nrecipients. This is a permanent error. "
    "The following address(es) failed:\n\n  reader@example.com\n    retry timeout exceeded\n"
)


def test_exims_permanent_error_wording_does_not_make_a_retry_timeout_hard():
    (event,) = parse_inbound(EXIM_TIMEOUT.encode())
    assert (event.kind, event.reason, event.recipient) == (SOFT_BOUNCE, "expired", "reader@example.com")


def test_a_dsn_without_diagnostic_is_read_from_its_text_part():
    raw = dsn("failed", "5.0.0").replace(b"Report.", b"<reader@example.com>: mailbox is full, over quota")
    (event,) = parse_inbound(raw)
    assert (event.kind, event.reason) == (SOFT_BOUNCE, "mailbox_full")


@pytest.mark.parametrize(("action", "status"), [("deliverable", "2.1.5"), ("delivered", "2.0.0"),
                                                 ("delayed", "4.4.1"), ("relayed", "2.0.0")])
def test_success_reports_and_delay_warnings_are_not_bounces(action, status):
    assert parse_inbound(dsn(action, status)) == []


NULL_SENDER_NOTICE = message(
    "From: Mail System <mail-system@mx.example.net>", "To: bounces+d5.k5@example.org",
    "Subject: Delivery failure", body="Your message to <reader@example.com> could not be delivered: user unknown.\n",
)


def test_the_null_envelope_sender_marks_a_notice():
    (event,) = parse_inbound(NULL_SENDER_NOTICE, envelope_from="")
    assert (event.kind, event.recipient, event.envelope_token) == (HARD_BOUNCE, "reader@example.com", "d5.k5")


def test_without_the_null_sender_the_same_mail_is_no_bounce():
    assert all(event.kind == REPLY for event in parse_inbound(NULL_SENDER_NOTICE, envelope_from="x@example.net"))


def test_an_empty_mailer_daemon_address_is_a_daemon():
    raw = NULL_SENDER_NOTICE.replace(b"Mail System <mail-system@mx.example.net>", b"MAILER-DAEMON <>")
    assert [event.kind for event in parse_inbound(raw)] == [HARD_BOUNCE]


def test_a_null_sender_autoreply_is_neither_a_bounce_nor_a_reply():
    raw = message("From: reader@example.com", "To: bounces+d6.k6@example.org", "Subject: Out of office",
                  "In-Reply-To: <d6.i6.k6@example.org>", body="Back on Monday.\n")
    assert parse_inbound(raw, envelope_from="") == []


JMRP = (
    "From: staff@hotmail.example.com\nTo: fbl@example.org\nSubject: complaint about message from 198.51.100.7\n"
    'MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary="J"\n\n--J\nContent-Type: text/plain\n\n'
    "This is an email abuse report for an email message received from IP 198.51.100.7.\n\n--J\n"
    "Content-Type: message/rfc822\n\nX-HmXmrOriginalRecipient: <reader@hotmail.example.com>\n"
    "Return-Path: <bounces+d7.k7@example.org>\nMessage-ID: <d7.i7.k7@example.org>\nTo: redacted@example\n"
    "Subject: Weekly Notes\n\nHello.\n\n--J--\n"
)


def test_microsofts_jmrp_format_is_a_complaint():
    (event,) = parse_inbound(JMRP.encode())
    assert (event.kind, event.recipient, event.message_id) == (COMPLAINT, "reader@hotmail.example.com",
                                                                "d7.i7.k7@example.org")


def test_an_ses_complaint_sent_as_mail_is_a_complaint():
    notification = ('{"notificationType":"Complaint","complaint":{"complainedRecipients":[{"emailAddress":'
                    '"reader@example.com"}],"complaintFeedbackType":"abuse","timestamp":"2024-03-01T11:59:30Z"},'
                    '"mail":{"source":"bounces+d8.k8@example.org","commonHeaders":{"messageId":"<d8.i8.k8@example.org>"}}}')
    raw = message("From: SES <no-reply@sns.amazonaws.com>", "To: fbl@example.org", "Subject: AWS Notification Message",
                  body=notification + "\n\n--\nIf you wish to stop receiving notifications...\n")
    (event,) = parse_inbound(raw)
    assert (event.kind, event.recipient, event.envelope_token) == (COMPLAINT, "reader@example.com", "d8.k8")


def test_an_arf_opt_out_asks_to_leave():
    (event,) = parse_inbound(arf("opt-out"))
    assert (event.kind, event.recipient, event.message_id) == ("opt_out", "reader@example.com", "d2.i2.k2@example.org")
