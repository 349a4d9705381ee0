"""Blueprints and what every page shares: locale, security headers, error pages."""

from urllib.parse import urlsplit

from flask import Flask, current_app, g, has_request_context, render_template, request
from flask_babel import get_locale, get_timezone
from flask_babel import gettext as _
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

from ..errors import DomainError
from .body_limits import BodyTooLarge
from ..extensions import csrf, db, login_manager
from ..models import LANGUAGES, User
from .api_errors import error_response, http_error_response, is_api_request

SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    # Links carry tokens: never leak them to another site through Referer.
    "Referrer-Policy": "same-origin",
}
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; img-src {images}; style-src 'self'; script-src 'self'; "
    "frame-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'"
)


def init_app(app: Flask) -> None:
    """Register blueprints, hooks and error pages."""
    from . import account, api, auditing, converters, formatting, health, public, webhooks
    from .admin import admin

    converters.init_app(app)
    app.register_blueprint(public.bp)
    app.register_blueprint(account.bp)
    app.register_blueprint(admin)
    app.register_blueprint(webhooks.bp)
    app.register_blueprint(api.bp)
    app.register_blueprint(health.bp)
    csrf.exempt(api.bp)  # the API authenticates by bearer token only, never by the session cookie
    app.after_request(add_security_headers)
    auditing.register(app)
    formatting.register(app)
    app.before_request(start_sender_once)
    app.context_processor(lambda: {"current_locale": lambda: str(get_locale() or "en"),
                                   "current_zone": lambda: str(get_timezone())})
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


def select_timezone() -> str:
    """Publishers read times in their own zone; reader pages and mails in UTC (they show dates, not times)."""
    from flask_login import current_user

    from ..timezones import zone_of

    if has_request_context() and request.blueprint == "admin" and current_user.is_authenticated:
        return zone_of(current_user)
    return "UTC"


def load_user(user_id: str) -> User | None:
    ident, _, nonce = user_id.partition(":")
    if not ident.isdigit():
        return None
    user = db.session.get(User, int(ident))
    return user if user is not None and user.session_nonce == nonce else None


# Pages about one person (a publisher's, a reader's) that no shared or browser cache may keep.
PRIVATE_BLUEPRINTS = {"admin", "account", "api"}
PRIVATE_READER_PAGES = ("public.preferences", "public.confirm", "public.unsubscribe", "public.renew",
                        "public.download", "public.erase")
HSTS = "max-age=31536000"  # a year; subdomains are not ours to decide


def add_security_headers(response):
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    response.headers.setdefault("Content-Security-Policy", content_security_policy())
    if current_app.config["BASE_URL"].startswith("https://"):
        response.headers.setdefault("Strict-Transport-Security", HSTS)
    if _is_private_page():
        response.headers["Cache-Control"] = "no-store"
    return response


def _is_private_page() -> bool:
    endpoint = request.endpoint or ""
    return request.blueprint in PRIVATE_BLUEPRINTS or endpoint.startswith(PRIVATE_READER_PAGES)


def allow_images_from(origins) -> None:
    """Let this page show images from these https origins (an issue's own images), beside our media."""
    request.environ["newsletter.image_origins"] = sorted(set(_image_origins()) | set(origins))


def _media_origin() -> list[str]:
    # Uploaded images may be served from elsewhere (MEDIA_URL: a CDN, a bucket); every page may show them.
    parts = urlsplit(current_app.config.get("MEDIA_URL") or "")
    return [f"{parts.scheme}://{parts.netloc}"] if parts.netloc else []


def _image_origins() -> list[str]:
    # Kept with the request, not in `g`: an app context (and its `g`) may outlive one request.
    return request.environ.get("newsletter.image_origins", []) if has_request_context() else []


def content_security_policy() -> str:
    """The page's policy: our own files, data: images, the media origin and the page's declared image origins."""
    images = ["'self'", "data:", *_media_origin(), *_image_origins()]
    return CONTENT_SECURITY_POLICY.format(images=" ".join(dict.fromkeys(images)))


def start_sender_once() -> None:
    if current_app.config.get("START_SENDER"):
        current_app.extensions["newsletter.runner"].start()


def _error_headers(error: HTTPException) -> dict:
    """What the error itself says beside its page: Allow on a 405 (RFC 9110), Retry-After on a 429..."""
    return {name: value for name, value in error.get_headers() if name.lower() != "content-type"}


def register_error_pages(app: Flask) -> None:
    """Every error is a page that says what happened; never a stack trace."""

    @app.errorhandler(DomainError)
    def domain_error(error: DomainError):
        return render_template("error.html", code=error.status, message=error.message), error.status

    @app.errorhandler(CSRFError)
    def csrf_error(error: CSRFError):
        message = _("This form has expired. Go back, reload the page and try again.")
        return render_template("error.html", code=400, message=message), 400

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException):
        if is_api_request() or request.blueprint == "webhooks":  # JSON, even before any view runs
            return http_error_response(error)
        message = error.description if isinstance(error, BodyTooLarge) else None
        return render_template("error.html", code=error.code, message=message), error.code, _error_headers(error)

    @app.errorhandler(Exception)
    def unexpected(error: Exception):
        app.logger.exception("unexpected error on %s %s", request.method, request.path)
        db.session.rollback()
        if is_api_request():
            return error_response(500, "internal_error", "Something went wrong on our side; it is logged.")
        return render_template("error.html", code=500), 500
