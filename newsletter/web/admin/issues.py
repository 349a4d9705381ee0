"""The composer and the issue page: write, check, preview, test, then send or schedule; follow the send."""

from flask import flash, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from ... import publishing, readers
from ...checks import check_issue
from ...errors import DomainError
from ...extensions import db, limiter
from ...models import utcnow
from . import admin
from .forms import IssueForm, ScheduleForm, SendForm
from .frames import mail_html_response

ACTIONS = {
    "unschedule": (publishing.unschedule, _l("The issue is a draft again.")),
    "pause": (publishing.pause, _l("Sending is paused. Nothing more goes out until you resume.")),
    "resume": (publishing.resume, _l("Sending resumes.")),
    "cancel": (publishing.cancel, _l("The issue is cancelled.")),
}


@admin.route("/n/<slug>/issues/new", methods=["GET", "POST"])
def new_issue(slug: str):
    item = publishing.newsletter_of(current_user, slug)
    form = IssueForm()
    if form.validate_on_submit():
        try:
            issue = publishing.create_issue(item, current_user._get_current_object(), form.subject.data,
                                            form.body.data)
        except DomainError as error:
            db.session.rollback()
            form.form_errors.append(error.message)
        else:
            db.session.commit()
            return _saved(issue)
    status = 400 if form.is_submitted() else 200
    return render_template("admin/issue_new.html", newsletter=item, form=form), status


@admin.route("/issues/<int:issue_id>", methods=["GET", "POST"])
def issue_page(issue_id: int):
    issue = publishing.issue_of(current_user, issue_id)
    form = IssueForm(obj=None, subject=issue.subject, body=issue.body_markdown)
    if form.validate_on_submit():
        try:
            publishing.update_draft(issue, form.subject.data, form.body.data)
        except DomainError as error:
            db.session.rollback()
            form.form_errors.append(error.message)
        else:
            db.session.commit()
            return _saved(issue)
    return _issue_page(issue, form=form, status=400 if form.is_submitted() else 200)


@admin.get("/issues/<int:issue_id>/preview")
def issue_preview(issue_id: int):
    issue = publishing.issue_of(current_user, issue_id)
    return render_template("admin/issue_preview.html", issue=issue, newsletter=issue.newsletter,
                           preview=publishing.preview(issue, current_user))


@admin.get("/issues/<int:issue_id>/preview.html")
def issue_preview_html(issue_id: int):
    issue = publishing.issue_of(current_user, issue_id)
    return mail_html_response(publishing.preview(issue, current_user).html)


@admin.post("/issues/<int:issue_id>/test")
@limiter.limit("30/hour")
def issue_test(issue_id: int):
    issue = publishing.issue_of(current_user, issue_id)
    if not SendForm().validate_on_submit():
        return _issue_page(issue, status=400)
    publishing.send_test(issue, current_user)
    db.session.commit()
    flash(_("A test of this issue is on its way to %(email)s.", email=current_user.email))
    return redirect(url_for(".issue_page", issue_id=issue.id))


@admin.post("/issues/<int:issue_id>/send")
def issue_send(issue_id: int):
    issue = publishing.issue_of(current_user, issue_id)
    form = SendForm()
    if form.validate_on_submit() and _carried_out(
            lambda: publishing.start_sending(issue, accept_warnings=form.acknowledge.data),
            form.acknowledge.errors, _("Sending has started. This page shows how far it got.")):
        return redirect(url_for(".issue_page", issue_id=issue.id))
    return _issue_page(issue, send_form=form, status=400)


@admin.post("/issues/<int:issue_id>/schedule")
def issue_schedule(issue_id: int):
    issue = publishing.issue_of(current_user, issue_id)
    form = ScheduleForm(prefix="schedule")
    if form.validate_on_submit():
        if _carried_out(lambda: publishing.schedule(issue, form.when.data, accept_warnings=form.acknowledge.data),
                        form.when.errors, _("The issue is scheduled. You can still unschedule it until then.")):
            return redirect(url_for(".issue_page", issue_id=issue.id))
    elif form.is_submitted() and any(form.when.raw_data or []) and not form.when.data:
        form.when.errors[:] = [_("Enter a date and time like 2026-12-24 09:30.")]
    return _issue_page(issue, schedule_form=form, status=400)


@admin.post("/issues/<int:issue_id>/<any(unschedule, pause, resume, cancel):action>")
def issue_action(issue_id: int, action: str):
    issue = publishing.issue_of(current_user, issue_id)
    if not SendForm().validate_on_submit():
        return _issue_page(issue, status=400)
    change, done = ACTIONS[action]
    try:
        change(issue)
    except DomainError as error:
        db.session.rollback()
        flash(error.message)
        return _issue_page(issue, status=409)
    db.session.commit()
    flash(str(done))
    return redirect(url_for(".issue_page", issue_id=issue.id))


@admin.get("/issues/<int:issue_id>/progress.json")
def issue_progress(issue_id: int):
    issue = publishing.issue_of(current_user, issue_id)
    return jsonify(publishing.progress(issue))


def _saved(issue):
    flash(_("The draft is saved."))
    if request.form.get("action") == "preview":
        return redirect(url_for(".issue_preview", issue_id=issue.id))
    return redirect(url_for(".issue_page", issue_id=issue.id))


def _issue_page(issue, form=None, schedule_form=None, send_form=None, status=200):
    return render_template(
        "admin/issue.html", issue=issue, newsletter=issue.newsletter,
        form=form or IssueForm(subject=issue.subject, body=issue.body_markdown),
        schedule_form=schedule_form or ScheduleForm(prefix="schedule"), send_form=send_form or SendForm(),
        check=check_issue(issue), progress=publishing.progress(issue) if issue.started_at else None,
        confirmed=readers.status_counts(issue.newsletter)["confirmed"], now=utcnow(),
    ), status


def _carried_out(change, errors: list, done: str) -> bool:
    """Run a publishing change: commit and flash `done`, or roll back and put the refusal on the form."""
    try:
        change()
    except DomainError as error:
        db.session.rollback()
        errors.append(_refusal_message(error))
        return False
    db.session.commit()
    flash(done)
    return True


def _refusal_message(error: DomainError) -> str:
    if isinstance(error, publishing.WarningsNotAccepted):
        return _("Read the warnings, then tick the box to send anyway.")
    if isinstance(error, publishing.IssueRefused):
        return _("The check refuses this issue: %(reasons)s", reasons=" ".join(error.result.refusals))
    return error.message
