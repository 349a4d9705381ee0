"""The composer: write (with autosave and a live preview), preview, test; the issue page around it."""

from flask import flash, jsonify, redirect, render_template, request, url_for
from flask_babel import format_time
from flask_babel import gettext as _
from flask_login import current_user

from ... import publishing, timezones
from ...checks import check_issue
from ...errors import DomainError
from ...extensions import db, limiter
from ...models import utcnow
from ...sending import holds
from . import admin
from .forms import ImageForm, IssueForm, ScheduleForm, SendForm
from .frames import mail_html_response


@admin.route("/n/<slug>/issues/new", methods=["GET", "POST"])
def new_issue(slug: str):
    item = publishing.newsletter_of(current_user, slug)
    form = IssueForm()
    if form.validate_on_submit():
        try:
            issue = publishing.create_issue(item, current_user._get_current_object(), form.subject.data,
                                            form.body.data, form.preheader.data)
        except DomainError as error:
            db.session.rollback()
            form.form_errors.append(error.message)
        else:
            db.session.commit()
            return _saved(issue)
    status = 400 if form.is_submitted() else 200
    return render_template("admin/issue_new.html", newsletter=item, form=form, image_form=ImageForm()), status


@admin.post("/n/<slug>/issues/autosave")
def new_issue_autosave(slug: str):
    """The composer's first autosave of a new issue: creates the draft and says where it now lives."""
    item = publishing.newsletter_of(current_user, slug)
    form = IssueForm()
    if not form.validate_on_submit():
        return _autosave_refused(form)
    try:
        issue = publishing.create_issue(item, current_user._get_current_object(), form.subject.data, form.body.data,
                                        form.preheader.data)
    except DomainError as error:
        db.session.rollback()
        return jsonify(error=error.message), 400
    db.session.commit()
    return jsonify(_autosaved(issue) | {"issue_url": url_for(".issue_page", issue_id=issue.id),
                                        "autosave_url": url_for(".issue_autosave", issue_id=issue.id)})


@admin.route("/issues/<int:issue_id>", methods=["GET", "POST"])
def issue_page(issue_id: int):
    issue = publishing.issue_of(current_user, issue_id)
    form = IssueForm(obj=None, subject=issue.subject, body=issue.body_markdown, preheader=issue.preheader)
    if form.validate_on_submit():
        try:
            publishing.update_draft(issue, form.subject.data, form.body.data, form.preheader.data)
        except DomainError as error:
            db.session.rollback()
            form.form_errors.append(error.message)
        else:
            db.session.commit()
            return _saved(issue)
    return issue_page_response(issue, form=form, status=400 if form.is_submitted() else 200)


@admin.post("/issues/<int:issue_id>/autosave")
def issue_autosave(issue_id: int):
    """Save the draft as it is being typed (also sent by the browser when the page is left)."""
    issue = publishing.issue_of(current_user, issue_id)
    form = IssueForm()
    if not form.validate_on_submit():
        return _autosave_refused(form)
    try:
        publishing.update_draft(issue, form.subject.data, form.body.data, form.preheader.data)
    except DomainError as error:
        db.session.rollback()
        return jsonify(error=error.message), 409
    db.session.commit()
    return jsonify(_autosaved(issue))


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
        return issue_page_response(issue, status=400)
    publishing.send_test(issue, current_user)
    db.session.commit()
    flash(_("A test of this issue is on its way to %(email)s.", email=current_user.email))
    return redirect(url_for(".issue_page", issue_id=issue.id))


def issue_page_response(issue, form=None, schedule_form=None, send_form=None, status=200):
    """The issue page: the composer for a draft, the check, sending and scheduling, the progress of a send."""
    schedule_form = schedule_form or ScheduleForm(prefix="schedule")
    zone = timezones.zone_of(current_user)
    schedule_form.when.label.text = (_("Send on (%(zone)s time)", zone=zone) if current_user.timezone
                                     else _("Send on (your browser's time zone, or UTC if it cannot tell)"))
    return render_template(
        "admin/issue.html", issue=issue, newsletter=issue.newsletter,
        form=form or IssueForm(subject=issue.subject, body=issue.body_markdown),
        schedule_form=schedule_form, send_form=send_form or SendForm(),
        check=check_issue(issue), progress=publishing.progress(issue) if issue.started_at else None,
        holds=holds.holds_of(issue.id) if issue.started_at else [],
        recipients=publishing.recipient_count(issue), now=utcnow(), zone=zone,
        restore_window=publishing.RESTORE_WINDOW, image_form=ImageForm(),
    ), status


def _saved(issue):
    flash(_("The draft is saved."))
    if request.form.get("action") == "preview":
        return redirect(url_for(".issue_preview", issue_id=issue.id))
    return redirect(url_for(".issue_page", issue_id=issue.id))


def _autosaved(issue) -> dict:
    return {"saved_at": format_time(utcnow(), "short"), "updated_at": issue.updated_at.timestamp() * 1000,
            "preview_url": url_for(".issue_preview_html", issue_id=issue.id)}


def _autosave_refused(form):
    messages = [message for errors in form.errors.values() for message in errors]
    return jsonify(error=" ".join(map(str, messages)) or _("This form has expired.")), 400
