"""Sending domains: a publisher adds one, publishes the records shown (here: into a real DNS server on
loopback), sees the check pass, and sends mail that dkimpy verifies; each failing record is reported with its
fix, and a newsletter whose domain fails cannot start a send."""

import os
import re
import shlex
import socket
import time

import dkim
import pytest
from sqlalchemy import select

from newsletter import accounts, newsletters, publishing, sending_domains
from newsletter.domains import doctor
from newsletter.domains.lookup import make_resolver
from newsletter.errors import Refused
from newsletter.extensions import db
from newsletter.models import Issue, SendingDomain
from tests.support.publishers import CLEAN_BODY, login, post_form
from tests.support.sending_helpers import confirmed_readers, send_to_the_end

DOMAIN = "news.maya-yoga.example"
RELAY = "_spf.relay.example.net"


@pytest.fixture
def domain_app(make_app, smtp, dns_server):
    """An app asking the loopback DNS server, with an empty zone, and the operator's relay set."""
    dns_server.zone.records.clear()
    app = make_app(START_SENDER=False, DNS_RESOLVER=dns_server.address, SPF_INCLUDE=RELAY,
                   BOUNCE_ADDRESS="bounces@relay.example.net")
    with app.app_context():
        accounts.create_user("maya@example.org", "a long enough password")
        db.session.commit()
        yield app


@pytest.fixture
def cli(domain_app):
    runner = domain_app.test_cli_runner()
    return lambda *args: runner.invoke(args=list(args))


def publish_zone_lines(dns_server, output: str) -> int:
    """Publish every `NAME. IN TXT "..." "..."` line of the command's output; return how many."""
    count = 0
    for line in output.splitlines():
        if " IN TXT " in line and not line.startswith(";"):
            name, _, rest = line.partition(". IN TXT ")
            dns_server.zone.publish(name, "".join(shlex.split(rest)))
            count += 1
    return count


def test_domains_add_prints_zone_lines_as_opendkim_genkey_writes_them(cli):
    result = cli("domains", "add", DOMAIN, "--owner", "maya@example.org", "--selector", "nl1")
    assert result.exit_code == 0, result.output
    lines = [line for line in result.output.splitlines() if " IN TXT " in line]
    dkim_line, spf_line, dmarc_line = lines
    assert dkim_line.startswith(f"nl1._domainkey.{DOMAIN}. IN TXT \"v=DKIM1; k=rsa; \" \"p=MII")
    strings = re.findall(r'"([^"]*)"', dkim_line)
    assert len(strings) >= 2 and all(len(s) <= 255 for s in strings)  # a 2048-bit key needs several strings
    item = db.session.scalar(select(SendingDomain))
    assert "".join(strings) == f"v=DKIM1; k=rsa; p={item.rsa_public}"
    assert spf_line == f'{DOMAIN}. IN TXT "v=spf1 include:{RELAY} ~all"'
    assert dmarc_line == f'_dmarc.{DOMAIN}. IN TXT "v=DMARC1; p=none; rua=mailto:maya@example.org"'


def test_the_private_key_is_stored_encrypted(cli):
    assert cli("domains", "add", DOMAIN, "--owner", "maya@example.org").exit_code == 0
    item = db.session.scalar(select(SendingDomain))
    assert b"PRIVATE KEY" not in item.rsa_sealed and item.key_file is None
    assert sending_domains.keys_of(item)[0].private_key.key_size == 2048


def test_a_publisher_publishes_the_records_sees_the_check_pass_and_sends_signed_mail(domain_app, cli, dns_server,
                                                                                        smtp):
    added = cli("domains", "add", DOMAIN, "--owner", "maya@example.org", "--ed25519")
    assert publish_zone_lines(dns_server, added.output) == 4
    dns_server.zone.publish(RELAY, "v=spf1 ip4:192.0.2.0/24 -all")
    checked = cli("domains", "check", DOMAIN)
    assert checked.exit_code == 0, checked.output + checked.stderr
    assert f"{DOMAIN} passes" in checked.output
    item = newsletters.create_newsletter("maya@example.org", slug="slow", name="Slow Mornings",
                                         from_email=f"maya@{DOMAIN}", from_name="Maya")
    db.session.commit()
    confirmed_readers(item, 2)
    issue = publishing.create_issue(item, None, "Signed by my own domain", CLEAN_BODY)
    publishing.start_sending(issue)
    db.session.commit()
    send_to_the_end(domain_app, issue.id)
    for received in smtp.wait_for(2):
        verifier = dkim.DKIM(received.raw)
        assert verifier.verify(idx=0, dnsfunc=dns_server.txt) and verifier.verify(idx=1, dnsfunc=dns_server.txt)
        assert f"d={DOMAIN};".encode() in received.raw


