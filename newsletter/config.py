"""Settings read from the environment (and an optional .env file), validated in one place.

An invalid value stops start-up with one line naming the variable and what it accepts.
"""

import ipaddress
import os
import re
import secrets
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from limits import parse_many

from .addresses import has_header_breaker, normalise_address
from .errors import InvalidAddress

TRUE_WORDS = {"1", "true", "yes", "on"}
FALSE_WORDS = {"0", "false", "no", "off", ""}


class ConfigError(Exception):
    """A setting is missing or invalid; the message names the variable and the accepted values."""


@dataclass(frozen=True)
class Setting:
    name: str
    default: str | None
    parse: object  # callable(str) -> value, raising ValueError with the accepted values


def parse_bool(raw: str) -> bool:
    word = raw.strip().lower()
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    raise ValueError("use one of: true, false, 1, 0, yes, no")


def parse_choice(*choices: str):
    def parse(raw: str) -> str:
        value = raw.strip().lower()
        if value not in choices:
            raise ValueError("use one of: " + ", ".join(choices))
        return value

    return parse


def parse_int(low: int, high: int | None = None):
    def parse(raw: str) -> int:
        try:
            value = int(raw.strip())
        except ValueError:
            value = None
        if value is None or value < low or (high is not None and value > high):
            accepted = f"from {low} to {high}" if high is not None else f"of at least {low}"
            raise ValueError(f"use a whole number {accepted}")
        return value

    return parse


def parse_rate(raw: str) -> float:
    try:
        value = float(raw.strip())
    except ValueError:
        value = -1.0
    if not value >= 0 or value == float("inf"):
        raise ValueError("use a number of messages per second, 0 for unlimited")
    return value


def parse_rate_limits(raw: str) -> str:
    """Flask-Limiter's notation, checked now rather than at the first request."""
    value = parse_text(raw)
    try:
        parse_many(value)
    except ValueError:
        raise ValueError("use counts per period separated by ';', like 10/minute;60/hour") from None
    return value


def parse_seconds(raw: str) -> float:
    try:
        value = float(raw.strip())
    except ValueError:
        value = -1.0
    if not 0 <= value <= 5:
        raise ValueError("use a number of seconds between 0 and 5, like 0.15")
    return value


def parse_url(*schemes: str):
    def parse(raw: str) -> str:
        value = raw.strip()
        parts = urlsplit(value)
        if parts.scheme not in schemes or not parts.netloc or has_header_breaker(value):
            raise ValueError("use a URL starting with " + " or ".join(f"{s}://" for s in schemes))
        return value.rstrip("/")

    return parse


def parse_database_url(raw: str) -> str:
    value = raw.strip()
    if value.startswith("postgres://"):
        raise ValueError("write postgresql+psycopg://user@host/db (not postgres://)")
    if value.startswith("postgresql://"):
        # psycopg 3 is the driver we ship; plain postgresql:// would ask SQLAlchemy for psycopg2.
        value = "postgresql+psycopg://" + value[len("postgresql://"):]
    if not (value.startswith("sqlite:///") or value.startswith("postgresql+psycopg://")):
        raise ValueError("use sqlite:///path/to/file.db or postgresql+psycopg://user:password@host/database")
    return value


def parse_sender(raw: str) -> str:
    value = raw.strip()
    if has_header_breaker(value) or "@" not in value:
        raise ValueError("use an address like 'Name <news@example.org>' or news@example.org, on one line")
    return value


def parse_address(raw: str) -> str:
    try:
        return normalise_address(raw)
    except InvalidAddress:
        raise ValueError("use a plain address like bounces@news.example.org") from None


def parse_domain(raw: str) -> str:
    value = raw.strip().rstrip(".")
    if not value:
        return ""
    try:
        return normalise_address("postmaster@" + value).rpartition("@")[2]
    except InvalidAddress:
        raise ValueError("use a domain name like news.example.org, or nothing") from None


_DNS_NAME = re.compile(r"(?=.{1,253}$)(?:[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}")


def parse_dns_name(raw: str) -> str:
    value = raw.strip().rstrip(".").lower()
    if value and not _DNS_NAME.fullmatch(value):
        raise ValueError("use a DNS name like _spf.relay.example.net, or nothing")
    return value


def parse_resolver(raw: str) -> str:
    value = raw.strip()
    if not value:
        return ""
    host, port = value, "53"
    if value.startswith("["):
        host, _, rest = value[1:].partition("]")
        port = rest[1:] if rest.startswith(":") else ("53" if not rest else "x")
    elif value.count(":") == 1:
        host, _, port = value.partition(":")
    try:
        ipaddress.ip_address(host)
        if not 1 <= int(port) <= 65535:
            raise ValueError
    except ValueError:
        raise ValueError("use a resolver's IP address with an optional port: 127.0.0.1:5353, [::1]:53 or 9.9.9.9; "
                         "empty for the system's resolver") from None
    return value


