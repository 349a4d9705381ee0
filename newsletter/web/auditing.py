"""The one hook that writes the audit log for requests: every action (a POST that succeeded) of a logged-in admin
or publisher on the admin pages, their logins and logouts, and every write through the API that succeeded
(as the token's owner, naming the token), with who, what, on what, when and from where. Only the route's own
arguments (ids, slugs) are kept as the target: never a body, so no reader's address and no secret.

A hook rather than a call in each view, so no new action can be forgotten; audit.record is the one writer.
(The command line writes its lines in cli.py.)
"""

import logging

from flask import Flask, g, request
from flask_login import current_user

from .. import audit
from ..extensions import db

log = logging.getLogger(__name__)
AUDITED_BLUEPRINTS = {"admin", "account"}
WRITE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}
# Saved while typing, or only shown: not actions a person decided on.
NOT_ACTIONS = {"admin.new_issue_autosave", "admin.issue_autosave", "admin.branding_preview"}


def register(app: Flask) -> None:
    app.before_request(_remember_who_logs_out)
    app.after_request(_record_action)


def _remember_who_logs_out() -> None:
    # After logout_user() the request no longer knows who it was.
    if request.endpoint == "account.logout" and current_user.is_authenticated:
        g.audit_actor = current_user._get_current_object()


def _record_action(response):
    if request.method not in WRITE_METHODS or response.status_code >= 400 or request.endpoint in NOT_ACTIONS:
        return response
    if request.blueprint in AUDITED_BLUEPRINTS:
        actor, target, channel = _person(), _target(), audit.WEB
    elif request.blueprint == "api" and g.get("api_token") is not None:
        token = g.api_token
        actor, target, channel = token.user, ", ".join(filter(None, (_target(), f"token={token.id}"))), audit.API
    else:
        return response
    if actor is None:  # a failed login, or the password step of a two-factor login
        return response
    try:
        audit.record(actor, _action(), target, request.remote_addr, channel)
        db.session.commit()
    except Exception:  # the action is done; a lost log line must not turn it into an error page
        db.session.rollback()
        log.exception("could not write the audit log for %s", request.endpoint)
    return response


def _person():
    return g.pop("audit_actor", None) or (current_user._get_current_object()
                                         if current_user.is_authenticated else None)


def _action() -> str:
    args = request.view_args or {}
    return request.endpoint + (f":{args['action']}" if isinstance(args.get("action"), str) else "")


def _target() -> str:
    args = {key: value for key, value in (request.view_args or {}).items() if key != "action"}
    return ", ".join(f"{key}={value}" for key, value in sorted(args.items()))
