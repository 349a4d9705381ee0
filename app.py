"""Entry point for `flask --app app ...` and WSGI servers (gunicorn app:app)."""

import sys

from dotenv import find_dotenv, load_dotenv

from newsletter import ConfigError, create_app

load_dotenv(find_dotenv(usecwd=True))  # .env in the working directory or above; real variables win

try:
    app = create_app()
except ConfigError as error:
    print(f"Configuration error: {error}", file=sys.stderr)
    sys.exit(1)