def parse_text(raw: str) -> str:
    if has_header_breaker(raw):
        raise ValueError("use a value on one line, without control characters")
    return raw.strip()


def parse_hash_method(raw: str) -> str:
    value = raw.strip()
    if not (value == "scrypt" or value.startswith(("scrypt:", "pbkdf2:sha256"))):
        raise ValueError("use scrypt (the default), scrypt:N:r:p or pbkdf2:sha256:ITERATIONS")
    return value


def parse_path(raw: str) -> str:
    path = Path(raw.strip())
    if not path.is_file():
        raise ValueError("use the path of a readable file")
    return str(path)


SETTINGS = (
    Setting("NEWSLETTER_ENV", "production", parse_choice("production", "development", "testing")),
    Setting("SECRET_KEY", None, parse_text),
    Setting("DATABASE_URL", None, parse_database_url),
    Setting("BASE_URL", "http://127.0.0.1:5000", parse_url("http", "https")),
    Setting("MAIL_BACKEND", "outbox", parse_choice("outbox", "smtp")),
    Setting("MAIL_SERVER", "localhost", parse_text),
    Setting("MAIL_PORT", "25", parse_int(1, 65535)),
    Setting("MAIL_USERNAME", "", parse_text),
    Setting("MAIL_PASSWORD", "", parse_text),
    Setting("MAIL_USE_TLS", "false", parse_bool),
    Setting("MAIL_USE_SSL", "false", parse_bool),
    Setting("MAIL_DEFAULT_SENDER", "newsletter@localhost", parse_sender),
    Setting("MAIL_TIMEOUT", "30", parse_int(1, 600)),
    Setting("MAIL_FALLBACK_SERVER", "", parse_text),
    Setting("MAIL_FALLBACK_PORT", "25", parse_int(1, 65535)),
    Setting("MAIL_FALLBACK_USERNAME", "", parse_text),
    Setting("MAIL_FALLBACK_PASSWORD", "", parse_text),
    Setting("MAIL_FALLBACK_USE_TLS", "false", parse_bool),
    Setting("MAIL_FALLBACK_USE_SSL", "false", parse_bool),
    Setting("SEND_CONNECTIONS", "8", parse_int(1, 64)),
    Setting("SEND_FALLBACK_CONNECTIONS", "4", parse_int(1, 64)),
    Setting("CELERY_BROKER_URL", "", lambda raw: parse_url("redis", "rediss")(raw) if raw.strip() else ""),
    Setting("REDIS_URL", "", lambda raw: parse_url("redis", "rediss")(raw) if raw.strip() else ""),
    Setting("SEND_RATE_PER_SECOND", "0", parse_rate),
    Setting("CONFIRM_TOKEN_MAX_AGE", str(7 * 24 * 3600), parse_int(60)),
    Setting("CONFIRM_MAILS_PER_HOUR", "3", parse_int(1, 100)),
    Setting("PREFERENCES_LINK_MAX_AGE", str(90 * 24 * 3600), parse_int(3600)),
    Setting("REQUIRE_TWO_FACTOR_FOR_ADMINS", "false", parse_bool),
    Setting("SUBSCRIBE_RATE_LIMIT", "10/minute;60/hour", parse_rate_limits),
    Setting("SUBSCRIBE_NEW_ADDRESSES_PER_IP", "50/minute;200/hour", parse_rate_limits),
    Setting("SUBSCRIBE_ATTEMPTS_PER_ADDRESS", "10/hour", parse_rate_limits),
    Setting("SUBSCRIBE_ATTEMPTS_PER_NEWSLETTER", "120/minute;1000/hour", parse_rate_limits),
    Setting("SUBSCRIBE_ANSWER_SECONDS", "0.15", parse_seconds),
    Setting("DKIM_PRIVATE_KEY_FILE", "", lambda raw: parse_path(raw) if raw.strip() else ""),
    Setting("DKIM_SELECTOR", "", parse_text),
    Setting("DKIM_DOMAIN", "", parse_text),
    Setting("SENDING_DOMAIN", "", parse_domain),
    Setting("DNS_RESOLVER", "", parse_resolver),
    Setting("SPF_INCLUDE", "", parse_dns_name),
    Setting("DMARC_REPORT_ADDRESS", "", lambda raw: parse_address(raw) if raw.strip() else ""),
    Setting("SEND_BATCH_SIZE", "1000", parse_int(1, 10000)),
    Setting("SEND_LEASE_SECONDS", "300", parse_int(1, 86400)),
    Setting("SEND_HEARTBEAT_GRACE", "30", parse_int(1, 3600)),
    Setting("SEND_WINDOW", "16", parse_int(1, 1000)),
    Setting("SEND_RETRY_BASE_SECONDS", "30", parse_rate),
    Setting("SEND_MAX_ATTEMPTS", "8", parse_int(1, 50)),
    Setting("SEND_MAX_CONSECUTIVE_FAILURES", "50", parse_int(1, 100000)),
    Setting("SEND_HOLD_DOMAIN_AFTER", "5", parse_int(1, 100000)),
    Setting("SEND_PARALLEL_TASKS", "4", parse_int(1, 256)),
    Setting("BOUNCE_ADDRESS", "", lambda raw: parse_address(raw) if raw.strip() else ""),
    Setting("SES_TOPIC_ARNS", "", parse_text),
    Setting("POSTMARK_WEBHOOK_USER", "", parse_text),
    Setting("POSTMARK_WEBHOOK_PASSWORD", "", parse_text),
    Setting("MAILGUN_SIGNING_KEY", "", parse_text),
    Setting("IMAP_URL", "", lambda raw: parse_url("imap", "imaps")(raw) if raw.strip() else ""),
    Setting("SOFT_BOUNCE_LIMIT", "3", parse_int(1, 100)),
    Setting("SOFT_BOUNCE_WINDOW_DAYS", "30", parse_int(1, 365)),
    Setting("PASSWORD_HASH_METHOD", "scrypt", lambda raw: parse_hash_method(raw)),
    Setting("TRUSTED_PROXIES", "0", parse_int(0, 5)),
    Setting("IMPORT_MAX_BYTES", str(200 * 1024 * 1024), parse_int(1024)),
    Setting("IMPORT_PENDING_UPLOADS", "3", parse_int(1, 1000)),
    Setting("EXPORT_PENDING_JOBS", "2", parse_int(1, 100)),
    Setting("MEDIA_URL", "", lambda raw: parse_url("http", "https")(raw) if raw.strip() else ""),
    Setting("MEDIA_MAX_BYTES", str(10 * 1024 * 1024), parse_int(1024, 100 * 1024 * 1024)),
    Setting("MEDIA_MAX_SIDE", "2000", parse_int(100, 10000)),
    Setting("LOG_FORMAT", "text", parse_choice("text", "json")),
)


