"""schemathesis against the API's OpenAPI document, on a test server: no 5xx, no answer outside the schema.

A throw-away instance (SQLite in a temporary folder, mail to its outbox) with an admin, two newsletters and an
API token; the app served on loopback by werkzeug in a thread; schemathesis's CLI run against it with bounded
examples in deterministic mode, so the run is short (well under a minute) and repeatable.
Run from the repository root: .venv/bin/python .ci/api_fuzz.py
"""

import logging
import os
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from flask_migrate import upgrade  # noqa: E402
from werkzeug.serving import make_server  # noqa: E402

from newsletter import accounts, api_tokens, consent, create_app, newsletters  # noqa: E402
from newsletter.extensions import db  # noqa: E402

MAX_EXAMPLES = os.environ.get("API_FUZZ_EXAMPLES", "15")


def instance(folder: Path):
    """The app and an admin's API token, with a little to find."""
    app = create_app({"NEWSLETTER_ENV": "testing", "SECRET_KEY": "api-fuzz-only", "TESTING": True,
                      "DATABASE_URL": f"sqlite:///{folder / 'fuzz.db'}", "INSTANCE_PATH": str(folder),
                      "BASE_URL": "http://127.0.0.1", "MAIL_BACKEND": "outbox", "START_SENDER": False,
                      "PASSWORD_HASH_METHOD": "pbkdf2:sha256:1000", "SUBSCRIBE_RATE_LIMIT": "100000/minute"})
    logging.getLogger("newsletter.requests").setLevel(logging.WARNING)
    with app.app_context():
        upgrade()
        admin = accounts.create_user("admin@example.org", "a long enough password", admin=True)
        for slug in ("slow-mornings", "deep-rest"):
            item = newsletters.create_newsletter(admin.email, slug=slug, name=slug.replace("-", " ").title(),
                                                 from_email="admin@example.org")
            consent.subscribe(item, f"reader@{slug}.example", "Zoë", ip=None, source="fuzz", wording="w")
        _, secret = api_tokens.create_token(admin, "fuzz")
        db.session.commit()
    return app, secret


def main() -> int:
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one line per request: schemathesis says enough
    with tempfile.TemporaryDirectory() as folder:
        app, secret = instance(Path(folder))
        server = make_server("127.0.0.1", 0, app, threaded=True)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        try:
            base = f"http://127.0.0.1:{server.server_port}/api/v1"
            return subprocess.call([
                str(Path(sys.executable).parent / "schemathesis"), "run", f"{base}/openapi.json",
                "--checks", "not_a_server_error,response_schema_conformance,content_type_conformance",
                "--header", f"Authorization: Bearer {secret}", "--max-examples", MAX_EXAMPLES,
                "--generation-deterministic", "--workers", "1", "--request-timeout", "10", "--warnings", "off",
            ], cwd=folder)  # its cache (.schemathesis/) goes with the throw-away instance, not into the repository
        finally:
            server.shutdown()


if __name__ == "__main__":
    sys.exit(main())
