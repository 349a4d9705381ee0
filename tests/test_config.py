"""Configuration: checked at start-up; a bad value stops the app with one line naming it."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from newsletter import ConfigError, create_app
from newsletter.config import read_settings

ROOT = Path(__file__).resolve().parent.parent
FLASK = [sys.executable, "-m", "flask", "--app", "app"]


def run_flask(args, env_overrides: dict, tmp_path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MAIL_", "SECRET_KEY", "DATABASE_URL"))}
    env.update({"INSTANCE_PATH": str(tmp_path / "instance"), "NEWSLETTER_ENV": "production",
                "SECRET_KEY": "s" * 40}, **env_overrides)
    return subprocess.run(FLASK + args, cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize("name, value, accepted", [
    ("MAIL_BACKEND", "carrier-pigeon", "outbox, smtp"),
    ("MAIL_PORT", "seventy", "from 1 to 65535"),
    ("MAIL_PORT", "70000", "from 1 to 65535"),
    ("SEND_HEARTBEAT_GRACE", "0", "from 1 to 3600"),
    ("MAIL_USE_TLS", "perhaps", "true, false"),
    ("SEND_RATE_PER_SECOND", "-3", "0 for unlimited"),
    ("SEND_WINDOW", "0", "from 1 to 1000"),
    ("SEND_CONNECTIONS", "0", "from 1 to 64"),
    ("SEND_FALLBACK_CONNECTIONS", "many", "from 1 to 64"),
    ("MAIL_FALLBACK_PORT", "0", "from 1 to 65535"),
    ("SEND_HOLD_DOMAIN_AFTER", "none", "from 1 to 100000"),
    ("CONFIRM_TOKEN_MAX_AGE", "soon", "whole number"),
    ("BASE_URL", "news.example.org", "https://"),
    ("DATABASE_URL", "mysql://x", "postgresql+psycopg://"),
    ("CELERY_BROKER_URL", "amqp://guest@localhost", "redis://"),
    ("NEWSLETTER_ENV", "staging", "production, development"),
    ("LOG_FORMAT", "xml", "text, json"),
])
def test_invalid_value_stops_start_up_with_one_line(tmp_path, name, value, accepted):
    result = run_flask(["users", "--help"], {name: value}, tmp_path)
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert name in lines[0] and accepted in lines[0]
    assert "Traceback" not in result.stderr


def test_secret_key_is_required_outside_development(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "SECRET_KEY"}
    env.update({"INSTANCE_PATH": str(tmp_path / "instance"), "NEWSLETTER_ENV": "production"})
    result = subprocess.run(FLASK + ["users", "--help"], cwd=ROOT, env=env, capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 1
    assert "SECRET_KEY is missing" in result.stderr and "Traceback" not in result.stderr


def test_development_generates_and_keeps_a_secret(tmp_path):
    first = read_settings({"NEWSLETTER_ENV": "development"}, str(tmp_path))
    second = read_settings({"NEWSLETTER_ENV": "development"}, str(tmp_path))
    assert first["SECRET_KEY"] == second["SECRET_KEY"] and len(first["SECRET_KEY"]) >= 40
    assert (tmp_path / "secret_key").stat().st_mode & 0o077 == 0


def test_settings_that_go_together(tmp_path):
    with pytest.raises(ConfigError, match="MAIL_USE_TLS and MAIL_USE_SSL"):
        read_settings({"SECRET_KEY": "k", "MAIL_USE_TLS": "1", "MAIL_USE_SSL": "1"}, str(tmp_path))
    with pytest.raises(ConfigError, match="DKIM_PRIVATE_KEY_FILE, DKIM_SELECTOR and DKIM_DOMAIN"):
        read_settings({"SECRET_KEY": "k", "DKIM_SELECTOR": "s1"}, str(tmp_path))


def test_header_breaking_sender_is_refused(tmp_path):
    with pytest.raises(ConfigError, match="MAIL_DEFAULT_SENDER"):
        read_settings({"SECRET_KEY": "k", "MAIL_DEFAULT_SENDER": "a@b.c\r\nBcc: x@y.z"}, str(tmp_path))


def test_plain_postgresql_url_uses_psycopg3(tmp_path):
    settings = read_settings({"SECRET_KEY": "k", "DATABASE_URL": "postgresql://u@h/db"}, str(tmp_path))
    assert settings["DATABASE_URL"] == "postgresql+psycopg://u@h/db"


def test_dotenv_file_is_read(tmp_path):
    (tmp_path / ".env").write_text("MAIL_BACKEND=nonsense\n")
    env = {k: v for k, v in os.environ.items() if k != "MAIL_BACKEND"}
    env.update({"INSTANCE_PATH": str(tmp_path / "instance"), "SECRET_KEY": "s" * 40})
    result = subprocess.run([sys.executable, "-c", "import sys; sys.path.insert(0, %r); import app" % str(ROOT)],
                            cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 1 and "MAIL_BACKEND='nonsense'" in result.stderr


def test_create_app_validates_overrides(tmp_path):
    with pytest.raises(ConfigError, match="MAIL_BACKEND"):
        create_app({"SECRET_KEY": "k", "MAIL_BACKEND": "fax", "INSTANCE_PATH": str(tmp_path)})
