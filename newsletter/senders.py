"""Who a newsletter sends as: its default From, and the From addresses refused because DMARC would fail them.

Receivers check that the From domain is aligned with the DKIM signature's domain (DMARC). This server can
sign only for the operator's domain (SENDING_DOMAIN, DKIM_DOMAIN) and for sending domains added with their
keys; a free-mail provider's domain it can never sign for, and those providers publish p=reject or
p=quarantine. So a From at a free-mail domain is always refused, and, once the operator has configured
signing, so is a From at any domain this server cannot sign for.
"""

from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import select

from .errors import InvalidInput
from .extensions import db
from .models import SendingDomain, User

# Providers whose users' addresses are not theirs to send bulk mail from (their DMARC policy says so).
FREE_MAIL_DOMAINS = frozenset("""
gmail.com googlemail.com yahoo.com yahoo.fr yahoo.co.uk yahoo.de yahoo.es yahoo.it ymail.com rocketmail.com
hotmail.com hotmail.fr hotmail.co.uk hotmail.de hotmail.es hotmail.it outlook.com outlook.fr outlook.de
outlook.es live.com live.fr live.co.uk msn.com aol.com aol.fr icloud.com me.com mac.com gmx.com gmx.de gmx.fr
gmx.net web.de orange.fr wanadoo.fr free.fr laposte.net sfr.fr neuf.fr bbox.fr numericable.fr club-internet.fr
proton.me protonmail.com pm.me tutanota.com tuta.io zoho.com yandex.com yandex.ru mail.ru mail.com fastmail.com
t-online.de libero.it virgilio.it
""".split())


def domain_of(address: str) -> str:
    """The domain of a normalised address."""
    return address.rpartition("@")[2].lower()


def is_free_mail(domain: str) -> bool:
    """True for a free-mail provider's domain."""
    return domain.lower() in FREE_MAIL_DOMAINS


def operator_domains() -> list[str]:
    """The operator's own domains, which the operator's key signs for (none on a local set-up)."""
    config = current_app.config
    return sorted({d.lower() for d in (config.get("SENDING_DOMAIN"), config.get("DKIM_DOMAIN")) if d})


def default_from(slug: str, owner_email: str) -> str:
    """slug@SENDING_DOMAIN when the operator has one (replies reach the owner through Reply-To); else the
    owner's own address."""
    sending = current_app.config.get("SENDING_DOMAIN")
    return f"{slug}@{sending}" if sending else owner_email


def within(domain: str, parent: str) -> bool:
    """True if `domain` is `parent` or one of its subdomains."""
    return domain == parent or domain.endswith("." + parent)


def check_from(from_email: str, owner: User) -> None:
    """InvalidInput, with the reason and the fix, for a From that DMARC would fail."""
    domain = domain_of(from_email)
    operator = operator_domains()
    if is_free_mail(domain):
        raise InvalidInput(_(
            "%(domain)s is a free-mail provider: mail From %(address)s sent by this server fails DMARC, and "
            "%(domain)s asks receivers to refuse it. Send from an address at your own domain, or %(suggestion)s; "
            "replies can still reach your %(domain)s address through Reply-To.",
            domain=domain, address=from_email, suggestion=_suggestion(operator)))
    if not operator:
        return  # signing is not configured: nothing is aligned, and the newsletter's page says so
    owned = db.session.scalars(select(SendingDomain.name).where(SendingDomain.owner_id == owner.id))
    if not any(within(domain, parent) for parent in [*operator, *owned]):
        raise InvalidInput(_(
            "This server cannot sign mail From %(domain)s, so receivers would fail it (DMARC). Add %(domain)s "
            "under Sending domains first (it gives the DNS records to publish), or send from an address "
            "%(suggestion)s; replies can still reach you through Reply-To.",
            domain=domain, suggestion=_suggestion(operator)))


def _suggestion(operator: list[str]) -> str:
    # Translated only when a refusal says it: gettext fixes the locale of the whole app context.
    if operator:
        return _("at %(domain)s with your name", domain=operator[0])
    return _("at the operator's domain with your name")
