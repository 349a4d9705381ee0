"""Steps a publisher takes (log in, post a form) and issues made through the publishing service."""

from datetime import timedelta

from flask import g, has_app_context

from newsletter import publishing
from newsletter.extensions import db
from newsletter.models import utcnow
from tests.conftest import csrf_token

PASSWORD = "a long enough password"
# Three paragraphs, one link, no image: passes the pre-send check without a warning.
CLEAN_BODY = (
    "This week I tried waking up ten minutes earlier, without an alarm, and simply sitting by the window.\n\n"
    "It was harder than it sounds. The mind wants a plan; the breath does not need one. I wrote down what I "
    "noticed, and I share a few of those notes below with you.\n\n"
    "If you want to try it too, the [short guide](https://example.org/guide) has the three steps I use."
)


def forget_request_state() -> None:
    """Before a request from another client: forget what the last request cached in `g`.

    Tests hold one app context for all their requests, and Flask-WTF (the CSRF token) and Flask-Login
    (the user) cache per app context: a second client would be handed the first one's token and user.
    """
    if has_app_context():
        g.pop("csrf_token", None)
        g.pop("_login_user", None)


def session_token(client) -> str:
    """The CSRF token of this client's session."""
    forget_request_state()
    return csrf_token(client, "/login")


def login(client, email: str, password: str = PASSWORD):
    return client.post("/login", data={"csrf_token": session_token(client), "email": email, "password": password})


def post_form(client, url: str, data: dict | None = None, **kwargs):
    """POST like the browser does, with the session's CSRF token."""
    return client.post(url, data={"csrf_token": session_token(client), **(data or {})}, **kwargs)


def make_issue(newsletter, state: str = "draft", subject: str = "A quiet week", body: str = CLEAN_BODY):
    """An issue in the given state (draft, scheduled, sending, paused, cancelled, discarded), committed."""
    issue = publishing.create_issue(newsletter, newsletter.owner, subject, body)
    if state == "scheduled":
        publishing.schedule(issue, utcnow() + timedelta(days=1))
    elif state in ("sending", "paused"):
        publishing.start_sending(issue)
        if state == "paused":
            publishing.pause(issue)
    elif state == "cancelled":
        publishing.cancel(issue)
    elif state == "discarded":
        publishing.discard(issue)
    db.session.commit()
    return issue


def publish(newsletter, subject: str, body: str = CLEAN_BODY):
    """An issue whose sending began, so it is in the archive and the feed."""
    return make_issue(newsletter, "sending", subject=subject, body=body)
