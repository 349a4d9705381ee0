"""Everyone's own two-factor login: enrol (QR code and secret), recovery codes, turn off; enforced for admins
when REQUIRE_TWO_FACTOR_FOR_ADMINS is on."""

from flask import current_app, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_login import current_user

from ... import accounts, two_factor
from ...errors import InvalidInput
from ...extensions import db
from . import admin
from .forms import TwoFactorChangeForm, TwoFactorEnrolForm

OPEN_WITHOUT_TWO_FACTOR = {"admin.two_factor_page", "admin.two_factor_change"}


@admin.before_request
def require_two_factor_for_admins():
    """With REQUIRE_TWO_FACTOR_FOR_ADMINS, an admin without it sees only the enrolment page."""
    if (current_app.config["REQUIRE_TWO_FACTOR_FOR_ADMINS"] and current_user.is_authenticated
            and current_user.is_admin and not current_user.has_two_factor
            and request.endpoint not in OPEN_WITHOUT_TWO_FACTOR):
        flash(_("This instance asks admins to use two-factor login: set it up to go on."))
        return redirect(url_for("admin.two_factor_page"))
    return None


@admin.route("/two-factor", methods=["GET", "POST"])
def two_factor_page():
    user = current_user._get_current_object()
    if user.has_two_factor:
        return _status_page(user, TwoFactorChangeForm())
    secret = session.get("totp_enrol_secret") or two_factor.new_secret()
    session["totp_enrol_secret"] = secret
    form = TwoFactorEnrolForm()
    if form.validate_on_submit():
        try:
            codes = two_factor.enrol(user, secret, form.code.data)
        except InvalidInput:
            db.session.rollback()
            form.code.errors.append(_("That code does not match: check the time on your phone, and type the 6 "
                                      "digits the app shows now."))
        else:
            db.session.commit()
            session.pop("totp_enrol_secret", None)
            return render_template("admin/recovery_codes.html", codes=codes, new=True)
    uri = two_factor.provisioning_uri(user, secret)
    return render_template("admin/two_factor_enrol.html", form=form, secret=secret, uri=uri,
                           qr=two_factor.qr_data_uri(uri)), 400 if form.is_submitted() else 200


@admin.post("/two-factor/change")
def two_factor_change():
    user = current_user._get_current_object()
    form = TwoFactorChangeForm()
    if not user.has_two_factor or not form.validate_on_submit() or form.action.data not in ("codes", "off"):
        return redirect(url_for(".two_factor_page"))
    try:
        accounts.authenticate(user.email, form.password.data, request.remote_addr)
    except accounts.LoginFailed:
        db.session.commit()  # keep the failure count: guessing here backs off like the login does
        form.password.errors.append(_("That is not your current password (or too many failed attempts: "
                                      "wait a little and try again)."))
        return _status_page(user, form, 400)
    if form.action.data == "codes":
        codes = two_factor.new_recovery_codes(user)
        db.session.commit()
        return render_template("admin/recovery_codes.html", codes=codes, new=False)
    if user.is_admin and current_app.config["REQUIRE_TWO_FACTOR_FOR_ADMINS"]:
        db.session.rollback()
        flash(_("This instance asks admins to use two-factor login: it cannot be turned off."))
        return redirect(url_for(".two_factor_page"))
    two_factor.disable(user)
    db.session.commit()
    flash(_("Two-factor login is off."))
    return redirect(url_for(".two_factor_page"))


def _status_page(user, form: TwoFactorChangeForm, status: int = 200):
    return render_template("admin/two_factor.html", form=form, left=two_factor.recovery_codes_left(user)), status
