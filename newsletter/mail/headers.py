"""Header values: checked for injection, then left to the email package to encode (RFC 2047)."""

from email.headerregistry import Address
from urllib.parse import urlsplit

from ..addresses import has_header_breaker
from ..errors import InvalidInput


def header_safe(value: str, what: str = "value") -> str:
    """The one check of every value that can reach a header (names, subjects, sender names, addresses,
    settings): refused, with InvalidInput naming it, if it holds a line break of any kind (whatever
    str.splitlines() breaks on) or a C0/C1 control character (addresses.has_header_breaker)."""
    if has_header_breaker(value):
        raise InvalidInput(f"The {what} cannot contain line breaks (of any kind) or control characters: "
                           "write it on one line.")
    return value


def mailbox(name: str, address: str) -> Address:
    """A header address 'Name <address>'; the email package encodes a non-ASCII name on output."""
    header_safe(name, "name")
    header_safe(address, "address")
    return Address(display_name=name.strip(), addr_spec=address)


def list_unsubscribe(unsubscribe_url: str, token: str, domain: str) -> str:
    """The List-Unsubscribe value: the one-click https URL first, then a mailto the inbound side understands."""
    return f"<{unsubscribe_url}>, <mailto:unsubscribe@{domain}?subject=unsubscribe%20{token}>"


def instance_domain(base_url: str) -> str:
    """The host name of the public URL, used for Message-ID and List-Id."""
    return (urlsplit(base_url).hostname or "localhost").lower()
