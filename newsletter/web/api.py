"""The JSON API under /api/v1: bearer tokens, statistics, and a subscribe call that starts the double opt-in.

Only the Authorization header authenticates (never the session cookie), so the API is CSRF-exempt. Every
error is JSON `{"error": {"code", "message"}}` with a 4xx; what is not yours is 404, like what does not exist.
"""

import json

from flask import Blueprint, g, jsonify, request
from werkzeug.exceptions import HTTPException

from .. import api_tokens, consent, publishing, subscribe_limits
from ..addresses import has_header_breaker
from ..errors import DomainError, InvalidAddress, InvalidInput
from ..extensions import db
from ..links import external_url
from ..stats import bounces as bounce_stats
from ..stats import issues as issue_stats
from ..stats import newsletters as newsletter_stats
from ..stats.periods import period_asked
from ..stats.bounces import refusal_record
from ..stats.records import issue_record, newsletter_document, reason_records, summary_record
from .api_errors import error_response, http_error_response
from .api_openapi import openapi_document
from .converters import cursor_arg
from .pacing import answer_no_sooner_than

bp = Blueprint("api", __name__, url_prefix="/api/v1")
MAX_BODY = 16 * 1024
SUBSCRIBE_FIELDS = {"email", "name", "consent_source"}
MAX_SOURCE_LENGTH = 500


class ApiError(DomainError):
    """A request the API cannot take as it is; carries its own HTTP status."""

    def __init__(self, status: int, code: str, message: str):
        super().__init__(message, code)
        self.status = status


@bp.errorhandler(DomainError)
def domain_error(error: DomainError):
    db.session.rollback()
    return error_response(error.status, error.code, error.message)


@bp.errorhandler(HTTPException)
def http_error(error: HTTPException):
    db.session.rollback()
    return http_error_response(error)


@bp.before_request
def authenticate():
    if request.endpoint == "api.openapi":
        return
    scheme, _, secret = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer":
        raise api_tokens.TokenRefused("Send an API token: Authorization: Bearer <token>.")
    g.api_token = api_tokens.live_token(secret.strip())
    db.session.commit()  # the token's "last used" mark


@bp.after_request
def no_store(response):
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/openapi.json")
def openapi():
    return jsonify(openapi_document(external_url("api.openapi").removesuffix("/openapi.json")))


@bp.get("/newsletters")
def newsletters():
    after = cursor_arg("after")
    items, next_after = newsletter_stats.newsletters_page(g.api_token.user, after, _limit(100, 100))
    records = [summary_record(summary) for summary in newsletter_stats.summaries(items, _period())]
    db.session.commit()  # days counted on the way
    return jsonify({"newsletters": records, "next_after": next_after})


@bp.get("/stats/newsletters/<slug>")
def newsletter_figures(slug: str):
    item = publishing.newsletter_of(g.api_token.user, slug)
    document = newsletter_document(newsletter_stats.newsletter_figures(item, _period()))
    page = issue_stats.started_issues([item.id], size=issue_stats.PAGE_SIZE)
    document["issues"] = [issue_record(f) for f in issue_stats.figures_of(page.issues)]
    document["issues_next_before"] = page.next_before
    db.session.commit()  # issues settled and days counted on the way
    return jsonify(document)


@bp.get("/stats/newsletters/<slug>/issues")
def newsletter_issues(slug: str):
    item = publishing.newsletter_of(g.api_token.user, slug)
    page = issue_stats.started_issues([item.id], cursor_arg("before"), _limit(issue_stats.PAGE_SIZE, 200))
    records = [issue_record(f) for f in issue_stats.figures_of(page.issues)]
    db.session.commit()
    return jsonify({"issues": records, "next_before": page.next_before})


@bp.get("/stats/issues/<int:issue_id>")
def issue_figures(issue_id: int):
    issue = publishing.issue_of(g.api_token.user, issue_id)
    record = issue_record(issue_stats.figures_of_issue(issue))
    record["unsubscribe_reasons"] = reason_records(issue_stats.unsubscribe_reasons(issue))
    record["sender_refusals"] = [refusal_record(refusal) for refusal in bounce_stats.refusals_of_issue(issue.id)]
    db.session.commit()
    return jsonify(record)


