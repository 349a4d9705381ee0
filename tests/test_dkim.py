"""DKIM: every issue message signed, List-Unsubscribe and List-Unsubscribe-Post among the signed headers."""

import base64

import dkim
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.conftest import create_demo_newsletter
from tests.support.sending_helpers import confirmed_readers, new_issue, send_to_the_end, start_sending


@pytest.fixture
def dkim_key(tmp_path):
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    path = tmp_path / "dkim.pem"
    path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
                                       serialization.NoEncryption()))
    public = key.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return path, b"v=DKIM1; k=rsa; p=" + base64.b64encode(public)


def test_issue_messages_are_dkim_signed_over_the_unsubscribe_headers(make_app, smtp, dkim_key):
    path, record = dkim_key
    app = make_app(START_SENDER=False, DKIM_PRIVATE_KEY_FILE=str(path), DKIM_SELECTOR="news",
                   DKIM_DOMAIN="example.org")
    with app.app_context():
        newsletter = create_demo_newsletter()
        confirmed_readers(newsletter, 2)
        issue = new_issue(newsletter, subject="Signé")
        start_sending(issue)
        send_to_the_end(app, issue.id)
    for received in smtp.wait_for(2):
        looked_up = []

        def dns(name, timeout=5):
            looked_up.append(name)
            return record

        assert dkim.verify(received.raw, dnsfunc=dns)
        assert looked_up == [b"news._domainkey.example.org."]
        signature = received.message["DKIM-Signature"].replace(" ", "").replace("\r\n", "")
        signed = signature.split("h=")[1].split(";")[0].lower().split(":")
        assert "list-unsubscribe" in signed and "list-unsubscribe-post" in signed and "from" in signed


def test_a_tampered_signed_message_fails_verification(make_app, smtp, dkim_key):
    path, record = dkim_key
    app = make_app(START_SENDER=False, DKIM_PRIVATE_KEY_FILE=str(path), DKIM_SELECTOR="news",
                   DKIM_DOMAIN="example.org")
    with app.app_context():
        newsletter = create_demo_newsletter()
        confirmed_readers(newsletter, 1)
        issue = new_issue(newsletter)
        start_sending(issue)
        send_to_the_end(app, issue.id)
    raw = smtp.wait_for(1)[0].raw.replace(b"List-Unsubscribe-Post: List-Unsubscribe=One-Click",
                                          b"List-Unsubscribe-Post: List-Unsubscribe=Two-Clicks")
    assert not dkim.verify(raw, dnsfunc=lambda name, timeout=5: record)
