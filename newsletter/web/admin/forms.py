"""WTForms forms of the publisher and admin pages. Rules of meaning stay in the services."""

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import BooleanField, HiddenField, PasswordField, SelectField, StringField, TextAreaField
from wtforms.fields import DateTimeLocalField
from wtforms.validators import DataRequired, EqualTo, InputRequired, Length, Optional, Regexp, ValidationError

from ...accounts import MAX_PASSWORD_LENGTH, MIN_PASSWORD_LENGTH
from ...publishing import MAX_BODY_LENGTH, MAX_PREHEADER_LENGTH, MAX_SUBJECT_LENGTH

CADENCE_CHOICES = [
    ("weekly", _l("Weekly")),
    ("fortnightly", _l("Every two weeks")),
    ("monthly", _l("Monthly")),
    ("quarterly", _l("Four times a year")),
    ("irregular", _l("Now and then")),
]
AT_MOST = _l("Write at most %(max)d characters here.")
LANGUAGE_CHOICES = [("en", "English"), ("fr", "Français")]


def single_line(form, field) -> None:
    """Values that reach mail headers may not hold CR, LF or NUL (header injection)."""
    if field.data and any(ch in field.data for ch in "\r\n\x00"):
        raise ValidationError(_l("Write this on one line, without line breaks."))


def no_nul(form, field) -> None:
    """NUL is never text (and PostgreSQL refuses it): a paste from a binary file, not a form error to store."""
    if field.data and "\x00" in field.data:
        raise ValidationError(_l("This contains a NUL character: paste it again as plain text."))


def address(label, required=True):
    checks = [DataRequired(_l("Enter an e-mail address."))] if required else [Optional()]
    return StringField(label, validators=[*checks, single_line, Length(max=254)])


class NewsletterForm(FlaskForm):
    name = StringField(_l("Name"), validators=[DataRequired(_l("Give the newsletter a name.")), single_line,
                                               Length(max=120)])
    description = TextAreaField(_l("What it is about"), validators=[Optional(), no_nul, Length(max=5000)])
    cadence = SelectField(_l("How often you promise to write"), choices=CADENCE_CHOICES, default="monthly")
    language = SelectField(_l("Language of the mails and public pages"), choices=LANGUAGE_CHOICES, default="en")
    from_name = StringField(_l("Sender name"), validators=[Optional(), single_line, Length(max=120)])
    from_email = address(_l("Sender address"))
    reply_to = address(_l("Replies go to (optional)"), required=False)


class NewNewsletterForm(NewsletterForm):
    from_email = address(_l("Sender address (optional)"), required=False)
    slug = StringField(_l("Short name for the address"), validators=[
        DataRequired(_l("Choose a short name.")),
        Regexp(r"^[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?$",
               message=_l("Use lower-case letters, digits and dashes (up to 64), e.g. slow-mornings."))])


class IssueForm(FlaskForm):
    subject = StringField(_l("Subject"), validators=[Optional(), single_line, Length(max=MAX_SUBJECT_LENGTH)])
    preheader = StringField(_l("Preview text (optional)"), validators=[
        Optional(), single_line, Length(max=MAX_PREHEADER_LENGTH)])
    body = TextAreaField(_l("Body (Markdown)"), validators=[
        Optional(), no_nul, Length(max=MAX_BODY_LENGTH, message=_l("An issue has at most %(max)d characters."))])


class SendForm(FlaskForm):
    acknowledge = BooleanField(_l("I have read the warnings above and want to send anyway"))
    confirmed = HiddenField()  # set by the confirmation page: the publisher saw the count and said yes


class ScheduleForm(SendForm):
    when = DateTimeLocalField(_l("Send on"), format=["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S"],
                              validators=[InputRequired(_l("Choose a date and a time."))])
    browser_zone = HiddenField()  # filled by the page's script: the account's zone until the publisher sets one


class PublisherForm(FlaskForm):
    email = address(_l("E-mail address"))
    password = PasswordField(_l("First password (they can change it)"), validators=[
        DataRequired(), Length(min=MIN_PASSWORD_LENGTH, max=MAX_PASSWORD_LENGTH)])
    admin = BooleanField(_l("Admin (sees every newsletter and manages accounts)"))


class PasswordForm(FlaskForm):
    current = PasswordField(_l("Current password"), validators=[DataRequired(), Length(max=MAX_PASSWORD_LENGTH)])
    new = PasswordField(_l("New password"), validators=[
        DataRequired(), Length(min=MIN_PASSWORD_LENGTH, max=MAX_PASSWORD_LENGTH)])
    repeat = PasswordField(_l("New password, again"), validators=[
        DataRequired(), EqualTo("new", message=_l("The two new passwords differ."))])


class TimeZoneForm(FlaskForm):
    # Choices are every zone the system knows, filled by the view; the service checks the name again.
    zone = SelectField(_l("Your time zone"), choices=[], validate_choice=False,
                       validators=[DataRequired(_l("Choose your time zone."))])


class ReasonForm(FlaskForm):
    """An action on a reader's request: the reason goes into their history."""

    reason = StringField(_l("Why (kept in the reader's history)"), validators=[
        DataRequired(_l("Say why, in a few words (for example: “asked by e-mail on 3 May”).")), single_line,
        Length(max=300)])


class InviteForm(FlaskForm):
    email = address(_l("Their e-mail address"))
    name = StringField(_l("Their first name (optional)"), validators=[Optional(), single_line, Length(max=200)])
    note = StringField(_l("Where you met and what they asked for"), validators=[
        DataRequired(_l("Say where you met and what they asked for: it is kept as the reason for the mail.")),
        single_line, Length(max=300)])


class ImageForm(FlaskForm):
    image = FileField(_l("Add an image"), validators=[FileRequired(_l("Choose an image file to upload."))])


class BrandingForm(FlaskForm):
    welcome_text = TextAreaField(_l("Your words in the welcome mail (Markdown)"),
                                 validators=[Optional(), no_nul, Length(max=5000, message=AT_MOST)])
    confirm_text = TextAreaField(_l("Your words in the confirmation mail and page (Markdown)"),
                                 validators=[Optional(), no_nul, Length(max=5000, message=AT_MOST)])
    logo = FileField(_l("Logo (JPEG, PNG, GIF or WebP)"))
    remove_logo = BooleanField(_l("Remove the logo"))
    accent_color = StringField(_l("Accent colour (links and buttons)"), validators=[Optional(), Length(max=7)])
    postal_address = TextAreaField(_l("Postal address (in the footer of every mail)"),
                                   validators=[Optional(), no_nul, Length(max=500, message=AT_MOST)])


class TwoFactorEnrolForm(FlaskForm):
    code = StringField(_l("The 6-digit code your app shows"), validators=[DataRequired(), Length(max=12)])


class TwoFactorChangeForm(FlaskForm):
    password = PasswordField(_l("Your password"), validators=[DataRequired(), Length(max=MAX_PASSWORD_LENGTH)])
    action = HiddenField(validators=[DataRequired()])
