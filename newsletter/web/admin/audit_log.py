"""The admin's view of the audit log: newest first, filtered by person, action and channel, 50 a page."""

from flask import render_template, request

from ... import audit
from ...extensions import db
from . import admin
from .access import admin_required

MAX_ID = 2147483647


@admin.get("/audit")
@admin_required
def audit_log():
    user_id = request.args.get("user", type=int)
    action = (request.args.get("action") or "")[:80]
    channel = request.args.get("via") if request.args.get("via") in audit.CHANNELS else ""
    before = request.args.get("before", type=int)
    page = audit.entries(user_id=user_id if user_id and 0 < user_id <= MAX_ID else None, action=action or None,
                         channel=channel or None, before=before if before and 0 < before <= MAX_ID else None)
    people, actions = audit.people(), audit.actions()
    db.session.commit()
    return render_template("admin/audit.html", page=page, people=people, actions=actions, user_id=user_id,
                           action=action, channel=channel)
