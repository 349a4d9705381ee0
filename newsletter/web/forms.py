"""WTForms forms of the reader pages. Checks of meaning (is this address valid?) stay in the services."""

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, HiddenField, RadioField, StringField, TextAreaField
from wtforms.validators import DataRequired, InputRequired, Length, Optional

from ..states import NO_REASON, READER_REASONS, REASON_LABELS

UNSUBSCRIBE_REASONS = [("", REASON_LABELS[NO_REASON])] + [(code.value, REASON_LABELS[code]) for code in READER_REASONS]


class SubscribeForm(FlaskForm):
    email = StringField(_l("Your e-mail address"), validators=[
        DataRequired(_l("Enter a valid e-mail address, like name@example.org.")),
        Length(max=320, message=_l("Enter a valid e-mail address, like name@example.org."))])
    name = StringField(_l("Your first name (optional)"), validators=[
        Optional(), Length(max=200, message=_l("Enter a name on one line, up to 200 characters."))])
    # Honeypot: hidden from people by CSS and aria-hidden; bots fill every field.
    website = StringField(_l("Leave this field empty"), validators=[Optional()])
    # A proof-of-work puzzle the page's script solves in the background; asked for only past the abuse limits.
    puzzle = HiddenField()
    proof = HiddenField()


class ActionForm(FlaskForm):
    """A button with only the CSRF token behind it."""


class UnsubscribeForm(FlaskForm):
    class Meta:
        csrf = False  # RFC 8058: the one-click POST comes without cookie or token; the link's token is the key

    action = HiddenField(default="unsubscribe")
    reason = RadioField(_l("Why are you leaving? (optional)"), choices=UNSUBSCRIBE_REASONS, default="",
                        validators=[Optional()])
    reason_text = TextAreaField(_l("Anything you want the author to know (optional)"),
                                validators=[Optional(), Length(max=500)])


class NameForm(FlaskForm):
    name = StringField(_l("Your name"), validators=[Optional(), Length(max=200)])


class EraseForm(FlaskForm):
    sure = BooleanField(_l("Yes, erase everything about me"), validators=[InputRequired()])
