"""A newsletter's own words and look: the welcome and confirmation texts, logo, accent colour and postal address,
previewed as the real mails before they are saved."""

from flask import flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_login import current_user

from ... import branding, media, publishing
from ...errors import DomainError
from ...extensions import db
from ...mail.system import system_message
from . import admin
from .forms import BrandingForm
from .frames import mail_html_response
from .uploads import read_upload

PLACEHOLDER = "https://example.invalid/preview"  # links in a preview lead nowhere


@admin.route("/n/<slug>/branding", methods=["GET", "POST"])
def branding_page(slug: str):
    item = publishing.newsletter_of(current_user, slug)
    form = BrandingForm(obj=item)
    if form.validate_on_submit():
        try:
            branding.update_branding(item, **_values(item, form))
        except DomainError as error:
            db.session.rollback()
            form.form_errors.append(error.message)
        else:
            db.session.commit()
            flash(_("Your words and look are saved. The next mails use them."))
            return redirect(url_for(".branding_page", slug=item.slug))
    logo_url = media.media_url(item.logo_key) if item.logo_key else None
    return render_template("admin/branding.html", newsletter=item, form=form, logo_url=logo_url,
                           default_accent=branding.DEFAULT_ACCENT), 400 if form.is_submitted() else 200


@admin.post("/n/<slug>/branding/preview/<any(welcome, confirm):kind>")
def branding_preview(slug: str, kind: str):
    """The welcome or confirmation mail as it would go out with the form's unsaved values."""
    item = publishing.newsletter_of(current_user, slug)
    form = BrandingForm()
    if not form.validate_on_submit():
        return mail_html_response("<p>" + " ".join(str(m) for e in form.errors.values() for m in e) + "</p>"), 400
    try:
        copy = branding.branded_copy(item, **_values(item, form))
    except DomainError as error:
        db.session.rollback()
        return mail_html_response(f"<p>{error.message}</p>"), 400
    db.session.commit()  # an uploaded logo is kept (named by its content); the newsletter itself is unchanged
    links = {"confirm_url": PLACEHOLDER} if kind == "confirm" else {
        "unsubscribe_url": PLACEHOLDER, "preferences_url": PLACEHOLDER, "archive_url": PLACEHOLDER}
    message = system_message(kind, copy, current_user.email, "", **links)
    return mail_html_response(message.html)


def _values(item, form) -> dict:
    """The form's values for the branding service; a chosen logo file is uploaded first (InvalidInput if junk)."""
    logo = None
    if form.logo.data and form.logo.data.filename:
        logo = media.upload_image(item, read_upload(form.logo.data), form.logo.data.filename,
                                  current_user._get_current_object())
    return dict(welcome_text=form.welcome_text.data, confirm_text=form.confirm_text.data,
                accent_color=form.accent_color.data, postal_address=form.postal_address.data, logo=logo,
                remove_logo=form.remove_logo.data)
