"""Demo data for `make run`: an admin, a publisher and two newsletters (English and French)."""

from sqlalchemy import select

from . import accounts, newsletters
from .extensions import db
from .models import Newsletter, User

DEMO_NEWSLETTERS = (
    dict(slug="slow-mornings", name="Slow Mornings", language="en", cadence="fortnightly",
         from_name="Maya, yoga teacher",
         description="Short notes on breathing, sleep and gentle movement, every other Sunday."),
    dict(slug="carnet-d-atelier", name="Carnet d'atelier", language="fr", cadence="monthly",
         from_name="Hélène, céramiste",
         description="Une lettre par mois depuis l'atelier : pièces en cours, cuissons ratées, dates de stages."),
)


def create_demo(make_password) -> list[tuple[str, str, str]]:
    """Create what is missing and set fresh passwords; return (role, e-mail, password) rows."""
    logins = []
    for role, email, admin in (("admin", "admin@example.org", True), ("publisher", "maya@example.org", False)):
        password = make_password()
        user = db.session.scalar(select(User).where(User.email == email))
        if user is None:
            accounts.create_user(email, password, admin=admin)
        else:
            accounts.set_password(user, password)
        logins.append((role, email, password))
    for settings in DEMO_NEWSLETTERS:
        if db.session.scalar(select(Newsletter.id).where(Newsletter.slug == settings["slug"])) is None:
            newsletters.create_newsletter("maya@example.org", from_email="maya@example.org", **settings)
    return logins
