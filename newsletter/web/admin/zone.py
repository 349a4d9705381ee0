"""The publisher's time zone: times on the admin pages are typed and shown in it."""

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from ... import accounts, timezones
from ...errors import DomainError
from ...extensions import db
from ...models import utcnow
from . import admin
from .forms import TimeZoneForm


@admin.route("/time-zone", methods=["GET", "POST"])
def time_zone():
    form = TimeZoneForm(zone=current_user.timezone or "")
    form.zone.choices = [("", _("Choose your time zone"))] + [(name, name) for name in timezones.zone_names()]
    if form.validate_on_submit():
        try:
            timezones.set_zone(current_user, form.zone.data)
        except DomainError as error:
            db.session.rollback()
            form.zone.errors.append(error.message)
        else:
            db.session.commit()
            flash(_("Times are now shown in %(zone)s.", zone=current_user.timezone))
            return redirect(accounts.safe_next(request.args.get("next"), url_for(".time_zone")))
    return render_template("admin/time_zone.html", form=form, unset=current_user.timezone is None,
                           zone=timezones.zone_of(current_user), now=utcnow()), 400 if form.is_submitted() else 200
