"""Newsletters: creating them with valid settings, and finding them."""

import re

from flask_babel import gettext
from sqlalchemy import select

from . import accounts, senders
from .addresses import normalise_address
from .errors import InvalidInput, NotFound, Refused
from .extensions import db
from .mail.headers import header_safe
from .models import CADENCES, LANGUAGES, Newsletter, User

SLUG_PATTERN = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?$")


def newsletter_by_slug(slug: str) -> Newsletter:
    """The newsletter with this slug, or NotFound (junk such as NUL bytes never reaches the database)."""
    item = db.session.scalar(select(Newsletter).where(Newsletter.slug == slug)) if SLUG_PATTERN.match(slug) else None
    if item is None:
        raise NotFound(gettext("There is no newsletter called %(slug)r.", slug=slug[:64]))
    return item


def public_newsletters() -> list[Newsletter]:
    """Every newsletter, for the home page."""
    return list(db.session.scalars(select(Newsletter).order_by(Newsletter.name)))


def visible_to(user: User) -> list[Newsletter]:
    """All newsletters for an admin; a publisher's own otherwise."""
    query = select(Newsletter).order_by(Newsletter.name)
    if not user.is_admin:
        query = query.where(Newsletter.owner_id == user.id)
    return list(db.session.scalars(query))


def check_settings(*, owner: User, slug: str, name: str, from_email: str = "", from_name: str = "",
                   reply_to: str = "", cadence: str = "monthly", language: str = "en", description: str = "") -> dict:
    """Validated newsletter settings, or InvalidInput naming the field and what it accepts (a From that
    DMARC would fail included: see senders.check_from)."""
    if not SLUG_PATTERN.match(slug or ""):
        raise InvalidInput("The short name (slug) uses lower-case letters, digits and dashes, up to 64.")
    name = header_safe((name or "").strip(), "newsletter name")
    if not 1 <= len(name) <= 120:
        raise InvalidInput("The newsletter name has 1 to 120 characters.")
    if cadence not in CADENCES:
        raise InvalidInput("The cadence is one of: " + ", ".join(CADENCES) + ".")
    if language not in LANGUAGES:
        raise InvalidInput("The language is one of: " + ", ".join(LANGUAGES) + ".")
    from_name = header_safe((from_name or "").strip(), "sender name")[:120]
    from_email = normalise_address((from_email or "").strip() or senders.default_from(slug, owner.email))
    senders.check_from(from_email, owner)
    return dict(
        slug=slug, name=name, cadence=cadence, language=language, from_name=from_name,
        description=(description or "").strip()[:5000], from_email=from_email,
        reply_to=normalise_address(reply_to) if reply_to else "",
    )


def create_newsletter(owner_email: str, **settings) -> Newsletter:
    """A new newsletter owned by an existing user; Refused if the slug is taken."""
    owner = accounts.user_by_email(owner_email)
    values = check_settings(owner=owner, **settings)
    if db.session.scalar(select(Newsletter.id).where(Newsletter.slug == values["slug"])):
        raise Refused(f"A newsletter called {values['slug']!r} exists already: choose another slug.")
    item = Newsletter(owner=owner, reply_to=values.pop("reply_to") or owner.email, **values)
    db.session.add(item)
    db.session.flush()
    return item