def test_each_failing_record_is_reported_with_its_fix(cli, dns_server):
    cli("domains", "add", DOMAIN, "--owner", "maya@example.org", "--selector", "nl1")
    result = cli("domains", "check", DOMAIN)
    assert result.exit_code == 1
    errors = result.stderr
    assert f"DKIM: There is no DKIM record at nl1._domainkey.{DOMAIN}." in errors
    assert f"SPF: There is no SPF record on {DOMAIN}." in errors
    assert f"DMARC: There is no DMARC record for {DOMAIN}" in errors
    assert errors.count("Fix:") == 3
    assert f'nl1._domainkey.{DOMAIN}. IN TXT "v=DKIM1; k=rsa; "' in errors  # the record to publish, in full
    assert db.session.scalar(select(SendingDomain.check_passed)) is False


def test_a_wrong_key_an_spf_without_the_relay_and_a_broken_dmarc_are_each_explained(cli, dns_server):
    cli("domains", "add", DOMAIN, "--owner", "maya@example.org", "--selector", "nl1")
    dns_server.zone.publish(f"nl1._domainkey.{DOMAIN}", "v=DKIM1; k=rsa; p=MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA")
    dns_server.zone.publish(DOMAIN, "v=spf1 include:_spf.google.com ~all")
    dns_server.zone.publish("_spf.google.com", "v=spf1 ip4:198.51.100.0/24 ~all")
    dns_server.zone.publish(f"_dmarc.{DOMAIN}", "v=DMARC1; p=sometimes")
    result = cli("domains", "check", DOMAIN)
    assert result.exit_code == 1
    assert "holds another key than this domain's" in result.stderr
    assert f"include:{RELAY} is missing" in result.stderr
    assert f'{DOMAIN}. IN TXT "v=spf1 include:_spf.google.com include:{RELAY} ~all"' in result.stderr  # merged
    assert "The DMARC record of" in result.stderr and "is not valid" in result.stderr


def test_dmarc_at_none_passes_with_advice_to_raise_it_later(cli, dns_server):
    added = cli("domains", "add", DOMAIN, "--owner", "maya@example.org")
    publish_zone_lines(dns_server, added.output)
    dns_server.zone.publish(RELAY, "v=spf1 ip4:192.0.2.0/24 -all")
    result = cli("domains", "check", DOMAIN)
    assert result.exit_code == 0
    assert "p=none" in result.output and "Bounces return to relay.example.net" in result.output


def test_a_newsletter_whose_domain_fails_its_check_cannot_start_a_send(domain_app, cli, dns_server):
    cli("domains", "add", DOMAIN, "--owner", "maya@example.org")
    item = newsletters.create_newsletter("maya@example.org", slug="slow", name="Slow Mornings",
                                         from_email=f"maya@{DOMAIN}")
    issue = publishing.create_issue(item, None, "Not yet", CLEAN_BODY)
    db.session.commit()
    with pytest.raises(Refused) as refused:
        publishing.start_sending(issue)
    assert f"The sending domain {DOMAIN} does not pass its DNS check" in refused.value.message
    assert "There is no DKIM record" in refused.value.message
    db.session.rollback()
    assert db.session.get(Issue, issue.id).status == "draft"


def test_a_changed_secret_key_stops_the_send_with_the_reason(make_app, smtp, dns_server):
    first = make_app(START_SENDER=False, DNS_RESOLVER=dns_server.address)
    with first.app_context():
        owner = accounts.create_user("maya@example.org", "a long enough password")
        sending_domains.add_domain(DOMAIN, owner)
        db.session.commit()
    second = make_app(START_SENDER=False, DNS_RESOLVER=dns_server.address, SECRET_KEY="another secret entirely")
    with second.app_context():
        item = sending_domains.domain_named(DOMAIN)
        with pytest.raises(Refused, match="SECRET_KEY has changed"):
            sending_domains.keys_of(item)


