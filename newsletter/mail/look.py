"""How a newsletter's mails look: its logo (with its size), accent colour, postal address and own texts,
ready for the mail templates. The templates add the required parts (confirm button, unsubscribe link, who
sends and why) around the publisher's texts, which can neither remove nor replace them."""

from dataclasses import dataclass

from sqlalchemy import select

from ..branding import DEFAULT_ACCENT
from ..content import RenderedContent, display_size, render_markdown
from ..extensions import db
from ..media import media_url, sizes_in
from ..models import Media, Newsletter

LOGO_WIDTH = 200  # pixels in the mail: wide enough to read a name, small beside the text


@dataclass(frozen=True)
class Look:
    accent: str
    postal_address: str
    welcome: RenderedContent | None
    confirm: RenderedContent | None
    logo_url: str | None = None
    logo_width: int | None = None
    logo_height: int | None = None


def look_of(newsletter: Newsletter) -> Look:
    """The newsletter's look for its mails and pages."""
    logo = None
    if newsletter.logo_key:
        logo = db.session.scalar(select(Media).where(Media.key == newsletter.logo_key))
    sizes = display_size(logo.width, logo.height, LOGO_WIDTH) if logo is not None else (None, None)
    return Look(
        accent=newsletter.accent_color or DEFAULT_ACCENT,
        postal_address=newsletter.postal_address or "",
        welcome=_rendered(newsletter.welcome_text),
        confirm=_rendered(newsletter.confirm_text),
        logo_url=media_url(logo.key) if logo is not None else None,
        logo_width=sizes[0], logo_height=sizes[1],
    )


def _rendered(markdown: str | None) -> RenderedContent | None:
    return render_markdown(markdown, sizes_in(markdown)) if markdown else None
