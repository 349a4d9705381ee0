"""The share page: the subscribe link, its QR code (inline SVG, PNG to download) and a message to pass on."""

from flask import Response, render_template
from flask_babel import gettext as _
from flask_login import current_user

from ... import publishing, sharing
from . import admin


@admin.get("/n/<slug>/share")
def share(slug: str):
    item = publishing.newsletter_of(current_user, slug)
    title = _("QR code of the subscribe link of %(name)s", name=item.name)
    return render_template("admin/share.html", newsletter=item, url=sharing.subscribe_url(item),
                           qr_svg=sharing.qr_svg(item, title), message=sharing.personal_message(item))


@admin.get("/n/<slug>/share/qr.png")
def share_qr_png(slug: str):
    item = publishing.newsletter_of(current_user, slug)
    return Response(sharing.qr_png(item), mimetype="image/png",
                    headers={"Content-Disposition": f'attachment; filename="{item.slug}-subscribe-qr.png"'})
