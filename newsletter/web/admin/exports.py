"""The readers export: the publisher asks for it, a background job writes the file while its page shows how far
it is (the page survives a reload), then the page offers the download until the file is deleted or expires."""

from flask import current_app, flash, jsonify, redirect, render_template, send_file, url_for
from flask_babel import gettext as _
from flask_login import current_user

from ...admin_jobs import exports, queue
from ...extensions import db
from ...models import Newsletter
from ...states import AdminJobKind as K
from ..forms import ActionForm
from . import admin
from .access import newsletter_for


@admin.get("/n/<slug>/exports")
def exports_page(slug: str):
    """The Export button, and this newsletter's exports being written or ready."""
    return _exports_page(newsletter_for(slug))


@admin.post("/n/<slug>/exports")
def export_start(slug: str):
    """Queue the export of the confirmed readers; its page shows the progress, then the download."""
    item = newsletter_for(slug)
    if not ActionForm().validate_on_submit():
        return _exports_page(item, error=_("This form has expired. Ask for the export again."), status=400)
    try:
        job = exports.start_export(item.id, current_user.id, max_pending=current_app.config["EXPORT_PENDING_JOBS"])
    except queue.TooManyJobs as refused:
        db.session.rollback()
        return _exports_page(item, error=_too_many(refused.limit), status=429)
    db.session.commit()
    if current_app.config.get("START_SENDER", True):
        current_app.extensions["newsletter.runner"].wake_admin_jobs()
    return redirect(url_for(".export_job", slug=item.slug, job_id=job.id), 303)


@admin.get("/n/<slug>/exports/<int:job_id>")
def export_job(slug: str, job_id: int):
    """The job's page: progress while it runs, then the download link (or why it failed)."""
    item = newsletter_for(slug)
    job = queue.job_of(job_id, kind=K.EXPORT, newsletter_id=item.id)
    return render_template("admin/export_job.html", newsletter=item, job=job, progress=queue.estimate(job),
                           keep_hours=exports.KEEP_SECONDS // 3600, form=ActionForm())


@admin.get("/n/<slug>/exports/<int:job_id>/progress.json")
def export_job_progress(slug: str, job_id: int):
    """The job's status and its progress figures (as the page shows them), for the page's script."""
    item = newsletter_for(slug)
    job = queue.job_of(job_id, kind=K.EXPORT, newsletter_id=item.id)
    html = render_template("admin/_export_progress.html", newsletter=item, job=job, progress=queue.estimate(job))
    return jsonify(status=job.status, html=html)


@admin.get("/n/<slug>/exports/<int:job_id>/download")
def export_download(slug: str, job_id: int):
    """The written file, to the newsletter's publisher or an admin only (404 for anyone else, or once gone)."""
    item = newsletter_for(slug)
    path = exports.ready_file(_folder(), queue.job_of(job_id, kind=K.EXPORT, newsletter_id=item.id))
    answer = send_file(path, mimetype="text/csv", as_attachment=True, download_name=f"{item.slug}-readers.csv",
                       max_age=0, etag=False, last_modified=None)
    answer.headers["Cache-Control"] = "no-store"
    return answer


@admin.post("/n/<slug>/exports/<int:job_id>/delete")
def export_delete(slug: str, job_id: int):
    """Delete the file now (or cancel an export not written yet)."""
    item = newsletter_for(slug)
    job = queue.job_of(job_id, kind=K.EXPORT, newsletter_id=item.id)
    if ActionForm().validate_on_submit():
        exports.delete_export(_folder(), job)
        db.session.commit()
        flash(_("The export file is deleted."))
    return redirect(url_for(".exports_page", slug=item.slug), 303)


def _folder():
    return exports.exports_folder(current_app.instance_path)


def _exports_page(item: Newsletter, error: str | None = None, status: int = 200):
    return render_template("admin/exports.html", newsletter=item, jobs=queue.jobs_of(K.EXPORT, item.id),
                           error=error, form=ActionForm(), keep_hours=exports.KEEP_SECONDS // 3600), status


def _too_many(limit: int) -> str:
    return _("You already have %(num)s exports waiting or being written, the most this instance runs at once for "
             "one person. Wait until one is ready (its page shows how far it is), or delete one below, then ask "
             "again.", num=limit)
