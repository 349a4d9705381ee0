"""Sending an issue: send now or schedule (each confirmed once more, with the exact count), unschedule,
pause, resume, cancel, discard and restore, the live progress of a send, and the decision on a receiving
domain that refused the sender (retry it or give it up)."""

from flask import flash, jsonify, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel import ngettext
from flask_login import current_user

from ... import publishing, timezones
from ...errors import DomainError
from ...extensions import db
from ...sending import holds
from ...states import IssueStatus
from . import admin
from .forms import ScheduleForm, SendForm
from .issues import issue_page_response

SENDABLE = (IssueStatus.DRAFT, IssueStatus.SCHEDULED)
ACTIONS = {
    "unschedule": (publishing.unschedule, _l("The issue is a draft again.")),
    "pause": (publishing.pause, _l("Sending is paused. Nothing more goes out until you resume.")),
    "resume": (publishing.resume, _l("Sending resumes.")),
    "cancel": (publishing.cancel, _l("The issue is cancelled.")),
}


@admin.post("/issues/<int:issue_id>/send")
def issue_send(issue_id: int):
    issue = publishing.issue_of(current_user, issue_id)
    if issue.status not in SENDABLE:
        return _already_on_its_way(issue)
    form = SendForm()
    if not form.validate_on_submit():
        return issue_page_response(issue, send_form=form, status=400)
    if not form.confirmed.data:
        return _ask_once_more(issue, form, lambda: publishing.refuse_unless_sendable(
            issue, accept_warnings=form.acknowledge.data), form.acknowledge.errors, "send")
    if _carried_out(lambda: publishing.start_sending(issue, accept_warnings=form.acknowledge.data),
                    form.acknowledge.errors, _("Sending has started. This page shows how far it got.")):
        return redirect(url_for(".issue_page", issue_id=issue.id))
    return issue_page_response(issue, send_form=form, status=400)


@admin.post("/issues/<int:issue_id>/schedule")
def issue_schedule(issue_id: int):
    issue = publishing.issue_of(current_user, issue_id)
    if issue.status != IssueStatus.DRAFT:
        return _already_on_its_way(issue)
    form = ScheduleForm(prefix="schedule")
    if form.validate_on_submit():
        timezones.adopt_browser_zone(current_user, form.browser_zone.data)
        db.session.commit()  # a preference of the account, kept whatever becomes of the schedule
        when = timezones.to_utc(form.when.data, timezones.zone_of(current_user))
        change = lambda: publishing.schedule(issue, when, accept_warnings=form.acknowledge.data)  # noqa: E731
        if not form.confirmed.data:
            return _ask_once_more(issue, form, change, form.when.errors, "schedule", when=when)
        if _carried_out(change, form.when.errors,
                        _("The issue is scheduled. You can still unschedule it until then.")):
            return redirect(url_for(".issue_page", issue_id=issue.id))
    elif form.is_submitted() and any(form.when.raw_data or []) and not form.when.data:
        form.when.errors[:] = [_("Enter a date and time like 2026-12-24 09:30.")]
    return issue_page_response(issue, schedule_form=form, status=400)


@admin.post("/issues/<int:issue_id>/<any(unschedule, pause, resume, cancel):action>")
def issue_action(issue_id: int, action: str):
    issue = publishing.issue_of(current_user, issue_id)
    if not SendForm().validate_on_submit():
        return issue_page_response(issue, status=400)
    change, done = ACTIONS[action]
    try:
        change(issue)
    except DomainError as error:
        db.session.rollback()
        flash(error.message)
        return issue_page_response(issue, status=409)
    db.session.commit()
    flash(str(done))
    return redirect(url_for(".issue_page", issue_id=issue.id))


@admin.post("/issues/<int:issue_id>/holds/<int:hold_id>/<any(retry, 'give-up'):action>")
def issue_hold_action(issue_id: int, hold_id: int, action: str):
    """Decide on a receiving domain that refused the sender: retry it once fixed, or give it up."""
    issue = publishing.issue_of(current_user, issue_id)
    if not SendForm().validate_on_submit():
        return issue_page_response(issue, status=400)
    decide = holds.retry_domain if action == "retry" else holds.give_up_domain
    try:
        moved = decide(issue, hold_id, current_user._get_current_object())
    except DomainError as error:
        db.session.rollback()
        flash(error.message)
        return issue_page_response(issue, status=error.status)
    db.session.commit()
    if action == "retry":
        flash(ngettext("%(num)s message is queued again.", "%(num)s messages are queued again.", moved))
    else:
        flash(ngettext("%(num)s message will not be sent.", "%(num)s messages will not be sent.", moved))
    return redirect(url_for(".issue_page", issue_id=issue.id))


@admin.post("/issues/<int:issue_id>/discard")
def issue_discard(issue_id: int):
    """Discarding asks first; once done, the issue list offers to restore it for 30 days."""
    issue = publishing.issue_of(current_user, issue_id)
    form = SendForm()
    if not form.validate_on_submit():
        return issue_page_response(issue, status=400)
    if not form.confirmed.data:
        return render_template("admin/discard_confirm.html", issue=issue, newsletter=issue.newsletter, form=form)
    try:
        publishing.discard(issue)
    except DomainError as error:
        db.session.rollback()
        flash(error.message)
        return issue_page_response(issue, status=409)
    db.session.commit()
    flash(_("“%(subject)s” is discarded. You can restore it from this list for 30 days.",
            subject=issue.subject or _("(no subject)")))
    return redirect(url_for(".newsletter_overview", slug=issue.newsletter.slug))


@admin.post("/issues/<int:issue_id>/restore")
def issue_restore(issue_id: int):
    issue = publishing.issue_of(current_user, issue_id)
    if SendForm().validate_on_submit():
        try:
            publishing.restore(issue)
        except DomainError as error:
            db.session.rollback()
            flash(error.message)
            return redirect(url_for(".newsletter_overview", slug=issue.newsletter.slug))
        db.session.commit()
        flash(_("The issue is a draft again."))
    return redirect(url_for(".issue_page", issue_id=issue.id))


@admin.get("/issues/<int:issue_id>/progress.json")
def issue_progress(issue_id: int):
    issue = publishing.issue_of(current_user, issue_id)
    return jsonify(publishing.progress(issue))


def _ask_once_more(issue, form, check, errors: list, kind: str, when=None):
    """Run the check without keeping anything, then show the confirmation page with the exact count."""
    try:
        check()
    except DomainError as error:
        errors.append(_refusal_message(error))
        db.session.rollback()
        return issue_page_response(issue, **{f"{kind}_form": form}, status=400)
    db.session.rollback()  # the check may have changed the issue in the session: the real change comes next
    return render_template("admin/send_confirm.html", issue=issue, newsletter=issue.newsletter, form=form,
                           kind=kind, when=when, zone=timezones.zone_of(current_user),
                           recipients=publishing.recipient_count(issue))


def _already_on_its_way(issue):
    """A send or schedule from a stale tab: say where the issue stands instead of refusing the form."""
    flash(_("This issue was already sent or scheduled (perhaps from another tab): nothing more was done."))
    return redirect(url_for(".issue_page", issue_id=issue.id), 303)


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
