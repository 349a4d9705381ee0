"""Which issue an unsubscribe is put down to: the last one sent to that reader in the 7 days before.

Recorded once, when the reader leaves, so the statistics never have to work it out again per page view.
"""

from datetime import datetime, timedelta

from sqlalchemy import select

from ..extensions import db
from ..models import Delivery

ATTRIBUTION_WINDOW = timedelta(days=7)


def issue_behind_unsubscribe(subscription_id: int, at: datetime) -> int | None:
    """The issue last sent to this subscription within ATTRIBUTION_WINDOW before `at`, if any."""
    # One range read of the (subscription_id, sent_at) index.
    return db.session.scalar(
        select(Delivery.issue_id)
        .where(Delivery.subscription_id == subscription_id, Delivery.sent_at >= at - ATTRIBUTION_WINDOW,
               Delivery.sent_at <= at)
        .order_by(Delivery.sent_at.desc())
        .limit(1)
    )
