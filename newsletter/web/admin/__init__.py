"""Publisher and admin pages, under /admin, behind a login."""

from flask import Blueprint
from flask_login import login_required

admin = Blueprint("admin", __name__, url_prefix="/admin")


@admin.before_request
@login_required
def require_login():
    """Every admin page needs a logged-in user; admin-only pages check the role themselves."""


from . import (  # noqa: E402,F401  (views register on the blueprint)
    audit_log, branding, dashboard, domains, exports, imports, issues, newsletters, outbox, readers, send, share, stats,
    suppressed, tokens, two_factor, uploads, users, zone,
)
