"""The application factory: configuration, extensions, blueprints, CLI; nothing else."""

import os
from pathlib import Path

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from . import logs
from .config import ConfigError, read_settings
from .extensions import babel, csrf, db, limiter, login_manager, mail, migrate

PROJECT_ROOT = Path(__file__).resolve().parent.parent

__all__ = ["create_app", "ConfigError"]


def create_app(config: dict | None = None) -> Flask:
    """Build the app. `config` overrides environment variables (validated the same way) and Flask keys."""
    overrides = {key: str(value) for key, value in (config or {}).items() if key.isupper()}
    instance_path = overrides.get("INSTANCE_PATH") or os.environ.get("INSTANCE_PATH") or PROJECT_ROOT / "instance"
    app = Flask(
        __name__,
        instance_path=str(Path(instance_path).resolve()),
        template_folder=str(PROJECT_ROOT / "templates"),
        static_folder=str(PROJECT_ROOT / "static"),
    )
    app.config.update(read_settings({**os.environ, **overrides}, app.instance_path))
    app.config.update(flask_settings(app.config))
    app.config.update({k: v for k, v in (config or {}).items() if k in FLASK_ONLY_KEYS})
    Path(app.instance_path).mkdir(parents=True, exist_ok=True)
    logs.init_app(app)  # first: its request hooks then see every request, even one an extension answers
    if app.config["TRUSTED_PROXIES"]:
        n = app.config["TRUSTED_PROXIES"]
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=n, x_proto=n, x_host=n)
    init_extensions(app)
    register_blueprints(app)
    return app


# Keys a test or an embedding may set directly; everything else goes through read_settings.
FLASK_ONLY_KEYS = {"TESTING", "WTF_CSRF_ENABLED", "RATELIMIT_ENABLED", "SERVER_NAME", "START_SENDER"}


def flask_settings(config: dict) -> dict:
    """Flask and extension keys derived from our settings."""
    secure = config["BASE_URL"].startswith("https://")
    return {
        "SQLALCHEMY_DATABASE_URI": config["DATABASE_URL"],
        "SQLALCHEMY_ENGINE_OPTIONS": engine_options(config["DATABASE_URL"]),
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_SECURE": secure,
        "REMEMBER_COOKIE_SECURE": secure,
        "REMEMBER_COOKIE_HTTPONLY": True,
        "PERMANENT_SESSION_LIFETIME": 12 * 3600,
        "BABEL_DEFAULT_LOCALE": "en",
        "BABEL_TRANSLATION_DIRECTORIES": str(PROJECT_ROOT / "translations"),
        "RATELIMIT_STORAGE_URI": config["REDIS_URL"] or "memory://",
        "RATELIMIT_HEADERS_ENABLED": True,
        "WTF_CSRF_TIME_LIMIT": None,  # the token lives as long as the session
        "START_SENDER": True,
        # Flask-Mail would suppress sending whenever TESTING is on, and print sessions (AUTH included) in debug.
        "MAIL_SUPPRESS_SEND": False,
        "MAIL_DEBUG": 0,
    }


def engine_options(url: str) -> dict:
    if url.startswith("sqlite"):
        return {"connect_args": {"timeout": 30, "check_same_thread": False}}
    return {"pool_pre_ping": True, "pool_size": 10, "max_overflow": 10}


def init_extensions(app: Flask) -> None:
    from . import database, web
    from .sending.runner import make_runner
    from .web import body_limits

    body_limits.init_app(app)  # before CSRF's hook, which reads the form
    db.init_app(app)
    with app.app_context():
        database.configure_engine(db.engine)
    migrate.init_app(app, db, directory=str(PROJECT_ROOT / "migrations"), render_as_batch=True)
    mail.init_app(app)
    csrf.init_app(app)
    login_manager.init_app(app)
    babel.init_app(app, locale_selector=web.select_locale, timezone_selector=web.select_timezone)
    limiter.init_app(app)
    app.extensions["newsletter.runner"] = make_runner(app)


def register_blueprints(app: Flask) -> None:
    from . import cli, web

    web.init_app(app)
    cli.init_app(app)
