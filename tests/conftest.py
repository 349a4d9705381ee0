"""Fixtures: an app per test on SQLite (default) or PostgreSQL (TEST_DATABASE_URL), a real SMTP server."""

import os
import re

import pytest
from flask_migrate import upgrade
from sqlalchemy import create_engine, text

from newsletter import create_app
from newsletter.extensions import db
from tests.support.smtp_server import SmtpServer

TEST_DATABASE_URL = os.environ.get("TEST_DATABASE_URL", "")
SECRET = "test-secret-key-not-for-production"


def base_config(tmp_path, database_url: str, smtp_port: int | None) -> dict:
    config = {
        "NEWSLETTER_ENV": "testing",
        "SECRET_KEY": SECRET,
        "DATABASE_URL": database_url,
        "INSTANCE_PATH": str(tmp_path / "instance"),
        "BASE_URL": "https://news.example.test",
        "MAIL_BACKEND": "smtp" if smtp_port else "outbox",
        "MAIL_SERVER": "127.0.0.1",
        "MAIL_PORT": str(smtp_port or 25),
        "MAIL_TIMEOUT": "5",
        "SUBSCRIBE_RATE_LIMIT": "1000/minute",
        "SUBSCRIBE_NEW_ADDRESSES_PER_IP": "1000/minute",
        "SUBSCRIBE_ATTEMPTS_PER_ADDRESS": "1000/minute",
        "SUBSCRIBE_ATTEMPTS_PER_NEWSLETTER": "1000/minute",
        "SUBSCRIBE_ANSWER_SECONDS": "0",  # the floor is tested on its own; elsewhere it only slows the suite
        # Hashing is slow on purpose; the tests create hundreds of accounts (test_cli checks the default).
        "PASSWORD_HASH_METHOD": "pbkdf2:sha256:1000",
        "TESTING": True,
    }
    return config


@pytest.fixture(scope="session")
def database_url(tmp_path_factory) -> str:
    """One migrated database for the session; tests empty its tables afterwards."""
    if TEST_DATABASE_URL:
        url = TEST_DATABASE_URL
        engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
        with engine.begin() as connection:
            connection.execute(text("DROP SCHEMA public CASCADE"))
            connection.execute(text("CREATE SCHEMA public"))
        engine.dispose()
    else:
        url = "sqlite:///" + str(tmp_path_factory.mktemp("db") / "test.db")
    app = create_app(base_config(tmp_path_factory.mktemp("migrate"), url, None))
    with app.app_context():
        upgrade()
        db.engine.dispose()
    return url


@pytest.fixture(scope="session")
def dns_server():
    """A real DNS server on loopback; tests publish the TXT records they need into its zone."""
    from tests.support.dns_server import DnsServer

    server = DnsServer().start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def smtp_server():
    server = SmtpServer().start()
    yield server
    server.stop()


@pytest.fixture
def smtp(smtp_server):
    """The SMTP server, emptied for this test."""
    recorder = smtp_server.recorder
    with recorder.condition:
        recorder.messages.clear()
        recorder.opened_sessions = 0
        recorder.replies.clear()
        recorder.mail_script.clear()
        recorder.domain_replies.clear()
        recorder.refused_rcpts.clear()
        recorder.on_message = None
        recorder.pipelining = True
        recorder.max_sessions = recorder.peak_sessions = recorder.refused_sessions = 0
    yield recorder
    recorder.on_message = None


@pytest.fixture
def make_app(tmp_path, database_url, smtp_server):
    apps = []

    def factory(**overrides):
        config = base_config(tmp_path, database_url, smtp_server.port)
        config.update(overrides)
        app = create_app(config)
        apps.append(app)
        return app

    yield factory
    for app in apps:
        app.extensions["newsletter.runner"].stop()
        with app.app_context():
            db.session.remove()
            empty_tables()
            db.engine.dispose()


def empty_tables() -> None:
    tables = [t.name for t in reversed(db.metadata.sorted_tables)]
    with db.engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            connection.execute(text("TRUNCATE " + ", ".join(tables) + " RESTART IDENTITY CASCADE"))
        else:
            for table in tables:
                connection.execute(text(f"DELETE FROM {table}"))


