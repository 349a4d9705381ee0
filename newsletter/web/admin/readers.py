"""A newsletter's readers: the list (search, filter by status), one reader's page, what the publisher may do
on a reader's request (each with a reason), invitations; the CSV export's old address."""

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from ... import publishing, reader_requests, readers
from ...errors import DomainError
from ...extensions import db
from ...stats.newsletters import status_counts
from ..converters import page_cursor
from . import admin
from .forms import InviteForm, ReasonForm

REQUESTS = {
    "unsubscribe": (reader_requests.unsubscribe_on_request,
                    _l("The reader is unsubscribed; the reason is in their history.")),
    "erase": (reader_requests.erase_on_request, _l("Everything this newsletter held about the reader is erased.")),
    "resend": (reader_requests.resend_confirmation, _l("The confirmation mail is on its way again.")),
}


@admin.get("/n/<slug>/subscribers")
def newsletter_subscribers(slug: str):
    item = publishing.newsletter_of(current_user, slug)
    status = request.args.get("status") or None
    search = request.args.get("q", "").strip()
    page = readers.reader_page(item, before=page_cursor("before"), status=status, search=search)
    return render_template("admin/subscribers.html", newsletter=item, page=page, status=status, search=search,
                           counts=status_counts(item))


@admin.get("/n/<slug>/subscribers.csv")
def newsletter_subscribers_csv(slug: str):
    """The export's old address: the export now runs as a background job, asked for on the exports page."""
    item = publishing.newsletter_of(current_user, slug)
    return redirect(url_for(".exports_page", slug=item.slug))


@admin.get("/n/<slug>/subscribers/<int:subscription_id>")
def reader_page(slug: str, subscription_id: int):
    item = publishing.newsletter_of(current_user, slug)
    return _reader_page(item, readers.reader_detail(item, subscription_id))


@admin.post("/n/<slug>/subscribers/<int:subscription_id>/<any(unsubscribe, erase, resend):action>")
def reader_request(slug: str, subscription_id: int, action: str):
    item = publishing.newsletter_of(current_user, slug)
    detail = readers.reader_detail(item, subscription_id)
    form = ReasonForm(prefix=action)
    if form.validate_on_submit():
        change, done = REQUESTS[action]
        try:
            change(detail.subscription, form.reason.data)
        except DomainError as error:
            db.session.rollback()
            form.reason.errors.append(error.message)
        else:
            db.session.commit()
            flash(str(done))
            if action == "erase":
                return redirect(url_for(".newsletter_subscribers", slug=item.slug))
            return redirect(url_for(".reader_page", slug=item.slug, subscription_id=subscription_id))
    return _reader_page(item, readers.reader_detail(item, subscription_id), **{f"{action}_form": form}), 400


@admin.route("/n/<slug>/invite", methods=["GET", "POST"])
def invite(slug: str):
    item = publishing.newsletter_of(current_user, slug)
    form = InviteForm()
    if form.validate_on_submit():
        try:
            subscription = reader_requests.invite(item, form.email.data, form.name.data, form.note.data,
                                                  current_user._get_current_object())
        except DomainError as error:
            db.session.rollback()
            form.form_errors.append(error.message)
        else:
            db.session.commit()
            flash(_("The confirmation mail is on its way to %(email)s. They join the list when they confirm it.",
                    email=subscription.subscriber.email))
            return redirect(url_for(".reader_page", slug=item.slug, subscription_id=subscription.id))
    return render_template("admin/invite.html", newsletter=item, form=form), 400 if form.is_submitted() else 200


def _reader_page(item, detail, **forms):
    forms = {f"{name}_form": forms.get(f"{name}_form") or ReasonForm(prefix=name) for name in REQUESTS}
    return render_template("admin/reader.html", newsletter=item, detail=detail,
                           reader=detail.subscription.subscriber, **forms)
