"""The import page: upload a file, read the report of what would happen, confirm, read what happened."""

from flask import current_app, render_template, request
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge
from wtforms import BooleanField

from ...extensions import db
from ...importer import uploads
from ...importer.report import RowsRefused
from ...importer.writer import FileRefused
from ...models import Newsletter
from ..body_limits import BodyTooLarge, accepts_large_body
from ..forms import ActionForm
from . import admin
from .access import newsletter_for


class UploadForm(FlaskForm):
    """The file and what the publisher asks of it."""

    file = FileField(_l("The file (CSV)"), validators=[FileRequired(_l("Choose the file to import."))])
    strict = BooleanField(_l("Refuse the whole file if any row is refused"))
    suppress = BooleanField(_l("This is a suppression list: addresses that must never receive this newsletter"))


@admin.get("/n/<slug>/import")
def import_form(slug: str):
    """The upload form."""
    return _form_page(newsletter_for(slug), UploadForm())


@admin.post("/n/<slug>/import")
@accepts_large_body("IMPORT_MAX_BYTES")
def import_check(slug: str):
    """Store the upload and show what importing it would do; nothing is imported yet."""
    item = newsletter_for(slug)
    form = UploadForm()
    if not form.validate_on_submit():
        return _form_page(item, form, status=400)
    try:
        upload = uploads.store_upload(
            uploads.uploads_folder(current_app.instance_path), form.file.data.stream,
            max_bytes=current_app.config["IMPORT_MAX_BYTES"], file_name=form.file.data.filename or "",
            newsletter_id=item.id, user_id=current_user.id, suppress=form.suppress.data, strict=form.strict.data)
    except uploads.UploadTooLarge:
        return _form_page(item, form, error=_too_large(), status=413)
    try:
        report = uploads.check_upload(upload, item)
    except (FileRefused, RowsRefused) as refused:
        uploads.discard_upload(upload)  # a refused file is not kept, not even for a while
        return _refused_page(item, form, refused)
    return render_template("admin/import_report.html", newsletter=item, report=report, upload=upload,
                           stage="check", form=ActionForm())


@admin.post("/n/<slug>/import/<upload_id>")
def import_confirm(slug: str, upload_id: str):
    """Import a checked upload and show what was done."""
    item = newsletter_for(slug)
    if not ActionForm().validate_on_submit():
        return _form_page(item, UploadForm(formdata=None), error=_("This form has expired. Upload the file again."),
                          status=400)
    upload = uploads.find_upload(uploads.uploads_folder(current_app.instance_path), upload_id,
                                 newsletter_id=item.id, user_id=current_user.id)
    try:
        report = uploads.import_upload(upload, item, commit=db.session.commit)
    except (FileRefused, RowsRefused) as refused:
        db.session.rollback()
        return _refused_page(item, UploadForm(formdata=None), refused)
    return render_template("admin/import_report.html", newsletter=item, report=report, stage="done")


@admin.errorhandler(RequestEntityTooLarge)
def upload_too_large(error: RequestEntityTooLarge):
    """Bodies past the route's limit are refused before any view runs (body_limits): answer with the form."""
    if request.endpoint != "admin.import_check" or not current_user.is_authenticated:
        message = error.description if isinstance(error, BodyTooLarge) else _too_large()
        return render_template("error.html", code=413, message=message), 413
    try:
        item = newsletter_for(request.view_args["slug"])
    except HTTPException as refused:
        return render_template("error.html", code=refused.code), refused.code
    return _form_page(item, UploadForm(formdata=None), error=_too_large(), status=413)


def _form_page(item: Newsletter, form: UploadForm, error: str | None = None, refusal: FileRefused | None = None,
               status: int = 200):
    return render_template("admin/import.html", newsletter=item, form=form, error=error, refusal=refusal), status


def _refused_page(item: Newsletter, form: UploadForm, refused: FileRefused | RowsRefused):
    if isinstance(refused, RowsRefused):
        return render_template("admin/import_report.html", newsletter=item, report=refused.report,
                               stage="strict"), 422
    return _form_page(item, form, refusal=refused, status=422)


def _too_large() -> str:
    limit = current_app.config["IMPORT_MAX_BYTES"]
    size = f"{limit / 1048576:.3g} MB" if limit >= 1048576 else f"{limit / 1024:.3g} KB"
    return _("This file is larger than %(size)s, the most this instance accepts. Split it into smaller files, "
             "or ask the administrator to import it with the command line.", size=size)
