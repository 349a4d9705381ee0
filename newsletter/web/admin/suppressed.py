"""Readers whom a refusal about the sender suppressed in the past: the evidence, and the admin's decision
(newsletter/feedback/restore.py says who is listed and what a restore does)."""

from flask import flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_babel import ngettext
from flask_login import current_user
from flask_wtf import FlaskForm

from ...errors import DomainError
from ...extensions import db
from ...feedback import restore
from ..converters import page_cursor
from . import admin
from .access import admin_required


@admin.get("/suppressed")
@admin_required
def suppressed_readers():
    listed, next_after = restore.suppressed_by_refusals(page_cursor("after") or 0)
    db.session.commit()
    return render_template("admin/suppressed.html", listed=listed, next_after=next_after, form=FlaskForm())


@admin.post("/suppressed/<int:subscriber_id>/restore")
@admin_required
def suppressed_restore(subscriber_id: int):
    if not FlaskForm().validate_on_submit():
        return _expired()
    try:
        restored = restore.restore_reader(subscriber_id, current_user._get_current_object())
    except DomainError as error:
        db.session.rollback()
        flash(error.message)
        return _page(), error.status
    db.session.commit()
    flash(ngettext("The reader receives %(num)s newsletter again.", "The reader receives %(num)s newsletters again.",
                   restored))
    return redirect(url_for(".suppressed_readers"))


@admin.post("/suppressed/restore-all")
@admin_required
def suppressed_restore_all():
    if not FlaskForm().validate_on_submit():
        return _expired()
    readers, _subscriptions = restore.restore_all(current_user._get_current_object())
    db.session.commit()
    flash(ngettext("%(num)s reader receives their newsletters again.",
                   "%(num)s readers receive their newsletters again.", readers))
    return redirect(url_for(".suppressed_readers"))


def _page():
    listed, next_after = restore.suppressed_by_refusals()
    return render_template("admin/suppressed.html", listed=listed, next_after=next_after, form=FlaskForm())


def _expired():
    flash(_("This form has expired. Try again."))
    return _page(), 400