def read_settings(environ: dict | None = None, instance_path: str = "instance") -> dict:
    """Validate every setting and return Flask config keys; raise ConfigError on the first bad one."""
    environ = dict(os.environ if environ is None else environ)
    config: dict = {}
    for setting in SETTINGS:
        raw = environ.get(setting.name)
        if raw is None:
            raw = setting.default
        if raw is None:
            config[setting.name] = None
            continue
        try:
            config[setting.name] = setting.parse(raw)
        except ValueError as exc:
            raise ConfigError(f"{setting.name}={raw.strip()[:60]!r} is not valid: {exc}.") from None
    finish_settings(config, instance_path)
    return config


def finish_settings(config: dict, instance_path: str) -> None:
    """Fill derived values and check the rules that involve several settings."""
    env = config["NEWSLETTER_ENV"]
    if not config["SECRET_KEY"]:
        if env == "production":
            raise ConfigError(
                "SECRET_KEY is missing: set it to a long random string "
                "(python -c 'import secrets; print(secrets.token_urlsafe(48))'), "
                "or set NEWSLETTER_ENV=development on a developer machine."
            )
        config["SECRET_KEY"] = development_secret(instance_path)
    if config["MAIL_USE_TLS"] and config["MAIL_USE_SSL"]:
        raise ConfigError("MAIL_USE_TLS and MAIL_USE_SSL are both true: choose one (TLS = STARTTLS on 587, SSL = 465).")
    if config["MAIL_FALLBACK_USE_TLS"] and config["MAIL_FALLBACK_USE_SSL"]:
        raise ConfigError("MAIL_FALLBACK_USE_TLS and MAIL_FALLBACK_USE_SSL are both true: choose one "
                          "(TLS = STARTTLS on 587, SSL = 465).")
    dkim = [config["DKIM_PRIVATE_KEY_FILE"], config["DKIM_SELECTOR"], config["DKIM_DOMAIN"]]
    if any(dkim) and not all(dkim):
        raise ConfigError("DKIM_PRIVATE_KEY_FILE, DKIM_SELECTOR and DKIM_DOMAIN go together: set all three or none.")
    if not config["DATABASE_URL"]:
        config["DATABASE_URL"] = "sqlite:///" + str(Path(instance_path).resolve() / "newsletter.db")
    if not config["REDIS_URL"] and config["CELERY_BROKER_URL"]:
        config["REDIS_URL"] = config["CELERY_BROKER_URL"]


def development_secret(instance_path: str) -> str:
    """A secret generated once per developer machine and kept in instance/."""
    path = Path(instance_path) / "secret_key"
    if path.exists():
        return path.read_text().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    value = secrets.token_urlsafe(48)
    path.write_text(value)
    path.chmod(0o600)
    return value
