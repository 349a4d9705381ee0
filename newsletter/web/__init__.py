"""Blueprints and what every page shares: locale, security headers, error pages."""

from flask import Flask, current_app, g, has_request_context, render_template, request
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

from ..errors import DomainError
from ..extensions import csrf, db, login_manager
from ..models import LANGUAGES, User

SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    # Links carry tokens: never leak them to another site through Referer.
    "Referrer-Policy": "same-origin",
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
        "frame-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'"
    ),
}


def init_app(app: Flask) -> None:
    """Register blueprints, hooks and error pages."""
    from . import account, api, public, webhooks
    from .admin import admin

    app.register_blueprint(public.bp)
    app.register_blueprint(account.bp)
    app.register_blueprint(admin)
    app.register_blueprint(webhooks.bp)
    app.register_blueprint(api.bp)
    csrf.exempt(api.bp)  # the API authenticates by bearer token only, never by the session cookie
    app.after_request(add_security_headers)
    app.before_request(start_sender_once)
    app.context_processor(lambda: {"current_locale": lambda: str(get_locale() or "en")})
    register_error_pages(app)
    login_manager.login_view = "account.login"
    login_manager.session_protection = "strong"
    login_manager.user_loader(load_user)


def select_locale() -> str:
    """The newsletter's language on reader pages; the browser's preference elsewhere."""
    if getattr(g, "locale", None) in LANGUAGES:
        return g.locale
    if not has_request_context():
        return "en"
    return request.accept_languages.best_match(LANGUAGES) or "en"


def load_user(user_id: str) -> User | None:
    ident, _, nonce = user_id.partition(":")
    if not ident.isdigit():
        return None
    user = db.session.get(User, int(ident))
    return user if user is not None and user.session_nonce == nonce else None


def add_security_headers(response):
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    return response


def start_sender_once() -> None:
    if current_app.config.get("START_SENDER"):
        current_app.extensions["newsletter.runner"].start()


def register_error_pages(app: Flask) -> None:
    """Every error is a page that says what happened; never a stack trace."""
    from . import api

    @app.errorhandler(DomainError)
    def domain_error(error: DomainError):
        return render_template("error.html", code=error.status, message=error.message), error.status

    @app.errorhandler(CSRFError)
    def csrf_error(error: CSRFError):
        message = _("This form has expired. Go back, reload the page and try again.")
        return render_template("error.html", code=400, message=message), 400

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException):
        if api.is_api_request():  # errors found before any API view (unknown path, wrong method) are JSON too
            return api.http_error_response(error)
        return render_template("error.html", code=error.code), error.code

    @app.errorhandler(Exception)
    def unexpected(error: Exception):
        app.logger.exception("unexpected error on %s %s", request.method, request.path)
        db.session.rollback()
        if api.is_api_request():
            return api.error_response(500, "internal_error", "Something went wrong on our side; it is logged.")
        return render_template("error.html", code=500), 500
