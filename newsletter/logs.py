"""Log lines: one per request and per send event, with ids; text by default, one JSON object with LOG_FORMAT=json.

A line carries ids (request, user, issue, delivery, system mail) and never an address, a name or a token:
routes are logged as their rule (`/unsubscribe/<token>`), not as the path that holds the token.
"""

import json
import logging
import re
import sys
import time
import uuid
from datetime import datetime, timezone

from flask import Flask, g, has_request_context, request

request_log = logging.getLogger("newsletter.requests")
# What every LogRecord has; anything else on a record was passed in `extra` and is a field of the line.
_RECORD_ATTRIBUTES = set(vars(logging.makeLogRecord({}))) | {"message", "asctime"}
_INCOMING_ID = re.compile(r"[A-Za-z0-9._:-]{1,64}")


class StderrHandler(logging.StreamHandler):
    """Writes to whatever sys.stderr is when a line is written (servers and test runners replace it)."""

    def __init__(self):
        super().__init__()

    @property
    def stream(self):
        return sys.stderr

    @stream.setter
    def stream(self, _value):
        pass


def fields_of(record: logging.LogRecord) -> dict:
    """The fields passed with `extra=` (ids, status, duration...)."""
    return {key: value for key, value in vars(record).items() if key not in _RECORD_ATTRIBUTES}


class TextFormatter(logging.Formatter):
    """`2026-05-04 10:00:00,123 INFO newsletter.requests GET /n/<slug> 200 request_id=... duration_ms=3.1`"""

    def __init__(self):
        super().__init__("%(asctime)s %(levelname)s %(name)s %(message)s")

    def formatMessage(self, record: logging.LogRecord) -> str:
        pairs = " ".join(f"{key}={value}" for key, value in fields_of(record).items())
        return super().formatMessage(record) + (" " + pairs if pairs else "")


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time (UTC, ISO 8601), level, logger, message, then the record's fields."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, timezone.utc).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            **fields_of(record),
        }
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


class RequestIdFilter(logging.Filter):
    """Adds the current request's id to every line written while it is served."""

    def filter(self, record: logging.LogRecord) -> bool:
        if has_request_context() and "request_id" in g and not hasattr(record, "request_id"):
            record.request_id = g.request_id
        return True


def configure_logging(log_format: str) -> None:
    """Send this process's log lines to stderr in `log_format` (text or json): ours from INFO, others' from
    WARNING (a library's INFO lines, such as an SMTP server's dialogue, may quote addresses)."""
    root = logging.getLogger()
    for handler in [h for h in root.handlers if isinstance(h, StderrHandler)]:
        root.removeHandler(handler)  # a second app in the same process replaces the first one's handler
    handler = StderrHandler()
    handler.setFormatter(JsonFormatter() if log_format == "json" else TextFormatter())
    handler.addFilter(RequestIdFilter())
    root.addHandler(handler)
    logging.getLogger("newsletter").setLevel(logging.INFO)


def init_app(app: Flask) -> None:
    """Configure logging and write one line per request."""
    configure_logging(app.config["LOG_FORMAT"])
    app.before_request(_start_request)
    app.after_request(_log_request)


def _start_request() -> None:
    incoming = request.headers.get("X-Request-ID", "")
    g.request_id = incoming if _INCOMING_ID.fullmatch(incoming) else uuid.uuid4().hex
    g.request_started = time.perf_counter()


def _log_request(response):
    if "request_id" not in g:  # a response made before our first hook ran
        _start_request()
    response.headers["X-Request-ID"] = g.request_id
    rule = request.url_rule
    fields = {
        "event": "request",
        "method": request.method,
        "route": rule.rule if rule is not None else request.path[:200],
        "status": response.status_code,
        "duration_ms": round((time.perf_counter() - g.request_started) * 1000, 1),
    }
    # The ids in the URL (issue_id...), never other values: those may be tokens.
    fields.update({key: value for key, value in (request.view_args or {}).items() if isinstance(value, int)})
    user = g.get("_login_user")  # only when this request loaded it: logging must not cost a query
    if getattr(user, "is_authenticated", False):
        fields["user_id"] = user.id
    request_log.info("%s %s %s", fields["method"], fields["route"], fields["status"], extra=fields)
    return response
