"""The DNS doctor: a sending domain's records looked up as receivers look them up, each with a plain fix.

SPF and DMARC go through checkdmarc, which parses them, follows includes and the organisational-domain
fallback, and counts DNS look-ups as receivers do. DKIM goes through dnspython directly: checkdmarc does not
check DKIM keys, and the question is simple (is this exact key published at this exact name?).
"""

import warnings
from dataclasses import dataclass

from cryptography.utils import CryptographyDeprecationWarning
from flask_babel import gettext as _

with warnings.catch_warnings():
    # checkdmarc imports dnspython's DNSSEC module, whose DSA support cryptography marks deprecated: a warning
    # on every start of the CLI about code that is never run here.
    warnings.simplefilter("ignore", CryptographyDeprecationWarning)
    import checkdmarc
    import checkdmarc.utils

from .lookup import TIMEOUT, LookupFailed, txt_records
from .records import Record, spf_value, spf_with_include

OK, WARNING, ERROR = "ok", "warning", "error"


@dataclass(frozen=True)
class Finding:
    """One thing checked: what was found, in plain words, and what to do about it."""

    check: str  # "DKIM", "SPF", "DMARC", "Alignment"
    status: str  # ok | warning | error; only an error fails the check
    said: str
    fix: str = ""
    record: Record | None = None  # the record to publish (or to publish instead), when that is the fix


@dataclass(frozen=True)
class Expected:
    """What a domain should publish, and where its mail's return path is."""

    domain: str
    records: list[Record]
    spf_include: str
    return_path_domain: str  # empty: the newsletter's own From address is the return path


def examine(expected: Expected, resolver) -> list[Finding]:
    """Every finding about the domain, DKIM first."""
    # checkdmarc caches answers for the whole process, whoever asked: a check just after publishing must
    # see the new records.
    checkdmarc.utils.DNS_CACHE.clear()
    records = {record.purpose: record for record in expected.records}
    findings = [dkim_finding(resolver, record) for record in expected.records if record.purpose.startswith("dkim")]
    findings.append(spf_finding(resolver, expected, records["spf"]))
    findings.append(dmarc_finding(resolver, expected.domain, records["dmarc"]))
    findings.append(alignment_finding(expected))
    return findings


def dkim_finding(resolver, record: Record) -> Finding:
    """Is exactly this key published at selector._domainkey.domain?"""
    check = "DKIM (Ed25519)" if record.purpose == "dkim-ed25519" else "DKIM"
    try:
        values = [value for value in txt_records(resolver, record.name) if "p=" in value]
    except LookupFailed as error:
        return _no_answer(check, error)
    if not values:
        return Finding(check, ERROR, _("There is no DKIM record at %(name)s.", name=record.name),
                       _("Publish the TXT record below; receivers need it to check the signature."), record)
    if len(values) > 1:
        return Finding(check, ERROR, _("There are %(count)s DKIM records at %(name)s; receivers take none.",
                                       count=len(values), name=record.name),
                       _("Keep only the record below at this name."), record)
    published = _tags(values[0]).get("p", "")
    if published != _tags(record.value)["p"]:
        said = (_("The DKIM record at %(name)s is empty: the key is revoked.", name=record.name) if not published
                else _("The DKIM record at %(name)s holds another key than this domain's.", name=record.name))
        return Finding(check, ERROR, said, _("Replace its value with the one below."), record)
    return Finding(check, OK, _("The DKIM key is published at %(name)s and matches.", name=record.name))


def spf_finding(resolver, expected: Expected, record: Record) -> Finding:
    """Is there one valid SPF record that lets the operator's relay send?"""
    asked = len(resolver.unanswered)
    result = checkdmarc.check_spf(expected.domain, resolver=resolver, timeout=TIMEOUT)
    existing = result.get("record")
    if "error" in result:
        if not existing and len(resolver.unanswered) > asked:  # not "there is none": nobody said
            return _no_answer("SPF", LookupFailed(_unanswered(resolver.unanswered[asked:])))
        if not existing:
            return Finding("SPF", ERROR, _("There is no SPF record on %(domain)s.", domain=expected.domain),
                           _("Publish the TXT record below (if the domain already sends mail from elsewhere, add "
                             "include:%(include)s to its record instead).", include=expected.spf_include), record)
        return Finding("SPF", ERROR, _("The SPF record of %(domain)s is not valid: %(error)s",
                                       domain=expected.domain, error=result["error"]),
                       _("Replace it with one valid record, for example the one below."),
                       Record("spf", expected.domain, spf_value(expected.spf_include)))
    if not _includes(result.get("parsed") or {}, expected.spf_include.lower()):
        merged = Record("spf", expected.domain, spf_with_include(existing, expected.spf_include))
        return Finding("SPF", ERROR, _("The SPF record of %(domain)s does not let the relay send "
                                       "(include:%(include)s is missing).",
                                       domain=expected.domain, include=expected.spf_include),
                       _("Change the record to the one below: your other senders stay allowed."), merged)
    if (result.get("parsed") or {}).get("all") == "pass":
        return Finding("SPF", WARNING, _("The SPF record ends in +all: it lets anyone send as %(domain)s.",
                                         domain=expected.domain),
                       _("End it with ~all or -all instead."))
    return Finding("SPF", OK, _("SPF lets the relay send for %(domain)s.", domain=expected.domain))


