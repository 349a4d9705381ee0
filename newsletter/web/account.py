"""Log in and out (publishers and admins)."""

import time

from flask import Blueprint, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required, login_user, logout_user
from flask_wtf import FlaskForm
from flask_babel import lazy_gettext as _l
from wtforms import PasswordField, StringField
from wtforms.validators import DataRequired, Length

from .. import accounts, two_factor
from ..extensions import db, limiter
from . import load_user

bp = Blueprint("account", __name__)


SECOND_STEP_SECONDS = 300  # the password's proof waits this long for the code


class LoginForm(FlaskForm):
    email = StringField(_l("E-mail address"), validators=[DataRequired(), Length(max=320)])
    password = PasswordField(_l("Password"), validators=[DataRequired(), Length(max=1024)])


class CodeForm(FlaskForm):
    code = StringField(_l("Code from your app, or a recovery code"), validators=[DataRequired(), Length(max=40)])


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
            target = accounts.safe_next(request.args.get("next"), url_for("admin.index"))
            if user.has_two_factor:
                session["second_step"] = {"user": user.get_id(), "next": target, "at": int(time.time())}
                return redirect(url_for("account.login_code"))
            login_user(user)
            return redirect(target)
    status = 401 if form.is_submitted() else 200
    return render_template("account/login.html", form=form), status


@bp.route("/login/code", methods=["GET", "POST"])
@limiter.limit("10/minute;100/hour", methods=["POST"])
def login_code():
    """The second step of a login with two-factor: a code from the app, or a recovery code."""
    pending = session.get("second_step") or {}
    user = load_user(str(pending.get("user", "")))
    if user is None or time.time() - pending.get("at", 0) > SECOND_STEP_SECONDS:
        session.pop("second_step", None)
        flash(_("Log in again: the code was not given within five minutes."))
        return redirect(url_for("account.login"))
    form = CodeForm()
    if form.validate_on_submit():
        try:
            two_factor.second_step(user, form.code.data, request.remote_addr)
        except two_factor.SecretUnreadable as error:  # SECRET_KEY changed: no code can pass, an admin resets it
            db.session.rollback()
            form.code.errors.append(error.message)
        except accounts.LoginFailed:
            db.session.commit()  # keep the failure count: it drives the backoff
            form.code.errors.append(_("That code is not right. After several failed attempts, each new try has "
                                      "to wait longer (up to 15 minutes)."))
        else:
            db.session.commit()
            session.pop("second_step", None)
            login_user(user)
            return redirect(pending.get("next") or url_for("admin.index"))
    status = 401 if form.is_submitted() else 200
    return render_template("account/login_code.html", form=form), status


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