@pytest.fixture
def app(make_app, smtp):
    """An app with an app context pushed for the whole test, and no sender thread.

    Requests of the test client share the test's database session, so a single thread sees one
    consistent state. Tests that need mail delivered use `live_app` instead.
    """
    app = make_app(START_SENDER=False)
    with app.app_context():
        yield app


@pytest.fixture
def live_app(make_app, smtp):
    """An app whose sender thread runs, as in production. No app context is held by the test:
    use `with live_app.app_context():` for short looks at the database (SQLite lets one writer at a time)."""
    app = make_app(START_SENDER=True)
    app.extensions["newsletter.runner"].start()  # as a web process's first request does
    with app.app_context():
        create_demo_newsletter()
    return app


@pytest.fixture
def browser_app(make_app, smtp):
    """An app with no app context held by the test, and an admin (admin@example.org, "an admin password").

    Each request has its own `g`, as under a real server: Flask-Login and Flask-WTF keep the request's user
    and CSRF token in `g`, which a held context would share between test clients (browsers)."""
    from newsletter import accounts

    app = make_app(START_SENDER=False)
    with app.app_context():
        accounts.create_user("admin@example.org", "an admin password", admin=True)
        db.session.commit()
    return app


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def live_client(live_app):
    return live_app.test_client()


def create_publisher(email: str = "maya@example.org"):
    from newsletter import accounts

    user = accounts.create_user(email, "a long enough password")
    db.session.commit()
    return user


def create_demo_newsletter(slug: str = "slow-mornings", language: str = "en", owner: str = "maya@example.org"):
    from newsletter import newsletters
    from newsletter.models import User
    from sqlalchemy import select

    if db.session.scalar(select(User).where(User.email == owner)) is None:
        create_publisher(owner)
    item = newsletters.create_newsletter(
        owner, slug=slug, name="Slow Mornings" if language == "en" else "Carnet d'atelier",
        from_email=owner, from_name="Maya" if language == "en" else "Hélène Côté",
        description="Notes on breathing.", cadence="fortnightly", language=language)
    db.session.commit()
    return item


@pytest.fixture
def publisher(app):
    return create_publisher()


@pytest.fixture
def newsletter(app, publisher):
    return create_demo_newsletter()


def csrf_token(client, url: str) -> str:
    """GET a page and return the CSRF token of its first form."""
    page = client.get(url)
    match = re.search(rb'name="csrf_token" type="hidden" value="([^"]+)"', page.data) or \
        re.search(rb'name="csrf_token" value="([^"]+)"', page.data)
    assert match, f"no CSRF token on {url} ({page.status_code})"
    return match.group(1).decode()


def link_in(message, pattern: str) -> str:
    """The first URL in the text part of a message that matches a pattern."""
    text = message.get_body(("plain",)).get_content()
    match = re.search(r"https?://\S*" + pattern + r"\S*", text)
    assert match, f"no link matching {pattern!r} in:\n{text}"
    return match.group(0)


@pytest.fixture(scope="session")
def redis_url() -> str:
    """The local Redis, or a skip that says it is absent."""
    import redis

    url = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
    try:
        redis.Redis.from_url(url, socket_connect_timeout=1).ping()
    except redis.RedisError as error:
        pytest.skip(f"Redis is not reachable at {url} ({error}); start it to run this test")
    return url


@pytest.fixture(scope="session")
def browser():
    """One Chromium (Debian's, driven by Playwright) for the whole session; tests open their own contexts."""
    from tests.support.browser import CHROMIUM, launch_browser

    if not CHROMIUM.exists():
        pytest.skip("needs Debian's chromium: apt-get install -y chromium")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = launch_browser(playwright)
        yield chromium
        chromium.close()


@pytest.fixture
def server(make_app, smtp):
    """The app served over real HTTP from a thread, with a publisher and a newsletter; BASE_URL is that server."""
    from tests.support.browser import serve

    app = make_app(START_SENDER=False)
    httpd, thread, base = serve(app)
    with app.app_context():
        create_demo_newsletter()
    yield app, base
    httpd.shutdown()
    thread.join(5)
