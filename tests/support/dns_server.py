"""A real DNS server on loopback (dnslib) serving TXT records the test publishes, and a dnspython lookup of it.

Nothing leaves the machine: names the zone does not hold get NXDOMAIN, as an authoritative server answers.
"""

import dns.resolver
from dnslib import QTYPE, RCODE, RR, TXT
from dnslib.server import BaseResolver, DNSLogger, DNSServer


def txt_strings(value: str) -> list[bytes]:
    """A long value as several character-strings of at most 255 octets, as a DNS host stores it."""
    data = value.encode()
    return [data[i:i + 255] for i in range(0, len(data), 255)] or [b""]


class Zone(BaseResolver):
    """TXT records by name (lower case, with the final dot), changed by the test while the server runs."""

    def __init__(self):
        self.records: dict[str, list[str]] = {}

    def publish(self, name: str, value: str) -> None:
        """Add a TXT record at `name`."""
        self.records.setdefault(name.lower().rstrip(".") + ".", []).append(value)

    def withdraw(self, name: str) -> None:
        """Remove every TXT record at `name`."""
        self.records.pop(name.lower().rstrip(".") + ".", None)

    def resolve(self, request, handler):
        reply = request.reply()
        name = str(request.q.qname).lower()
        values = self.records.get(name)
        if values is None and not any(known.endswith("." + name) for known in self.records):
            reply.header.rcode = RCODE.NXDOMAIN
        elif values and request.q.qtype in (QTYPE.TXT, QTYPE.ANY):
            for value in values:
                reply.add_answer(RR(request.q.qname, QTYPE.TXT, rdata=TXT(txt_strings(value)), ttl=60))
        return reply


class DnsServer:
    """UDP and TCP on one loopback port; `address` is what DNS_RESOLVER takes (127.0.0.1:PORT)."""

    def __init__(self):
        self.zone = Zone()
        quiet = DNSLogger("-request,-reply,-truncated,-error,-recv,-send,-data", prefix=False)
        # The UDP port is picked by the system; the same number may already be taken for TCP by another process
        # on a shared machine, so pick again (a few times) rather than fail the test that wanted a DNS server.
        for attempt in range(20):
            self.udp = DNSServer(self.zone, address="127.0.0.1", port=0, logger=quiet)
            self.port = self.udp.server.server_address[1]
            try:
                self.tcp = DNSServer(self.zone, address="127.0.0.1", port=self.port, tcp=True, logger=quiet)
                break
            except OSError:
                self.udp.server.server_close()
                if attempt == 19:
                    raise

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self) -> "DnsServer":
        self.udp.start_thread()
        self.tcp.start_thread()
        return self

    def stop(self) -> None:
        self.udp.stop()
        self.tcp.stop()

    def txt(self, name: bytes | str, timeout: float = 5) -> bytes | None:
        """The TXT record at `name` as this server answers it: dkimpy's `dnsfunc`."""
        resolver = dns.resolver.Resolver(configure=False)
        resolver.nameservers, resolver.port = ["127.0.0.1"], self.port
        name = name.decode() if isinstance(name, bytes) else name
        try:
            answer = resolver.resolve(name, "TXT", lifetime=timeout)
        except dns.exception.DNSException:
            return None
        return b"".join(answer[0].strings)
