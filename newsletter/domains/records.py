"""The DNS records a sending domain publishes, as a DNS host's form wants them and as zone-file lines."""

import re
from dataclasses import dataclass

TXT_STRING = 255  # octets in one DNS character-string (RFC 1035 section 3.3)
DKIM_CHUNK = 250  # opendkim-genkey's cut: a long key becomes several quoted strings
SELECTOR = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?")


@dataclass(frozen=True)
class Record:
    """One TXT record to publish: what it is for, where, and its value."""

    purpose: str  # "dkim", "dkim-ed25519", "spf", "dmarc"
    name: str  # fully qualified, without the final dot
    value: str

    def host(self, zone: str) -> str:
        """The name relative to the DNS zone, as most DNS hosts' forms ask for it ("@" for the zone itself)."""
        if self.name == zone:
            return "@"
        return self.name[: -len(zone) - 1] if self.name.endswith("." + zone) else self.name

    def zone_line(self) -> str:
        """`NAME. IN TXT "..." "..."`: a value longer than one string split as opendkim-genkey splits it."""
        return f'{self.name}. IN TXT {quoted_strings(self.value)}'


def quoted_strings(value: str) -> str:
    """The value as one or more quoted DNS strings; a DKIM key is cut after its tags, then every 250."""
    head, marker, key = value.partition("p=")
    if not marker or len(value) <= TXT_STRING:
        return _quote(value)
    parts = [head] + ["p=" + key[:DKIM_CHUNK - 2]] + [key[i:i + DKIM_CHUNK] for i in range(DKIM_CHUNK - 2, len(key),
                                                                                         DKIM_CHUNK)]
    return " ".join(_quote(part) for part in parts if part)


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def dkim_value(algorithm: str, public: str) -> str:
    """`v=DKIM1; k=rsa; p=...` (or k=ed25519)."""
    return f"v=DKIM1; k={algorithm}; p={public}"


def spf_value(include: str) -> str:
    """An SPF record that lets the operator's relay send for the domain; ~all while it is new."""
    return f"v=spf1 include:{include} ~all"


def dmarc_value(report_address: str) -> str:
    """A DMARC record to start with: p=none (watch, refuse nothing) and aggregate reports."""
    return f"v=DMARC1; p=none; rua=mailto:{report_address}"


def spf_with_include(existing: str, include: str) -> str:
    """An existing SPF record with the relay's include added before its final mechanism."""
    terms = existing.split()
    position = next((i for i, term in enumerate(terms) if term.lstrip("+-~?").lower() == "all"
                     or term.lower().startswith("redirect=")), len(terms))
    return " ".join(terms[:position] + [f"include:{include}"] + terms[position:])
