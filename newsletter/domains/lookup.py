"""DNS look-ups through the resolver the operator names (DNS_RESOLVER, address[:port]) or the system's."""

import dns.exception
import dns.resolver

TIMEOUT = 4.0  # seconds per look-up: a page waits for it


class LookupFailed(Exception):
    """The resolver gave no answer (timeout, SERVFAIL): neither "published" nor "missing" can be said."""


def make_resolver(setting: str) -> dns.resolver.Resolver:
    """A resolver asking `setting` ("127.0.0.1:5353", "[::1]:53", "9.9.9.9"), or the system's if it is empty."""
    if not setting:
        resolver = dns.resolver.Resolver()
    else:
        host, port = split_resolver(setting)
        resolver = dns.resolver.Resolver(configure=False)
        resolver.nameservers, resolver.port = [host], port
    resolver.lifetime = resolver.timeout = TIMEOUT
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


def txt_records(resolver: dns.resolver.Resolver, name: str) -> list[str]:
    """Every TXT record at `name`, each with its strings joined; [] when there is none."""
    try:
        answer = resolver.resolve(name, "TXT")
    except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer):
        return []
    except dns.exception.DNSException as error:
        raise LookupFailed(f"no answer about {name} from the DNS ({error.__class__.__name__})") from None
    return [b"".join(record.strings).decode("utf-8", "replace") for record in answer]
