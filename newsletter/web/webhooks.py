"""Provider webhooks for bounces and complaints: Amazon SES (via SNS), Postmark, Mailgun.

Each is verified before it is read (signature, or basic auth for Postmark) and answers JSON; a forged, stale
or malformed call gets a 4xx and changes nothing. A provider that is not configured answers 404.
"""

import logging

from flask import Blueprint, current_app, jsonify, request

from ..extensions import csrf, db
from ..feedback.inbound import bounce_mailbox
from ..feedback.parsers import WebhookRejected, parse_mailgun, parse_postmark, parse_ses_sns
from ..feedback.record import record_feedback
from ..feedback.webhooks import fetch, seen_before
from ..models import utcnow
from .api_errors import error_response

bp = Blueprint("webhooks", __name__, url_prefix="/webhooks")
log = logging.getLogger(__name__)
MAX_BODY = 1024 * 1024


@bp.post("/ses")
@csrf.exempt
def ses():
    arns = [arn.strip() for arn in current_app.config["SES_TOPIC_ARNS"].split(",") if arn.strip()]
    if not arns:
        return error_response(404, "not_configured", "Set SES_TOPIC_ARNS to receive Amazon SES notifications.")
    return _record("ses", lambda body: parse_ses_sns(
        body, fetch_certificate=fetch, now=utcnow(), seen_message_id=lambda id_: seen_before("sns-message", id_),
        topic_arns=arns, confirm_subscription=_confirm_subscription, verp_local=bounce_mailbox()))


@bp.post("/postmark")
@csrf.exempt
def postmark():
    user, password = current_app.config["POSTMARK_WEBHOOK_USER"], current_app.config["POSTMARK_WEBHOOK_PASSWORD"]
    if not user or not password:
        return error_response(404, "not_configured", "Set POSTMARK_WEBHOOK_USER and POSTMARK_WEBHOOK_PASSWORD.")
    return _record("postmark", lambda body: parse_postmark(
        body, authorization=request.headers.get("Authorization"), username=user, password=password))


@bp.post("/mailgun")
@csrf.exempt
def mailgun():
    key = current_app.config["MAILGUN_SIGNING_KEY"]
    if not key:
        return error_response(404, "not_configured", "Set MAILGUN_SIGNING_KEY to receive Mailgun events.")
    return _record("mailgun", lambda body: parse_mailgun(
        body, signing_key=key, now=utcnow(), seen_token=lambda token: seen_before("mailgun-token", token),
        verp_local=bounce_mailbox()))


def _record(source: str, parse):
    body = request.get_data(cache=False)[: MAX_BODY + 1]
    try:
        events = parse(body)
    except WebhookRejected as rejected:
        log.warning("%s webhook refused: %s", source, rejected.message)
        return error_response(rejected.status, "webhook_rejected", rejected.message)
    recorded = sum(record_feedback(event, source, trusted=True) is not None for event in events)
    db.session.commit()
    return jsonify({"received": len(events), "recorded": recorded})


def _confirm_subscription(confirmation) -> None:
    try:
        fetch(confirmation.subscribe_url)
    except Exception:  # noqa: BLE001 - AWS or the network away: a 4xx, and SNS sends the confirmation again
        raise WebhookRejected("The SNS subscription could not be confirmed just now; try later.") from None
    log.info("confirmed the SNS subscription to %s", confirmation.topic_arn)
