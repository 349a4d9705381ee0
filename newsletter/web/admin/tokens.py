"""The API tokens page: make a token (shown once), see when each was last used, revoke one."""

from flask import flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import StringField
from wtforms.validators import DataRequired, Length

from ... import api_tokens
from ...errors import DomainError
from ...extensions import db
from ..forms import ActionForm
from . import admin


class TokenForm(FlaskForm):
    name = StringField(_l("What the token is for"), validators=[
        DataRequired(_l("Give the token a name, like 'Website form'.")),
        Length(max=api_tokens.MAX_NAME_LENGTH)])


@admin.get("/tokens")
def api_tokens_page():
    return _page(TokenForm())


@admin.post("/tokens")
def api_token_create():
    form = TokenForm()
    if form.validate_on_submit():
        try:
            token, secret = api_tokens.create_token(current_user._get_current_object(), form.name.data)
        except DomainError as error:
            db.session.rollback()
            form.name.errors.append(error.message)
        else:
            db.session.commit()
            # Rendered, not redirected: the secret must not travel through the session cookie (flash).
            return _page(TokenForm(formdata=None), new_token=token, secret=secret)
    return _page(form, status=400)


@admin.post("/tokens/<int:token_id>/revoke")
def api_token_revoke(token_id: int):
    if not ActionForm().validate_on_submit():
        return _page(TokenForm(), status=400)
    token = api_tokens.revoke_token(current_user, token_id)
    db.session.commit()
    flash(_("The token %(name)s is revoked: calls with it are refused from now on.", name=token.name))
    return redirect(url_for(".api_tokens_page"))


def _page(form: TokenForm, new_token=None, secret: str | None = None, status: int = 200):
    response = render_template("admin/tokens.html", form=form, tokens=api_tokens.tokens_of(current_user),
                               new_token=new_token, secret=secret, action_form=ActionForm())
    return response, status, {"Cache-Control": "no-store"}
