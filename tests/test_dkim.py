"""DKIM: every issue message signed through OpenSSL, byte for byte what dkimpy verifies against a real DNS
server on loopback; List-Unsubscribe and the identity headers over-signed; Ed25519 beside RSA on request."""

import base64
from datetime import datetime, timezone

import dkim
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa

from newsletter.mail.dkim_signing import DkimKey, DkimSigner, canonical_body
from newsletter.mail.issue_message import IssueTemplate, Reader
from tests.conftest import create_demo_newsletter
from tests.support.sending_helpers import confirmed_readers, new_issue, send_to_the_end, start_sending


@pytest.fixture(scope="module")
def rsa_key():
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def public_record(key) -> str:
    if isinstance(key, ed25519.Ed25519PrivateKey):
        raw = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        return "v=DKIM1; k=ed25519; p=" + base64.b64encode(raw).decode()
    der = key.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return "v=DKIM1; k=rsa; p=" + base64.b64encode(der).decode()


@pytest.fixture
def published(dns_server, rsa_key):
    """The RSA key published at news._domainkey.example.org on the loopback DNS server."""
    dns_server.zone.withdraw("news._domainkey.example.org")
    dns_server.zone.publish("news._domainkey.example.org", public_record(rsa_key))
    return DkimSigner([DkimKey("example.org", "news", rsa_key)])


@pytest.fixture
def key_file(tmp_path, rsa_key):
    path = tmp_path / "dkim.pem"
    path.write_bytes(rsa_key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
                                           serialization.NoEncryption()))
    return path


def signed_list(raw: bytes, index: int = 0) -> list[str]:
    headers = [line for line in raw.split(b"\r\n\r\n")[0].decode().replace("\r\n\t", " ").replace("\r\n ", " ")
               .split("\r\n") if line.lower().startswith("dkim-signature:")]
    tag = headers[index].split("h=", 1)[1].split(";")[0]
    return [name.strip().lower() for name in tag.split(":")]


def reader(name: str = "Reader", email: str = "reader@example.net", source: str = "https://news.example.test/n/x"):
    return Reader(email=email, name=name, unsubscribe_token="u" * 60, preferences_token="p" * 60,
                  confirmed_at=datetime(2024, 3, 1, tzinfo=timezone.utc), consent_source=source, delivery_id=7)


def test_issue_messages_sent_signed_verify_against_the_published_key(make_app, smtp, key_file, published, dns_server):
    app = make_app(START_SENDER=False, DKIM_PRIVATE_KEY_FILE=str(key_file), DKIM_SELECTOR="news",
                   DKIM_DOMAIN="example.org")
    with app.app_context():
        newsletter = create_demo_newsletter()
        confirmed_readers(newsletter, 2)
        issue = new_issue(newsletter, subject="Signé")
        start_sending(issue)
        send_to_the_end(app, issue.id)
    for received in smtp.wait_for(2):
        assert dkim.verify(received.raw, dnsfunc=dns_server.txt)
        assert b"d=example.org; s=news" in received.raw.replace(b"\r\n\t", b" ")


def test_signed_headers_cover_unsubscribe_and_oversign_the_identity_headers(app, newsletter, published):
    raw = IssueTemplate(new_issue(newsletter), signer=published).message_for(reader())
    names = signed_list(raw)
    for name in ("from", "subject", "list-unsubscribe", "list-unsubscribe-post"):
        assert names.count(name) == 2, name  # one more than the message holds: none can be added in transit
    for name in ("to", "date", "message-id", "reply-to", "list-id", "feedback-id", "mime-version", "content-type"):
        assert name in names


@pytest.mark.parametrize("header", [
    b"List-Unsubscribe: <https://evil.example/unsubscribe>",
    b"From: Someone Else <ceo@example.org>",
    b"Subject: Urgent",
    b"List-Unsubscribe-Post: List-Unsubscribe=One-Click",
])
def test_a_header_added_in_transit_breaks_the_signature(app, newsletter, published, dns_server, header):
    raw = IssueTemplate(new_issue(newsletter), signer=published).message_for(reader())
    assert dkim.verify(raw, dnsfunc=dns_server.txt)
    assert not dkim.verify(header + b"\r\n" + raw, dnsfunc=dns_server.txt)