def test_a_key_file_named_by_the_operator_is_created_private_then_used(cli, tmp_path):
    path = tmp_path / "keys" / "news.pem"
    path.parent.mkdir()
    assert cli("domains", "add", DOMAIN, "--owner", "maya@example.org", "--key-file", str(path)).exit_code == 0
    assert oct(os.stat(path).st_mode & 0o777) == "0o600"
    item = db.session.scalar(select(SendingDomain))
    assert item.rsa_sealed is None and item.key_file == str(path)
    assert sending_domains.keys_of(item)[0].private_key.key_size == 2048


def test_an_existing_key_file_is_imported(cli, tmp_path):
    from newsletter.mail import dkim_keys

    path = tmp_path / "default.private"  # as opendkim-genkey names it
    key = dkim_keys.generate()
    dkim_keys.write_key_file(str(path), key)
    assert cli("domains", "add", DOMAIN, "--owner", "maya@example.org", "--key-file", str(path)).exit_code == 0
    assert db.session.scalar(select(SendingDomain.rsa_public)) == dkim_keys.public_value(key)


@pytest.mark.parametrize("args, message", [
    (("domains", "add", "not a domain", "--owner", "maya@example.org"), "is not a domain name"),
    (("domains", "add", "gmail.com", "--owner", "maya@example.org"), "free-mail provider"),
    (("domains", "add", DOMAIN, "--owner", "nobody@example.org"), "There is no user"),
    (("domains", "add", DOMAIN, "--owner", "maya@example.org", "--selector", "bad selector"), "A selector is"),
    (("domains", "check", "unknown.example"), "There is no sending domain"),
])
def test_junk_is_refused_with_the_reason_and_nothing_stored(cli, args, message):
    result = cli(*args)
    assert result.exit_code == 1 and message in result.stderr
    assert db.session.scalar(select(SendingDomain.id)) is None


def test_a_key_file_that_holds_no_key_is_refused(cli, tmp_path):
    path = tmp_path / "junk.pem"
    path.write_text("not a key")
    result = cli("domains", "add", DOMAIN, "--owner", "maya@example.org", "--key-file", str(path))
    assert result.exit_code == 1 and "holds no unencrypted RSA or Ed25519 private key" in result.stderr


def test_a_resolver_that_does_not_answer_is_said_so(make_app, smtp):
    app = make_app(START_SENDER=False, DNS_RESOLVER="127.0.0.1:9")  # discard port: nothing answers
    with app.app_context():
        owner = accounts.create_user("maya@example.org", "a long enough password")
        item = sending_domains.add_domain(DOMAIN, owner)
        findings = sending_domains.check_domain(item)
    asked = [finding for finding in findings if finding.check != "Alignment"]
    assert [finding.check for finding in asked] == ["DKIM", "SPF", "DMARC"]  # none of them "there is none"
    assert all(finding.status == "error" and "The DNS did not answer" in finding.said for finding in asked), asked
    assert all("DNS_RESOLVER" in finding.fix for finding in asked)


def test_a_resolver_that_never_answers_costs_the_check_its_deadline_not_a_dozen_timeouts(make_app, smtp):
    """A resolver that takes the packets and never answers (UDP and TCP): every look-up of the check ends by
    one deadline, and each record is reported unanswered. Before, they timed out one after the other: 16 s."""
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    udp.bind(("127.0.0.1", 0))
    port = udp.getsockname()[1]
    with udp, socket.create_server(("127.0.0.1", port)):  # TCP too: accepted, never answered
        app = make_app(START_SENDER=False)
        with app.app_context():
            owner = accounts.create_user("maya@example.org", "a long enough password")
            item = sending_domains.add_domain(DOMAIN, owner)
            expected = doctor.Expected(DOMAIN, sending_domains.records_for(item), RELAY, "")
            started = time.monotonic()
            findings = doctor.examine(expected, make_resolver(f"127.0.0.1:{port}", seconds=1.0))
            took = time.monotonic() - started
    asked = [finding for finding in findings if finding.check != "Alignment"]
    assert [finding.check for finding in asked] == ["DKIM", "SPF", "DMARC"]
    assert all(finding.status == "error" and "The DNS did not answer" in finding.said for finding in asked), asked
    assert took < 1.0 + 2.0, f"the check took {took:.1f} s"


