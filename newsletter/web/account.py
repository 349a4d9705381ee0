"""Log in and out (publishers and admins)."""

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required, login_user, logout_user
from flask_wtf import FlaskForm
from flask_babel import lazy_gettext as _l
from wtforms import PasswordField, StringField
from wtforms.validators import DataRequired, Length

from .. import accounts
from ..extensions import db, limiter

bp = Blueprint("account", __name__)


class LoginForm(FlaskForm):
    email = StringField(_l("E-mail address"), validators=[DataRequired(), Length(max=320)])
    password = PasswordField(_l("Password"), validators=[DataRequired(), Length(max=1024)])


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit("10/minute;100/hour", methods=["POST"])
def login():
    form = LoginForm()
    if form.validate_on_submit():
        try:
            user = accounts.authenticate(form.email.data, form.password.data, request.remote_addr)
        except accounts.LoginFailed:
            db.session.commit()  # keep the failure count: it drives the backoff
            form.password.errors.append(_("Wrong e-mail address or password. After several failed attempts, "
                                          "each new try has to wait longer (up to 15 minutes)."))
        else:
            db.session.commit()
            login_user(user)
            return redirect(accounts.safe_next(request.args.get("next"), url_for("admin.index")))
    status = 401 if form.is_submitted() else 200
    return render_template("account/login.html", form=form), status


@bp.post("/logout")
@login_required
def logout():
    accounts.end_sessions(current_user)  # the cookie alone is no proof of logout: a copy of it would live on
    db.session.commit()
    logout_user()
    flash(_("You are logged out."))
    return redirect(url_for("account.login"))


@bp.get("/account")
def account():
    return redirect(url_for("admin.index") if current_user.is_authenticated else url_for("account.login"))