@bp.post("/newsletters/<slug>/subscribers")
@answer_no_sooner_than("SUBSCRIBE_ANSWER_SECONDS")
def subscribe(slug: str):
    item = publishing.newsletter_of(g.api_token.user, slug)
    body = _json_object()
    email, name, source = _subscribe_fields(body)
    # The same counters as the form's (one per IP for both); no puzzle here: past a limit the API says wait.
    assessment = subscribe_limits.assess(request.remote_addr, subscribe_limits.address_key(email), item.id)
    subscribe_limits.count(assessment, refused=assessment.needs_proof)
    if assessment.needs_proof:
        raise ApiError(429, "too_many_requests", "Too many subscriptions from this address, for this reader or "
                       "for this newsletter just now: wait a few minutes and try again.")
    try:
        consent.subscribe(item, email, name, ip=request.remote_addr,
                          source=source or f"API (token: {g.api_token.name})", wording=consent.consent_wording(item))
    except InvalidAddress:
        raise ApiError(422, "invalid_address", "'email' is not a usable e-mail address.") from None
    except InvalidInput as error:
        raise ApiError(422, "invalid_name", f"'name': {error.message}") from None
    db.session.commit()
    # The same answer whatever the address's state: the API must not tell who is subscribed.
    return jsonify({"status": "accepted", "message": "If this address can subscribe, a confirmation mail is on "
                    "its way. Nobody is subscribed until they confirm from that mail."}), 202


def _json_object() -> dict:
    if request.mimetype != "application/json":
        raise ApiError(415, "unsupported_media_type", "Send a JSON body with Content-Type: application/json.")
    if (request.content_length or 0) > MAX_BODY:
        raise ApiError(413, "body_too_large", f"The body has at most {MAX_BODY} bytes.")
    raw = request.get_data()  # at most the route's limit, read (or refused) before the view (body_limits)
    if len(raw) > MAX_BODY:
        raise ApiError(413, "body_too_large", f"The body has at most {MAX_BODY} bytes.")
    try:
        body = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise ApiError(400, "invalid_json", "The body is not JSON in UTF-8.") from None
    if not isinstance(body, dict):
        raise ApiError(422, "invalid_body", "The body is a JSON object, like {\"email\": \"name@example.org\"}.")
    return body


def _subscribe_fields(body: dict) -> tuple[str, str | None, str | None]:
    unknown = sorted(set(body) - SUBSCRIBE_FIELDS)
    if unknown:
        raise ApiError(422, "unknown_field", f"Unknown field(s): {', '.join(unknown)[:200]}. Known: email, name, "
                       "consent_source.")
    email = body.get("email")
    if not isinstance(email, str) or not email.strip():
        raise ApiError(422, "invalid_address", "'email' is required: a string holding an e-mail address.")
    for field in ("name", "consent_source"):
        if body.get(field) is not None and not isinstance(body[field], str):
            raise ApiError(422, f"invalid_{field}", f"'{field}' is a string (or leave it out).")
    source = (body.get("consent_source") or "").strip()
    if len(source) > MAX_SOURCE_LENGTH or has_header_breaker(source):
        raise ApiError(422, "invalid_consent_source",
                       f"'consent_source' is one line of at most {MAX_SOURCE_LENGTH} characters.")
    return email, body.get("name"), source or None


def _period():
    return period_asked(request.args)


def _int_arg(name: str) -> int | None:
    value = request.args.get(name)
    if value in (None, ""):
        return None
    if not (value.isascii() and value.isdigit()) or len(value) > 12:
        raise ApiError(400, "invalid_parameter", f"'{name}' is a positive whole number.")
    return int(value)


def _limit(default: int, most: int) -> int:
    value = _int_arg("limit")
    if value is not None and not 1 <= value <= most:
        raise ApiError(400, "invalid_parameter", f"'limit' is from 1 to {most}.")
    return value or default
