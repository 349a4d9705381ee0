"""gunicorn settings for the web process: `gunicorn --config deploy/gunicorn.conf.py` (what `make serve` runs).

Listens on 127.0.0.1:8000 (put a reverse proxy in front; set TRUSTED_PROXIES), or on 0.0.0.0:$PORT when PORT
is set, as platforms that read a Procfile expect. `--bind` and `--workers` on the command line win.
"""

import os

wsgi_app = "app:app"
if "PORT" not in os.environ:
    bind = ["127.0.0.1:8000"]
# Processes x threads. Each process opens its own database pool; with SQLite keep it to one machine.
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
worker_class = "gthread"
threads = 4
# An import upload of IMPORT_MAX_BYTES over a slow link takes a while; a stuck request is still cut off.
timeout = 120
graceful_timeout = 30
# No access log: the app writes one line per request itself, with its id, in LOG_FORMAT.
accesslog = None
