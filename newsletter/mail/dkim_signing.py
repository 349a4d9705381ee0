"""DKIM signatures (dkimpy) over the headers that matter, List-Unsubscribe included (RFC 8058 section 3)."""

from pathlib import Path

import dkim

SIGNED_HEADERS = [b"from", b"to", b"subject", b"date", b"message-id", b"reply-to", b"list-id",
                  b"list-unsubscribe", b"list-unsubscribe-post", b"mime-version", b"content-type"]


class DkimSigner:
    """Prepends a DKIM-Signature header to finished messages."""

    def __init__(self, key_file: str, selector: str, domain: str):
        self.key = Path(key_file).read_bytes()
        self.selector = selector.encode()
        self.domain = domain.encode()

    def sign(self, raw: bytes) -> bytes:
        """The message with its DKIM-Signature header first."""
        signature = dkim.sign(raw, self.selector, self.domain, self.key, include_headers=SIGNED_HEADERS,
                              canonicalize=(b"relaxed", b"relaxed"))
        return signature + raw


def make_signer(config: dict) -> DkimSigner | None:
    """A signer when DKIM_PRIVATE_KEY_FILE, DKIM_SELECTOR and DKIM_DOMAIN are set."""
    if not config["DKIM_PRIVATE_KEY_FILE"]:
        return None
    return DkimSigner(config["DKIM_PRIVATE_KEY_FILE"], config["DKIM_SELECTOR"], config["DKIM_DOMAIN"])