def test_a_tampered_body_fails_verification(app, newsletter, published, dns_server):
    raw = IssueTemplate(new_issue(newsletter), signer=published).message_for(reader())
    assert not dkim.verify(raw.replace(b"friends", b"fiends"), dnsfunc=dns_server.txt)


ODD_ISSUES = {
    "non-ASCII names and subject": dict(subject="Ça commence — 春の便り ✿", name="Zoë Ångström-Łukasiewicz",
                                        body="Bonjour à tous, **ça va** ?"),
    "a subject long enough to fold": dict(subject="A very long subject line " * 8, name="Reader",
                                          body="Short body."),
    "a 5,000-character line": dict(subject="Long line", name="Reader", body="x" * 5000 + "\n\nend"),
    "empty lines, trailing blanks, tabs and runs of spaces": dict(
        subject="Spaces   and\ttabs", name="Reader   Two",
        body="para  with   runs\t\tof blanks   \n\n\n\n    indented code\n\t\ttabbed code   \n\n\n\nlast  "),
    "a long non-ASCII reader name": dict(subject="Hi", name="Émilie-Anne Dupont-Château " * 6, body="Body."),
    "blanks at the ends of a reader name": dict(subject="Hi", name=" Reader Three ", body="Body."),
}


@pytest.mark.parametrize("case", ODD_ISSUES, ids=list(ODD_ISSUES))
def test_odd_messages_verify_byte_for_byte(app, newsletter, published, dns_server, case):
    values = ODD_ISSUES[case]
    newsletter.from_name = values["name"][:120]  # the column's length; the reader's name is longer
    issue = new_issue(newsletter, subject=values["subject"], body=values["body"])
    template = IssueTemplate(issue, signer=published)
    raw = template.message_for(reader(name=values["name"], source="https://news.example.test/n/x  with  spaces"))
    assert dkim.verify(raw, dnsfunc=dns_server.txt), case
    # The per-issue canonical pieces give the body a verifier computes from the whole message.
    body = raw.split(b"\r\n\r\n", 1)[1]
    assert f"bh={base64.b64encode(__import__('hashlib').sha256(canonical_body(body)).digest()).decode()}" \
        in raw.replace(b"\r\n\t", b"").decode()


def test_any_finished_message_can_be_signed(app, newsletter, published, dns_server):
    raw = IssueTemplate(new_issue(newsletter), signer=None).message_for(reader(name="Zoë"))
    assert b"DKIM-Signature" not in raw
    assert dkim.verify(published.sign(raw), dnsfunc=dns_server.txt)


def test_an_ed25519_signature_goes_beside_the_rsa_one(app, newsletter, rsa_key, dns_server):
    edkey = ed25519.Ed25519PrivateKey.generate()
    dns_server.zone.withdraw("rsa._domainkey.example.org")
    dns_server.zone.withdraw("ed._domainkey.example.org")
    dns_server.zone.publish("rsa._domainkey.example.org", public_record(rsa_key))
    dns_server.zone.publish("ed._domainkey.example.org", public_record(edkey))
    signer = DkimSigner([DkimKey("example.org", "rsa", rsa_key), DkimKey("example.org", "ed", edkey)])
    raw = IssueTemplate(new_issue(newsletter), signer=signer).message_for(reader())
    verifier = dkim.DKIM(raw)
    assert verifier.verify(idx=0, dnsfunc=dns_server.txt)  # RSA first: a verifier that checks one checks it
    assert verifier.verify(idx=1, dnsfunc=dns_server.txt)
    assert b"a=ed25519-sha256" in raw and b"a=rsa-sha256" in raw
