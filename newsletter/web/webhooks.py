"""Provider webhooks for bounces and complaints: Amazon SES (via SNS), Postmark, Mailgun.

Each is verified before it is read (signature, or basic auth for Postmark) and answers JSON; a forged, stale
or malformed call gets a 4xx and changes nothing. A provider that is not configured answers 404.
"""

import logging
import time
import urllib.request

from flask import Blueprint, current_app, jsonify, request

from ..bounces import WebhookRejected, parse_mailgun, parse_postmark, parse_ses_sns
from ..extensions import csrf, db
from ..feedback import record_feedback
from ..inbound import bounce_mailbox
from ..models import utcnow

bp = Blueprint("webhooks", __name__, url_prefix="/webhooks")
log = logging.getLogger(__name__)
MAX_BODY = 1024 * 1024
_seen_tokens: dict[str, float] = {}


@bp.post("/ses")
@csrf.exempt
def ses():
    arns = [arn.strip() for arn in current_app.config["SES_TOPIC_ARNS"].split(",") if arn.strip()]
    if not arns:
        return _error(404, "not_configured", "Set SES_TOPIC_ARNS to receive Amazon SES notifications.")
    return _record("ses", lambda body: parse_ses_sns(
        body, fetch_certificate=_fetch_certificate, topic_arns=arns,
        confirm_subscription=_confirm_subscription, verp_local=bounce_mailbox()))


@bp.post("/postmark")
@csrf.exempt
def postmark():
    user, password = current_app.config["POSTMARK_WEBHOOK_USER"], current_app.config["POSTMARK_WEBHOOK_PASSWORD"]
    if not user or not password:
        return _error(404, "not_configured", "Set POSTMARK_WEBHOOK_USER and POSTMARK_WEBHOOK_PASSWORD.")
    return _record("postmark", lambda body: parse_postmark(
        body, authorization=request.headers.get("Authorization"), username=user, password=password))


@bp.post("/mailgun")
@csrf.exempt
def mailgun():
    key = current_app.config["MAILGUN_SIGNING_KEY"]
    if not key:
        return _error(404, "not_configured", "Set MAILGUN_SIGNING_KEY to receive Mailgun events.")
    return _record("mailgun", lambda body: parse_mailgun(
        body, signing_key=key, now=utcnow(), seen_token=_seen_before, verp_local=bounce_mailbox()))


def _record(source: str, parse):
    body = request.get_data(cache=False)[: MAX_BODY + 1]
    try:
        events = parse(body)
    except WebhookRejected as rejected:
        log.warning("%s webhook refused: %s", source, rejected.message)
        return _error(rejected.status, "webhook_rejected", rejected.message)
    recorded = sum(record_feedback(event, source, trusted=True) is not None for event in events)
    db.session.commit()
    return jsonify({"received": len(events), "recorded": recorded})


def _error(status: int, code: str, message: str):
    return jsonify({"error": {"code": code, "message": message}}), status


def fetch_https(url: str) -> bytes:
    """GET a small https resource (SNS certificates and subscription confirmations)."""
    with urllib.request.urlopen(url, timeout=10) as response:  # noqa: S310 - the parser allows only https SNS URLs
        return response.read(64 * 1024)


def _fetch(url: str) -> bytes:
    # The one seam to AWS: tests put their own certificate server in app.extensions.
    return current_app.extensions.get("newsletter.fetch_https", fetch_https)(url)


def _fetch_certificate(url: str) -> bytes:
    return _fetch(url)


def _confirm_subscription(confirmation) -> None:
    _fetch(confirmation.subscribe_url)
    log.info("confirmed the SNS subscription to %s", confirmation.topic_arn)


def _seen_before(token: str) -> bool:
    """Mailgun replay protection: True if this token was already used (Redis when configured)."""
    url = current_app.config["REDIS_URL"]
    if url:
        import redis

        return not redis.Redis.from_url(url).set(f"newsletter:mailgun-token:{token}", 1, nx=True, ex=3600)
    now = time.time()
    for old in [t for t, at in _seen_tokens.items() if at < now - 3600]:
        del _seen_tokens[old]
    seen = token in _seen_tokens
    _seen_tokens[token] = now
    return seen