def test_the_domain_page_shows_the_records_with_copy_buttons_and_checks_them(domain_app, dns_server):
    client = domain_app.test_client()
    login(client, "maya@example.org")
    page = post_form(client, "/admin/domains", {"name": DOMAIN.upper()}, follow_redirects=True)
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    item = db.session.scalar(select(SendingDomain))
    assert item.name == DOMAIN and f"v=DKIM1; k=rsa; p={item.rsa_public}" in html
    assert html.count("data-copy=") >= 7  # host and value of each record, and the zone-file lines
    assert f'value="{item.selector}._domainkey.news"' in html  # the host as DNS hosts' forms want it
    checked = post_form(client, f"/admin/domains/{DOMAIN}/check", follow_redirects=True).get_data(as_text=True)
    assert "does not pass yet" in checked and "There is no DKIM record" in checked


def test_the_domain_page_refuses_junk_and_other_publishers(domain_app):
    client = domain_app.test_client()
    login(client, "maya@example.org")
    refused = post_form(client, "/admin/domains", {"name": "gmail.com"})
    assert refused.status_code == 400 and "free-mail provider" in refused.get_data(as_text=True)
    other = accounts.create_user("other@example.org", "a long enough password")
    sending_domains.add_domain("other.example", other)
    db.session.commit()
    assert client.get("/admin/domains/other.example").status_code == 404


def test_system_mails_are_signed_with_the_newsletters_key_and_bounce_through_verp(domain_app, cli, dns_server, smtp):
    from newsletter import consent, tokens
    from newsletter.feedback.inbound import receive
    from newsletter.models import Subscription
    from newsletter.sending.system_mail import send_due_system_mails
    from tests.support.feedback_mail import dsn

    publish_zone_lines(dns_server, cli("domains", "add", DOMAIN, "--owner", "maya@example.org").output)
    item = newsletters.create_newsletter("maya@example.org", slug="slow", name="Slow Mornings",
                                         from_email=f"maya@{DOMAIN}")
    consent.subscribe(item, "ana@example.net", "Ana", ip=None, source="t", wording="w")
    db.session.commit()
    send_due_system_mails()
    [confirmation] = smtp.wait_for(1)
    subscription = db.session.scalar(select(Subscription))
    assert dkim.verify(confirmation.raw, dnsfunc=dns_server.txt) and f"d={DOMAIN};".encode() in confirmation.raw
    assert re.fullmatch(rf"bounces\+r{subscription.subscriber_id}\.[0-9a-f]{{12}}@relay\.example\.net",
                        confirmation.envelope_from)
    assert "List-Unsubscribe" not in confirmation.message  # not subscribed yet
    consent.confirm(consent.token_for(tokens.CONFIRM, subscription), None)
    db.session.commit()
    send_due_system_mails()
    welcome = smtp.wait_for(2)[1]
    assert dkim.verify(welcome.raw, dnsfunc=dns_server.txt)
    assert welcome.message["List-Unsubscribe"].startswith("<https://news.example.test/unsubscribe/")
    assert "List-Unsubscribe-Post" not in welcome.message  # system mail is not list mail
    assert welcome.message["Auto-Submitted"] == "auto-generated"
    receive(dsn(welcome), [welcome.envelope_from], envelope_from="")  # the welcome mail bounces: no such user
    db.session.commit()
    db.session.refresh(subscription)
    assert subscription.status == "bounced"


def test_a_test_send_is_signed_and_its_bounce_returns_to_the_bounce_mailbox(domain_app, cli, dns_server, smtp):
    from newsletter.sending.system_mail import send_due_system_mails

    publish_zone_lines(dns_server, cli("domains", "add", DOMAIN, "--owner", "maya@example.org").output)
    item = newsletters.create_newsletter("maya@example.org", slug="slow", name="Slow Mornings",
                                         from_email=f"maya@{DOMAIN}")
    issue = publishing.create_issue(item, None, "Test me", CLEAN_BODY)
    publishing.send_test(issue, accounts.user_by_email("maya@example.org"))
    db.session.commit()
    send_due_system_mails()
    [received] = smtp.wait_for(1)
    assert dkim.verify(received.raw, dnsfunc=dns_server.txt)
    assert received.envelope_from == "bounces@relay.example.net"
