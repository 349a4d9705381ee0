"""A newsletter's own words and look: welcome and confirmation texts (Markdown), logo, accent colour, postal
address. What the law requires (the confirm button, the unsubscribe link, who sends and why) is not part of
these texts: the mail templates always add it around them."""

import re

from flask_babel import gettext as _

from .errors import InvalidInput
from .extensions import db
from .models import Media, Newsletter

DEFAULT_ACCENT = "#0b5cad"
ACCENT_PATTERN = re.compile(r"^#[0-9a-f]{6}$")
MIN_CONTRAST = 4.5  # WCAG AA for text: white button labels on the accent colour stay readable
MAX_TEXT_LENGTH = 5000
MAX_ADDRESS_LENGTH = 500
MAX_ADDRESS_LINES = 6
FIELDS = ("welcome_text", "confirm_text", "accent_color", "postal_address")


def check_branding(welcome_text: str = "", confirm_text: str = "", accent_color: str = "",
                   postal_address: str = "") -> dict:
    """Validated values, or InvalidInput naming the field and how to fix it."""
    values = {"welcome_text": _text(welcome_text, _("The welcome text")),
              "confirm_text": _text(confirm_text, _("The confirmation text")),
              "accent_color": (accent_color or "").strip().lower(),
              "postal_address": "\n".join(line.strip() for line in (postal_address or "").strip().splitlines())}
    if values["accent_color"] and not ACCENT_PATTERN.match(values["accent_color"]):
        raise InvalidInput(_("Write the colour as # and six hexadecimal digits, like #0b5cad."))
    if values["accent_color"] and contrast_with_white(values["accent_color"]) < MIN_CONTRAST:
        raise InvalidInput(_("This colour is too light for white text on buttons (contrast %(ratio)s, at least "
                             "4.5 is needed). Choose a darker shade.",
                             ratio=round(contrast_with_white(values["accent_color"]), 1)))
    address = values["postal_address"]
    if "\x00" in address or len(address) > MAX_ADDRESS_LENGTH or address.count("\n") >= MAX_ADDRESS_LINES:
        raise InvalidInput(_("The postal address has at most 6 lines and 500 characters."))
    return values


def update_branding(newsletter: Newsletter, logo: Media | None = None, remove_logo: bool = False,
                    **values) -> Newsletter:
    """Save the newsletter's words and look; InvalidInput (nothing changed) if a value is refused."""
    for key, value in check_branding(**values).items():
        setattr(newsletter, key, value)
    if logo is not None:
        newsletter.logo_key = logo.key
    elif remove_logo:
        newsletter.logo_key = None
    db.session.flush()
    return newsletter


def branded_copy(newsletter: Newsletter, logo: Media | None = None, remove_logo: bool = False,
                 **values) -> Newsletter:
    """An unsaved copy of the newsletter with other words and look, for a preview (never added to the session)."""
    copy = Newsletter(**{column.key: getattr(newsletter, column.key) for column in Newsletter.__table__.columns})
    for key, value in check_branding(**values).items():
        setattr(copy, key, value)
    copy.logo_key = logo.key if logo is not None else (None if remove_logo else newsletter.logo_key)
    return copy


def contrast_with_white(colour: str) -> float:
    """The WCAG contrast ratio between a #rrggbb colour and white."""
    channels = [int(colour[i:i + 2], 16) / 255 for i in (1, 3, 5)]
    linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    luminance = 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]
    return 1.05 / (luminance + 0.05)


def _text(value: str | None, what: str) -> str:
    text = (value or "").replace("\r\n", "\n").strip()
    if "\x00" in text:
        raise InvalidInput(_("%(what)s contains a NUL character: paste it again as plain text.", what=what))
    if len(text) > MAX_TEXT_LENGTH:
        raise InvalidInput(_("%(what)s has at most %(max)s characters.", what=what, max=MAX_TEXT_LENGTH))
    return text
