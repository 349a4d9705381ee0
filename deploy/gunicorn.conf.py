"""gunicorn settings for the web process: `gunicorn --config deploy/gunicorn.conf.py` (what `make serve` runs).

Listens on 127.0.0.1:8000 (put a reverse proxy in front; set TRUSTED_PROXIES), or on 0.0.0.0:$PORT when PORT
is set, as platforms that read a Procfile expect. `--bind` and `--workers` on the command line win.
"""

import os

from dotenv import find_dotenv, load_dotenv

load_dotenv(find_dotenv(usecwd=True))  # as app.py does: LOG_FORMAT may live in .env
wsgi_app = "app:app"
if "PORT" not in os.environ:
    bind = ["127.0.0.1:8000"]
# Processes x threads. Each process opens its own database pool; with SQLite keep it to one machine.
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
worker_class = "gthread"
threads = 4
# gunicorn's default. No request of the app runs long: imports are background jobs (importer/jobs.py). With
# gthread workers the timeout is the worker's heartbeat, so a slow upload is not cut off by it either.
timeout = 30
graceful_timeout = 30
# No access log: the app writes one line per request itself, with its id, in LOG_FORMAT.
accesslog = None
if os.environ.get("LOG_FORMAT", "").strip().lower() == "json":
    # gunicorn's own lines (start, stop, a worker that died) in the app's JSON too; the root logger is left
    # to the app and gunicorn's loggers do not reach it, so no line is written twice.
    logconfig_dict = {
        "root": {"level": "WARNING", "handlers": []},
        "loggers": {
            "gunicorn.error": {"level": "INFO", "handlers": ["error_console"], "propagate": False},
            "gunicorn.access": {"level": "WARNING", "handlers": [], "propagate": False},
        },
        "formatters": {"generic": {"()": "newsletter.logs.JsonFormatter"}},
    }
# gunicorn >= 27 opens a control socket in $HOME by default; nothing here uses it, and two servers of one
# user would share its path.
control_socket_disable = True


def post_worker_init(worker):
    """Each web process starts its sender at once (not with its first request), so that a restarted web process
    takes over an interrupted send by itself. Nothing starts when Celery workers send (CELERY_BROKER_URL)."""
    app = worker.wsgi
    if app.config.get("START_SENDER"):
        app.extensions["newsletter.runner"].start()
