"""The OpenAPI 3.1 document of the JSON API, served at /api/v1/openapi.json."""

from ..models import MAX_ID
from ..stats.reasons import REASON_CODES

INTEGER = {"type": "integer", "minimum": 0}
ID = {"type": "integer", "minimum": 0, "maximum": MAX_ID}  # PostgreSQL's integer: ids and cursors
MAYBE_INTEGER = {"type": ["integer", "null"]}
MAYBE_TIME = {"type": ["string", "null"], "format": "date-time"}
MAYBE_RATE = {"type": ["number", "null"], "minimum": 0, "maximum": 1}
DELIVERY_STATUSES = ("queued", "sending", "sent", "failed", "bounced", "skipped", "unknown", "held")
BUCKET_FIELDS = ("requests", "confirmations", "imported", "unsubscribes", "bounces", "complaints", "pauses",
                 "erasures", "restored", "confirmed")
READER_FIELDS = ("pending", "confirmed", "unsubscribed", "bounced", "complained", "paused")
REASONS = REASON_CODES  # every stored code, and "none"
BOUNCE_GROUPS = ("address", "reader", "sender", "unclear")


def _object(properties: dict, required: tuple | None = None, description: str | None = None) -> dict:
    schema = {"type": "object", "properties": properties, "required": list(required or properties)}
    if description:
        schema["description"] = description
    return schema


def _ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: dict, description: str) -> dict:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _errors(*statuses: int) -> dict:
    meanings = {400: "Bad parameter or body", 401: "No token, or an unknown or revoked one",
                404: "Not found among yours", 413: "Body too large", 415: "Body not JSON",
                422: "A field is missing or wrong", 429: "Too many requests from this address"}
    return {str(status): _json(_ref("Error"), meanings[status]) for status in statuses}


def _query(name: str, schema: dict, description: str) -> dict:
    return {"name": name, "in": "query", "required": False, "schema": schema, "description": description}


SLUG = {"name": "slug", "in": "path", "required": True, "schema": {"type": "string", "pattern": "^[a-z0-9-]{1,64}$"},
        "description": "The newsletter's short name"}
PERIOD = [_query("by", {"type": "string", "enum": ["day", "week"], "default": "week"}, "Bucket size"),
          _query("days", {"type": "integer", "minimum": 1, "maximum": 731, "default": 365}, "Days covered, up to today")]
LIMIT = _query("limit", {"type": "integer", "minimum": 1, "maximum": 200}, "Items per page")


def _figure_schemas() -> dict:
    """What the statistics calls return."""
    issue = _object({
        "id": INTEGER, "newsletter": {"type": "string"}, "subject": {"type": "string"}, "status": {"type": "string"},
        "started_at": MAYBE_TIME, "finished_at": MAYBE_TIME, "recipients": INTEGER,
        **{status: INTEGER for status in DELIVERY_STATUSES},
        "soft_bounces": INTEGER, "complaints": INTEGER, "replies": INTEGER,
        **{f"bounces_{group}": {**INTEGER, "description": f"Deliveries bounced for a reason of the {group} group "
                                "(address: suppressed; reader: temporary, soft; sender: the publisher's to fix, "
                                "never against the reader; unclear: soft)"} for group in BOUNCE_GROUPS},
        "unsubscribes": {**INTEGER, "description": "Unsubscribes within 7 days put down to this issue"},
        "duration_seconds": MAYBE_INTEGER, "per_minute": {"type": ["number", "null"]},
    }, description="One issue's send. `sent` means accepted by the mail relay, not delivered to an inbox.")
    summary = _object({
        "slug": {"type": "string"}, "name": {"type": "string"}, "confirmed": INTEGER, "pending": INTEGER,
        "requests": INTEGER, "confirmations": INTEGER, "confirmation_rate": MAYBE_RATE, "unsubscribes": INTEGER,
        "issues_sent": INTEGER, "last_sent_at": MAYBE_TIME,
    })
    bucket = _object({"start": {"type": "string", "format": "date"}, **{f: INTEGER for f in BUCKET_FIELDS}},
                     description="One day or week; `confirmed` is the count of confirmed readers at its end.")
    reasons = {"type": "array", "items": _object({"reason": {"type": "string", "enum": list(REASONS)},
                                                  "count": INTEGER})}
    refusals = {"type": "array", "items": _ref("DomainRefusals")}
    return {"IssueFigures": issue, "NewsletterSummary": summary, "Bucket": bucket, "DomainRefusals": _domain_refusals(),
            "IssueDetail": {"allOf": [_ref("IssueFigures"), _object({"unsubscribe_reasons": reasons,
                                                                     "sender_refusals": refusals})]}}


def _domain_refusals() -> dict:
    """One receiving domain's refusals about the sender, for one reason."""
    return _object({"domain": {"type": "string"}, "reason": {"type": "string"},
                    "group": {"type": "string", "enum": list(BOUNCE_GROUPS)}, "deliveries": INTEGER,
                    "example": {"type": "string", "description": "One of the server's answers"}},
                   description="Deliveries a receiving domain refused because of the sender (authentication, "
                               "reputation, policy...): never counted against the readers.")


