"""Bounces, complaints and replies: inbound mail and provider webhooks turned into FeedbackEvents.

Pure parsing only: no database, no Flask. Whoever receives the mail or the webhook records the events.
"""

from .mail import parse_inbound
from .mailgun import parse_mailgun
from .model import COMPLAINT, HARD_BOUNCE, KINDS, OPT_OUT, REFUSAL, REPLY, SOFT_BOUNCE, FeedbackEvent
from .postmark import parse_postmark
from .sns import SubscriptionConfirmation, parse_ses_sns
from .verp import verp_address, verp_return_path, verp_token
from .webhook_body import WebhookRejected

__all__ = [
    "COMPLAINT",
    "HARD_BOUNCE",
    "KINDS",
    "OPT_OUT",
    "REFUSAL",
    "REPLY",
    "SOFT_BOUNCE",
    "FeedbackEvent",
    "SubscriptionConfirmation",
    "WebhookRejected",
    "parse_inbound",
    "parse_mailgun",
    "parse_postmark",
    "parse_ses_sns",
    "verp_address",
    "verp_return_path",
    "verp_token",
]
