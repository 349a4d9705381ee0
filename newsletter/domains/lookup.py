"""DNS look-ups through the resolver the operator names (DNS_RESOLVER, address[:port]) or the system's."""

import time

import dns.exception
import dns.rdatatype
import dns.resolver

TIMEOUT = 4.0  # seconds per look-up
CHECK_SECONDS = 6.0  # seconds for all the look-ups of one check: the page waits for it, whatever the DNS does


class LookupFailed(Exception):
    """The resolver gave no answer (timeout, SERVFAIL): neither "published" nor "missing" can be said."""


class DeadlineResolver(dns.resolver.Resolver):
    """A resolver whose look-ups all end by one deadline: each gets what is left of it (TIMEOUT at most), and
    once it has passed they fail at once. A check makes a dozen look-ups (checkdmarc follows includes and
    tries each query again): with a resolver that never answers they took 16 s or more, one after the other."""

    deadline = float("inf")  # time.monotonic() by which every look-up has ended

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.unanswered: list[str] = []  # names the DNS gave no answer about (not "no such record": no answer)

    def resolve(self, qname, rdtype=dns.rdatatype.A, *args, lifetime=None, **kwargs):
        try:
            left = self.deadline - time.monotonic()
            if left <= 0:
                raise dns.resolver.LifetimeTimeout(timeout=0.0, errors=[])
            return super().resolve(qname, rdtype, *args, lifetime=min(lifetime or self.lifetime, left), **kwargs)
        except (dns.exception.Timeout, dns.resolver.NoNameservers):
            self.unanswered.append(str(qname))
            raise


def make_resolver(setting: str, seconds: float = CHECK_SECONDS) -> DeadlineResolver:
    """A resolver asking `setting` ("127.0.0.1:5353", "[::1]:53", "9.9.9.9"), or the system's if it is empty,
    whose look-ups all end within `seconds` from now."""
    if not setting:
        resolver = DeadlineResolver()
    else:
        host, port = split_resolver(setting)
        resolver = DeadlineResolver(configure=False)
        resolver.nameservers, resolver.port = [host], port
    resolver.lifetime = resolver.timeout = TIMEOUT
    resolver.deadline = time.monotonic() + seconds
    return resolver


def split_resolver(setting: str) -> tuple[str, int]:
    """("address", port) of "address[:port]"; an IPv6 address with a port goes in brackets."""
    if setting.startswith("["):
        host, _, rest = setting[1:].partition("]")
        return host, int(rest[1:]) if rest.startswith(":") else 53
    if setting.count(":") == 1:
        host, _, port = setting.partition(":")
        return host, int(port)
    return setting, 53


def txt_records(resolver: DeadlineResolver, name: str) -> list[str]:
    """Every TXT record at `name`, each with its strings joined; [] when there is none."""
    try:
        answer = resolver.resolve(name, "TXT")
    except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer):
        return []
    except dns.exception.DNSException as error:
        raise LookupFailed(f"no answer about {name} from the DNS ({error.__class__.__name__})") from None
    return [b"".join(record.strings).decode("utf-8", "replace") for record in answer]