def _schemas() -> dict:
    """Every schema the paths refer to."""
    figures = _object({
        "newsletter": _object({"slug": {"type": "string"}, "name": {"type": "string"}}),
        "period": _object({"by": {"type": "string"}, "days": INTEGER, "first": {"type": "string", "format": "date"},
                           "last": {"type": "string", "format": "date"}}),
        "readers": _object({f: INTEGER for f in READER_FIELDS}),
        "totals": {"type": "object", "additionalProperties": INTEGER},
        "confirmation_rate": MAYBE_RATE,
        "timeline": {"type": "array", "items": _ref("Bucket")},
        "unsubscribe_reasons": _object({reason: INTEGER for reason in REASONS}),
        "sender_refusals": {"type": "array", "items": _ref("DomainRefusals")},
        "latest_comments": {"type": "array", "items": _object({"at": {"type": "string", "format": "date-time"},
                                                              "comment": {"type": "string"}})},
        "issues": {"type": "array", "items": _ref("IssueFigures")},
        "issues_next_before": MAYBE_INTEGER,
    })
    return {
        **_figure_schemas(),
        "Error": _object({"error": _object({"code": {"type": "string"}, "message": {"type": "string"}})}),
        "NewsletterFigures": figures,
        "SubscribeRequest": {**_object({
            "email": {"type": "string", "maxLength": 254, "format": "email"},
            "name": {"type": ["string", "null"], "maxLength": 200, "description": "One line"},
            "consent_source": {"type": ["string", "null"], "maxLength": 500,
                               "description": "Where the person asked: the form's URL, for instance"},
        }, required=("email",)), "additionalProperties": False},
        "SubscribeAccepted": _object({"status": {"type": "string", "const": "accepted"}, "message": {"type": "string"}}),
    }


def _paths() -> dict:
    return {
        "/newsletters": {"get": {
            "operationId": "listNewsletters", "summary": "Your newsletters (all of them for an admin), with reader figures",
            "parameters": [_query("after", ID, "Cursor: `next_after` of the previous page"), LIMIT, *PERIOD],
            "responses": {"200": _json(_object({"newsletters": {"type": "array", "items": _ref("NewsletterSummary")},
                                                "next_after": MAYBE_INTEGER}), "A page of newsletters"),
                          **_errors(400, 401)}}},
        "/stats/newsletters/{slug}": {"get": {
            "operationId": "newsletterStats", "summary": "A newsletter's readers now and over time, and its latest issues",
            "parameters": [SLUG, *PERIOD],
            "responses": {"200": _json(_ref("NewsletterFigures"), "The newsletter's figures"), **_errors(400, 401, 404)}}},
        "/stats/newsletters/{slug}/issues": {"get": {
            "operationId": "newsletterIssues", "summary": "Figures of a newsletter's issues, newest first",
            "parameters": [SLUG, _query("before", ID, "Cursor: `next_before` of the previous page"), LIMIT],
            "responses": {"200": _json(_object({"issues": {"type": "array", "items": _ref("IssueFigures")},
                                                "next_before": MAYBE_INTEGER}), "A page of issues"),
                          **_errors(400, 401, 404)}}},
        "/stats/issues/{issue_id}": {"get": {
            "operationId": "issueStats", "summary": "One issue's figures, with the reasons of the unsubscribes it caused",
            "parameters": [{"name": "issue_id", "in": "path", "required": True, "schema": ID}],
            "responses": {"200": _json(_ref("IssueDetail"), "The issue's figures"), **_errors(401, 404)}}},
        "/newsletters/{slug}/subscribers": {"post": {
            "operationId": "subscribe",
            "summary": "Start the double opt-in for an address: a confirmation mail, never a confirmed subscriber",
            "description": "The answer is the same whatever the address's state (new, pending, subscribed). "
                           "The client's IP address is kept as consent evidence; limited per IP like the form.",
            "parameters": [SLUG],
            "requestBody": {"required": True, "content": {"application/json": {"schema": _ref("SubscribeRequest")}}},
            "responses": {"202": _json(_ref("SubscribeAccepted"), "Accepted: a confirmation mail if the address can subscribe"),
                          **_errors(400, 401, 404, 413, 415, 422, 429)}}},
    }


def openapi_document(server_url: str) -> dict:
    """The document, with `server_url` (this instance's /api/v1) as its server."""
    return {
        "openapi": "3.1.0",
        "info": {"title": "Newsletter API", "version": "1.0.0",
                 "description": "Statistics of your newsletters and a subscribe call that starts the double "
                                "opt-in. Tokens are made on the 'API tokens' page and act as their user."},
        "servers": [{"url": server_url}],
        "security": [{"bearer": []}],
        "paths": {**_paths(), "/openapi.json": {"get": {
            "operationId": "openapi", "summary": "This document", "security": [],
            "responses": {"200": {"description": "The OpenAPI document", "content": {"application/json": {}}}}}}},
        "components": {"schemas": _schemas(),
                       "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer",
                                                      "description": "A token from the 'API tokens' page"}}},
    }