def _includes(parsed: dict, include: str) -> bool:
    """True if the parsed SPF record includes (or redirects to) `include`, directly or through its includes."""
    if not parsed:
        return False
    for mechanism in parsed.get("mechanisms", []):
        if mechanism.get("mechanism") == "include" and str(mechanism.get("value", "")).lower() == include:
            return True
        if _includes(mechanism.get("parsed") or {}, include):
            return True
    redirect = parsed.get("redirect") or {}
    return str(redirect.get("domain", "")).lower() == include or _includes(redirect.get("parsed") or {}, include)


def dmarc_finding(resolver, domain: str, record: Record) -> Finding:
    """Is a valid DMARC policy published for the domain (or inherited from its organisational domain)?"""
    asked = len(resolver.unanswered)
    result = checkdmarc.check_dmarc(domain, resolver=resolver, timeout=TIMEOUT)
    if "error" in result:
        if not result.get("record") and len(resolver.unanswered) > asked:
            return _no_answer("DMARC", LookupFailed(_unanswered(resolver.unanswered[asked:])))
        if not result.get("record"):
            return Finding("DMARC", ERROR, _("There is no DMARC record for %(domain)s: Gmail and Yahoo refuse "
                                             "bulk mail without one.", domain=domain),
                           _("Publish the TXT record below. It asks receivers to report, and refuses nothing."),
                           record)
        return Finding("DMARC", ERROR, _("The DMARC record of %(domain)s is not valid: %(error)s",
                                         domain=domain, error=result["error"]),
                       _("Replace it with the record below."), record)
    policy = result["tags"]["p"]["value"]
    where = result.get("location") or domain
    said = _("DMARC is published at _dmarc.%(where)s with p=%(policy)s.", where=where, policy=policy)
    if policy == "none":
        return Finding("DMARC", OK, said + " " + _("Receivers report but refuse nothing."),
                       _("Once the reports show all your mail passing, raise the policy to p=quarantine."))
    return Finding("DMARC", OK, said)


def registered_domain(domain: str) -> str:
    """The organisational domain (news.example.co.uk -> example.co.uk): most often the DNS zone's apex."""
    return checkdmarc.utils.get_base_domain(domain)


def alignment_finding(expected: Expected) -> Finding:
    """From, DKIM d= and the return path: DMARC needs From aligned with one of the other two."""
    base = registered_domain
    said = _("Newsletters sending From an address at %(domain)s are signed with d=%(domain)s: DKIM is aligned.",
             domain=expected.domain)
    bounce = expected.return_path_domain
    if not bounce or base(bounce) == base(expected.domain):
        return Finding("Alignment", OK, said + " " + _("The return path is at the same domain: SPF is aligned too."))
    return Finding("Alignment", OK, said + " " + _(
        "Bounces return to %(bounce)s, so SPF is checked there and is not aligned with the From: DMARC passes "
        "through the DKIM signature, which is enough.", bounce=bounce))


def _unanswered(names: list[str]) -> str:
    return f"no answer about {names[0].rstrip('.')} from the DNS (in time)"


def _no_answer(check: str, error: LookupFailed) -> Finding:
    return Finding(check, ERROR, _("The DNS did not answer: %(error)s.", error=str(error)),
                   _("Check again in a few minutes; if it lasts, the operator should check DNS_RESOLVER."))


def _tags(value: str) -> dict[str, str]:
    tags = {}
    for part in value.split(";"):
        name, equals, content = part.partition("=")
        if equals:
            tags[name.strip().lower()] = "".join(content.split())
    return tags


def passed(findings: list[Finding]) -> bool:
    """True when nothing is an error."""
    return all(finding.status != ERROR for finding in findings)
