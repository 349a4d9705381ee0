"""Sending domains: a publisher adds their own domain; the app makes its DKIM keys, says which DNS records to
publish, checks them (the DNS doctor), and signs the mail of every newsletter sending From that domain.

A newsletter whose From is at an added domain that fails its check cannot start a send. A newsletter with no
sending domain is never blocked by DNS (local and test set-ups): its page says its mail is unauthenticated.
"""

import json
import logging
from dataclasses import asdict, dataclass

from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import select

from . import senders
from .addresses import normalise_address
from .domains import doctor, records
from .domains.lookup import make_resolver
from .errors import InvalidAddress, InvalidInput, NotFound, Refused
from .extensions import db
from .mail import dkim_keys
from .mail.dkim_signing import DkimKey, DkimSigner, make_signer
from .mail.headers import instance_domain
from .models import Newsletter, SendingDomain, User, utcnow

log = logging.getLogger(__name__)


def clean_domain(name: str) -> str:
    """A domain name in its ASCII form; InvalidInput if it is not one a mailbox could be at."""
    try:
        return normalise_address("postmaster@" + (name or "").strip().rstrip(".")).rpartition("@")[2]
    except InvalidAddress:
        raise InvalidInput(_("%(name)s is not a domain name (write it like news.example.org).",
                             name=(name or "")[:80])) from None


def add_domain(name: str, owner: User, selector: str = "", key_file: str = "", ed25519: bool = False) -> SendingDomain:
    """A new sending domain with a fresh RSA-2048 key (and an Ed25519 one on request), or the key in
    `key_file` (created there if the file does not exist yet). Flushed, not committed."""
    name = clean_domain(name)
    if senders.is_free_mail(name):
        raise Refused(_("%(name)s belongs to a free-mail provider: only its owner can publish DNS records "
                        "there. Add a domain of your own.", name=name))
    if db.session.scalar(select(SendingDomain.id).where(SendingDomain.name == name)):
        raise Refused(_("%(name)s is added already.", name=name))
    selector = selector or f"nl{utcnow():%Y%m}"
    if not records.SELECTOR.fullmatch(selector):
        raise InvalidInput(_("A selector is letters, digits and dashes, up to 63 (e.g. nl202501)."))
    item = SendingDomain(name=name, owner=owner, selector=selector, check_passed=False)
    secret = current_app.config["SECRET_KEY"]
    key = _key_for(item, key_file)
    item.rsa_public = dkim_keys.public_value(key)
    if not key_file:
        item.rsa_sealed = dkim_keys.seal(secret, key)
    if ed25519:
        second = dkim_keys.generate("ed25519")
        item.ed25519_public, item.ed25519_sealed = dkim_keys.public_value(second), dkim_keys.seal(secret, second)
    db.session.add(item)
    db.session.flush()
    return item


def _key_for(item: SendingDomain, key_file: str):
    if not key_file:
        return dkim_keys.generate("rsa")
    item.key_file = key_file
    try:
        return dkim_keys.read_key_file(key_file)
    except dkim_keys.KeyUnavailable as error:
        try:
            key = dkim_keys.generate("rsa")
            dkim_keys.write_key_file(key_file, key)
        except FileExistsError:
            raise Refused(str(error)) from None  # the file is there, but holds no usable key
        except OSError as failure:
            raise Refused(_("Cannot write the key file %(path)s: %(error)s", path=key_file,
                            error=failure.strerror or failure)) from None
        return key


def domain_named(name: str) -> SendingDomain:
    """The sending domain called `name`; NotFound otherwise."""
    item = db.session.scalar(select(SendingDomain).where(SendingDomain.name == name.strip().lower().rstrip(".")))
    if item is None:
        raise NotFound(_("There is no sending domain %(name)s: add it first.", name=name[:80]))
    return item


def all_domains() -> list[SendingDomain]:
    """Every sending domain of the instance, by name."""
    return list(db.session.scalars(select(SendingDomain).order_by(SendingDomain.name)))


def domains_visible_to(user: User) -> list[SendingDomain]:
    """Every domain for an admin; a publisher's own otherwise."""
    query = select(SendingDomain).order_by(SendingDomain.name)
    if not user.is_admin:
        query = query.where(SendingDomain.owner_id == user.id)
    return list(db.session.scalars(query))


def domain_of(user: User, name: str) -> SendingDomain:
    """The user's domain called `name` (any for an admin); NotFound otherwise."""
    try:
        item = domain_named(name)
    except NotFound:
        item = None
    if item is None or not (user.is_admin or item.owner_id == user.id):
        raise NotFound(_("There is no such sending domain among yours."))
    return item


def records_for(item: SendingDomain) -> list[records.Record]:
    """The TXT records the domain publishes: DKIM (and Ed25519 DKIM), SPF, DMARC."""
    config = current_app.config
    listed = [records.Record("dkim", f"{item.selector}._domainkey.{item.name}",
                             records.dkim_value("rsa", item.rsa_public))]
    if item.ed25519_public:
        listed.append(records.Record("dkim-ed25519", f"{item.ed25519_selector}._domainkey.{item.name}",
                                     records.dkim_value("ed25519", item.ed25519_public)))
    report = config.get("DMARC_REPORT_ADDRESS") or item.owner.email
    listed += [records.Record("spf", item.name, records.spf_value(spf_include())),
               records.Record("dmarc", f"_dmarc.{item.name}", records.dmarc_value(report))]
    return listed


