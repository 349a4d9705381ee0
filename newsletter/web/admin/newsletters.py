"""A publisher's newsletters: create one, its overview with the issues, its settings and its readers."""

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from ... import newsletters, publishing, sending_domains
from ...errors import DomainError
from ...extensions import db
from ...stats.newsletters import status_counts
from . import admin
from ..forms import ActionForm
from .forms import NewNewsletterForm, NewsletterForm

SETTINGS_FIELDS = ("name", "description", "cadence", "language", "from_name", "from_email", "reply_to")


@admin.route("/newsletters/new", methods=["GET", "POST"])
def new_newsletter():
    form = NewNewsletterForm(language=request.accept_languages.best_match(["en", "fr"]))
    if form.validate_on_submit():
        try:
            item = newsletters.create_newsletter(current_user.email, slug=form.slug.data, **_settings(form))
        except DomainError as error:
            db.session.rollback()
            form.form_errors.append(error.message)
        else:
            db.session.commit()
            flash(_("The newsletter %(name)s is ready. Write its first issue when you like.", name=item.name))
            return redirect(url_for(".newsletter_overview", slug=item.slug))
    return render_template("admin/newsletter_new.html", form=form), 400 if form.is_submitted() else 200


@admin.get("/n/<slug>")
def newsletter_overview(slug: str):
    item = publishing.newsletter_of(current_user, slug)
    return render_template("admin/newsletter.html", newsletter=item, issues=publishing.issues_of(item),
                           counts=status_counts(item), action_form=ActionForm(),
                           authentication=sending_domains.authentication_of(item))


@admin.route("/n/<slug>/settings", methods=["GET", "POST"])
def newsletter_settings(slug: str):
    item = publishing.newsletter_of(current_user, slug)
    form = NewsletterForm(obj=item)
    if form.validate_on_submit():
        try:
            publishing.update_newsletter(item, **_settings(form))
        except DomainError as error:
            db.session.rollback()
            form.form_errors.append(error.message)
        else:
            db.session.commit()
            flash(_("The settings are saved."))
            return redirect(url_for(".newsletter_settings", slug=item.slug))
    status = 400 if form.is_submitted() else 200
    return render_template("admin/newsletter_settings.html", newsletter=item, form=form), status


def _settings(form: NewsletterForm) -> dict:
    return {name: getattr(form, name).data or "" for name in SETTINGS_FIELDS}
