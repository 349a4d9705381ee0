"""Growing a list without importing: the subscribe link, its QR code and a message to pass on.

Everything here points people to the subscribe form, where they give consent themselves. Nothing stores
an address: a friend's address never reaches the product unless the friend subscribes.
"""

from io import BytesIO

import segno
from flask_babel import force_locale, gettext

from .links import external_url
from .models import Newsletter

QR_ERROR_LEVEL = "m"  # survives a crease or a smudge on a printed sheet
QR_PNG_SCALE = 12  # ~500 px: sharp when printed at a few centimetres


def subscribe_url(newsletter: Newsletter) -> str:
    """The public page with the subscribe form."""
    return external_url("public.newsletter", slug=newsletter.slug)


def qr_svg(newsletter: Newsletter, title: str) -> str:
    """An inline SVG QR code of the subscribe link, with a title for screen readers."""
    code = segno.make(subscribe_url(newsletter), error=QR_ERROR_LEVEL)
    return code.svg_inline(scale=5, border=4, title=title, svgclass="qr", lineclass=None,
                            light="#ffffff")


def qr_png(newsletter: Newsletter) -> bytes:
    """The same QR code as a PNG, large enough to print."""
    buffer = BytesIO()
    segno.make(subscribe_url(newsletter), error=QR_ERROR_LEVEL).save(buffer, kind="png", scale=QR_PNG_SCALE,
                                                                     border=4)
    return buffer.getvalue()


def personal_message(newsletter: Newsletter) -> str:
    """A short note, in the newsletter's language, that the publisher can paste into their own mail."""
    with force_locale(newsletter.language):
        return gettext(
            "Hello,\n\nI write %(name)s, a newsletter about what I do. If you would like to receive it, "
            "you can subscribe here: %(url)s\n\nYou will get one e-mail asking you to confirm, and you can "
            "leave at any time with one click. If it is not for you, simply ignore this message: I will not "
            "add you myself.\n\n%(sender)s",
            name=newsletter.name, url=subscribe_url(newsletter),
            sender=newsletter.from_name or newsletter.owner.email,
        )

