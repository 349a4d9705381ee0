"""Who may see what: one place for the role checks of admin pages."""

from functools import wraps

from flask import abort
from flask_login import current_user


def admin_required(view):
    """Admins only; everyone else gets 404, so the page's existence is not revealed."""

    @wraps(view)
    def wrapped(*args, **kwargs):
        if not current_user.is_authenticated or not current_user.is_admin:
            abort(404)
        return view(*args, **kwargs)

    return wrapped
