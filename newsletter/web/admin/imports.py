"""The import page: upload a file; a background job checks it while its page shows the progress; read the report,
confirm; the import runs in the background too, on the same page, which survives a reload."""

from flask import current_app, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge
from wtforms import BooleanField

from ...extensions import db
from ...importer import jobs, uploads
from ...links import external_url
from ...models import ImportJob, Newsletter
from ...states import ImportJobStatus as J
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
    """The upload form, and this user's imports of the newsletter that are not over."""
    return _form_page(newsletter_for(slug), UploadForm())


@admin.post("/n/<slug>/import")
@accepts_large_body("IMPORT_MAX_BYTES")
def import_check(slug: str):
    """Store the upload and queue its check; the job's page shows the progress, then the report."""
    item = newsletter_for(slug)
    form = UploadForm()
    if not form.validate_on_submit():
        return _form_page(item, form, status=400)
    try:
        job = jobs.start_check(
            _folder(), form.file.data.stream, newsletter_id=item.id, user_id=current_user.id,
            file_name=form.file.data.filename or "", suppress=form.suppress.data, strict=form.strict.data,
            share_url=external_url("admin.share", slug=item.slug), max_bytes=current_app.config["IMPORT_MAX_BYTES"],
            max_pending=current_app.config["IMPORT_PENDING_UPLOADS"])
    except uploads.UploadTooLarge:
        db.session.rollback()
        return _form_page(item, form, error=_too_large(), status=413)
    except jobs.TooManyUploads as refused:
        db.session.rollback()
        return _form_page(item, form, error=_too_many(refused.limit), status=429)
    db.session.commit()
    _wake_runner()
    return redirect(url_for(".import_job", slug=item.slug, job_id=job.id), 303)


@admin.get("/n/<slug>/import/<int:job_id>")
def import_job(slug: str, job_id: int):
    """The job's page: progress while it runs, then its report (with the confirmation) or its refusal."""
    item = newsletter_for(slug)
    job = jobs.job_of(job_id, newsletter_id=item.id, user_id=current_user.id)
    report = jobs.report_of(job)
    if job.status == J.REFUSED and report is None:  # refused as a whole: the form again, with the refusal
        return _form_page(item, UploadForm(formdata=None), refusal=job)
    return render_template("admin/import_job.html", newsletter=item, job=job, report=report,
                           progress=jobs.estimate(job), form=ActionForm())


@admin.get("/n/<slug>/import/<int:job_id>/progress.json")
def import_job_progress(slug: str, job_id: int):
    """The job's status and its progress figures (as the page shows them), for the page's script."""
    item = newsletter_for(slug)
    job = jobs.job_of(job_id, newsletter_id=item.id, user_id=current_user.id)
    html = render_template("admin/_import_progress.html", newsletter=item, job=job, progress=jobs.estimate(job))
    return jsonify(status=job.status, html=html)


@admin.post("/n/<slug>/import/<int:job_id>")
def import_confirm(slug: str, job_id: int):
    """Queue the import of a checked upload; its page shows the progress, then what was done."""
    item = newsletter_for(slug)
    if not ActionForm().validate_on_submit():
        return _form_page(item, UploadForm(formdata=None), error=_("This form has expired. Upload the file again."),
                          status=400)
    job = jobs.job_of(job_id, newsletter_id=item.id, user_id=current_user.id)
    jobs.confirm(_folder(), job)
    db.session.commit()
    _wake_runner()
    return redirect(url_for(".import_job", slug=item.slug, job_id=job.id), 303)


@admin.post("/n/<slug>/import/<int:job_id>/abandon")
def import_abandon(slug: str, job_id: int):
    """Put a checked upload aside without importing it: the file is deleted at once."""
    item = newsletter_for(slug)
    if ActionForm().validate_on_submit():
        jobs.abandon(_folder(), jobs.job_of(job_id, newsletter_id=item.id, user_id=current_user.id))
        db.session.commit()
    return redirect(url_for(".import_form", slug=item.slug), 303)


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


def _folder():
    return uploads.uploads_folder(current_app.instance_path)


def _wake_runner() -> None:
    if current_app.config.get("START_SENDER", True):
        current_app.extensions["newsletter.runner"].wake_imports()


def _form_page(item: Newsletter, form: UploadForm, error: str | None = None, refusal: ImportJob | None = None,
               status: int = 200):
    pending = jobs.pending_jobs(newsletter_id=item.id, user_id=current_user.id)
    return render_template("admin/import.html", newsletter=item, form=form, error=error, refusal=refusal,
                           subscribe_url=external_url("public.newsletter", slug=item.slug), pending=pending), status


def _too_large() -> str:
    limit = current_app.config["IMPORT_MAX_BYTES"]
    size = f"{limit / 1048576:.3g} MB" if limit >= 1048576 else f"{limit / 1024:.3g} KB"
    return _("This file is larger than %(size)s, the most this instance accepts. Split it into smaller files, "
             "or ask the administrator to import it with the command line.", size=size)


def _too_many(limit: int) -> str:
    return _("You already have %(num)s files being checked, waiting for your confirmation or being imported, the "
             "most this instance keeps for one person. Confirm or abandon one of them (listed below), or wait "
             "until an import ends, then upload this file again.", num=limit)
