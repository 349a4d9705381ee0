"""Image uploads from the composer: dropped on the text or chosen with the file button (JSON for the page's
script), or sent by the plain form without JavaScript (a page that gives the Markdown to paste)."""

from flask import current_app, flash, jsonify, redirect, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from ... import accounts, media, publishing
from ...errors import DomainError
from ...extensions import db
from ..body_limits import accepts_large_body
from . import admin
from .forms import ImageForm


@admin.post("/n/<slug>/media")
@accepts_large_body("MEDIA_MAX_BYTES")
def upload_media(slug: str):
    item = publishing.newsletter_of(current_user, slug)
    form = ImageForm()
    wants_json = request.accept_mimetypes.best == "application/json"
    back = request.form.get("back") or url_for(".new_issue", slug=item.slug)
    try:
        if not form.validate_on_submit():
            raise _FormError(" ".join(str(m) for errors in form.errors.values() for m in errors))
        image = media.upload_image(item, read_upload(form.image.data), form.image.data.filename or "",
                                   current_user._get_current_object())
    except (DomainError, _FormError) as error:
        db.session.rollback()
        if wants_json:
            return jsonify(error=str(error)), 400
        flash(str(error))
        return redirect(_same_site(back))
    db.session.commit()
    url = media.media_url(image.key)
    markdown = f"![]({url})"  # the description goes between the brackets; the pre-send check asks for it
    if wants_json:
        return jsonify(url=url, width=image.width, height=image.height, markdown=markdown)
    flash(_("The image is uploaded. Paste this where it goes in the text, and describe the image between the "
            "brackets: %(markdown)s", markdown=markdown))
    return redirect(_same_site(back))


def read_upload(storage) -> bytes:
    """The uploaded file's bytes, reading at most one byte past the limit (the check then refuses it)."""
    return storage.stream.read(current_app.config["MEDIA_MAX_BYTES"] + 1)


def _same_site(target: str) -> str:
    return accounts.safe_next(target, url_for(".index"))


class _FormError(Exception):
    """The upload form itself is incomplete (no file, expired token)."""
