"""Accounts: the admin's list of users with a form for a new publisher, and everyone's own password."""

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_user
from sqlalchemy import select

from ... import accounts
from ...errors import DomainError
from ...extensions import db
from ...models import User
from . import admin
from .access import admin_required
from .forms import PasswordForm, PublisherForm


@admin.route("/users", methods=["GET", "POST"])
@admin_required
def users():
    form = PublisherForm()
    if form.validate_on_submit():
        try:
            user = accounts.create_user(form.email.data, form.password.data, admin=form.admin.data)
        except DomainError as error:
            db.session.rollback()
            form.email.errors.append(error.message)
        else:
            db.session.commit()
            flash(_("The account %(email)s is created. Give them their password by a channel other than "
                    "e-mail; they can change it after logging in.", email=user.email))
            return redirect(url_for(".users"))
    everyone = db.session.scalars(select(User).order_by(User.email)).all()
    return render_template("admin/users.html", users=everyone, form=form), 400 if form.is_submitted() else 200


@admin.route("/password", methods=["GET", "POST"])
def password():
    form = PasswordForm()
    if form.validate_on_submit():
        try:
            accounts.authenticate(current_user.email, form.current.data, request.remote_addr)
        except accounts.LoginFailed:
            db.session.commit()  # keep the failure count: guessing here backs off like the login does
            form.current.errors.append(_("That is not your current password (or too many failed attempts: "
                                         "wait a little and try again)."))
        else:
            try:
                accounts.set_password(current_user, form.new.data)
            except DomainError as error:
                db.session.rollback()
                form.new.errors.append(error.message)
            else:
                db.session.commit()
                login_user(current_user._get_current_object())  # the new session nonce ended every session, this one included
                flash(_("Your password is changed. Your other sessions are logged out."))
                return redirect(url_for(".index"))
    return render_template("admin/password.html", form=form), 400 if form.is_submitted() else 200
