"""Who may see what: one place for the role and ownership checks of admin pages.

Anything that is not yours answers 404, never 403, so ids and slugs cannot be probed.
"""

from functools import wraps

from flask import abort
from flask_login import current_user

from ... import publishing
from ...models import Newsletter


def admin_required(view):
    """Admins only; everyone else gets 404, so the page's existence is not revealed."""

    @wraps(view)
    def wrapped(*args, **kwargs):
        if not current_user.is_authenticated or not current_user.is_admin:
            abort(404)
        return view(*args, **kwargs)

    return wrapped


def newsletter_for(slug: str) -> Newsletter:
    """The newsletter if the logged-in user owns it or is an admin; NotFound (a 404 page) otherwise."""
    return publishing.newsletter_of(current_user, slug)