def zone_of(item: SendingDomain) -> str:
    """The DNS zone the domain's records most likely go into: its registered domain."""
    return doctor.registered_domain(item.name)


def spf_include() -> str:
    """The name whose SPF lists the operator's relay: SPF_INCLUDE, else SENDING_DOMAIN, else this host."""
    config = current_app.config
    return config.get("SPF_INCLUDE") or config.get("SENDING_DOMAIN") or instance_domain(config["BASE_URL"])


def check_domain(item: SendingDomain) -> list[doctor.Finding]:
    """Look the records up now (DNS_RESOLVER), keep the outcome on the domain, return the findings."""
    config = current_app.config
    bounce = config.get("BOUNCE_ADDRESS") or ""
    expected = doctor.Expected(item.name, records_for(item), spf_include(), senders.domain_of(bounce) if bounce else "")
    findings = doctor.examine(expected, make_resolver(config.get("DNS_RESOLVER") or ""))
    item.checked_at, item.check_passed = utcnow(), doctor.passed(findings)
    item.check_report = json.dumps([asdict(finding) for finding in findings])
    db.session.flush()
    return findings


def last_findings(item: SendingDomain) -> list[doctor.Finding]:
    """The findings of the domain's last check ([] if it was never checked)."""
    found = json.loads(item.check_report or "[]")
    return [doctor.Finding(**dict(f, record=records.Record(**f["record"]) if f.get("record") else None))
            for f in found]


def domain_for_address(address: str) -> SendingDomain | None:
    """The added domain that mail From `address` is signed for: the address's domain or its closest parent."""
    domain = senders.domain_of(address)
    candidates = [domain] + [domain.split(".", i)[-1] for i in range(1, domain.count("."))]
    found = db.session.scalars(select(SendingDomain).where(SendingDomain.name.in_(candidates))).all()
    return max(found, key=lambda item: len(item.name), default=None)


def keys_of(item: SendingDomain) -> list[DkimKey]:
    """The domain's signing keys, RSA first; Refused, saying why, if a private key cannot be read."""
    secret = current_app.config["SECRET_KEY"]
    try:
        rsa = dkim_keys.read_key_file(item.key_file) if item.key_file else dkim_keys.unseal(secret, item.rsa_sealed)
        keys = [DkimKey(item.name, item.selector, rsa)]
        if item.ed25519_sealed:
            keys.append(DkimKey(item.name, item.ed25519_selector, dkim_keys.unseal(secret, item.ed25519_sealed)))
    except dkim_keys.KeyUnavailable as error:
        raise Refused(_("Mail From %(name)s cannot be signed: %(error)s", name=item.name, error=str(error))) from None
    return keys


def signer_for(newsletter: Newsletter) -> DkimSigner | None:
    """The newsletter's signer: its sending domain's keys, else the operator's key (DKIM_*), else none."""
    item = domain_for_address(newsletter.from_email)
    if item is not None:
        return DkimSigner(keys_of(item))
    return make_signer(current_app.config)


def signed(newsletter: Newsletter, raw: bytes) -> bytes:
    """A finished system mail signed like the newsletter's issues. A key that cannot be read does not stop a
    reader's confirmation: the mail goes unsigned and the reason is logged (sends stop and say it)."""
    try:
        signer = signer_for(newsletter)
    except Refused as error:
        log.warning("system mail of %s sent unsigned: %s", newsletter.slug, error.message)
        return raw
    return signer.sign(raw) if signer is not None else raw


@dataclass(frozen=True)
class Authentication:
    """How a newsletter's mail is authenticated, for its page."""

    signed_by: str  # the d= domain, "" when its mail is not signed
    sending_domain: SendingDomain | None  # the added domain it sends From, if any


def authentication_of(newsletter: Newsletter) -> Authentication:
    """Which key signs the newsletter's mail: its sending domain's, the operator's, or none."""
    item = domain_for_address(newsletter.from_email)
    if item is not None:
        return Authentication(item.name, item)
    operator = current_app.config.get("DKIM_DOMAIN") or ""
    return Authentication(operator if current_app.config.get("DKIM_PRIVATE_KEY_FILE") else "", None)


def refuse_unless_authenticated(newsletter: Newsletter) -> None:
    """Refused, with each failing record and its fix, if the newsletter's sending domain fails its check
    (checked again now if it failed before). A newsletter without a sending domain always passes."""
    item = domain_for_address(newsletter.from_email)
    if item is None:
        return
    keys_of(item)
    findings = last_findings(item) if item.check_passed else check_domain(item)
    if not item.check_passed:
        problems = " ".join(f"{f.check}: {f.said} {f.fix}" for f in findings if f.status == doctor.ERROR)
        raise Refused(_("The sending domain %(name)s does not pass its DNS check, so receivers would refuse or "
                        "hide this mail. %(problems)s Fix it on the domain's page, then send again.",
                        name=item.name, problems=problems), code="domain_unchecked")
