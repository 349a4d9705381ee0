"""feedback: the reason of each bounce and the receiving domain; stored bounces re-classified

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-24 13:40:00

A bounce's consequence now follows its reason (newsletter/feedback/reasons.py), not the first digit of its
status: refusals about the sender become 'sender_refusal' rows, which never count against a reader, and an
ARF opt-out is an 'opt_out'. Every stored bounce is classified again from its status and diagnostic. Readers
whom a sender-side refusal suppressed in the past are not re-subscribed here: the admin page "Readers
suppressed by a refusal about the sender" lists them with the evidence, and the admin decides.
"""
from alembic import op
import sqlalchemy as sa

from newsletter.feedback.parsers.model import kind_of_reason
from newsletter.feedback.reasons import classify

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None

OLD_KINDS = "kind IN ('hard_bounce', 'soft_bounce', 'complaint', 'reply')"
NEW_KINDS = "kind IN ('hard_bounce', 'soft_bounce', 'sender_refusal', 'complaint', 'opt_out', 'reply')"
feedback = sa.table("feedback", sa.column("id", sa.BigInteger), sa.column("kind", sa.String),
                    sa.column("status", sa.String), sa.column("diagnostic", sa.String),
                    sa.column("subscriber_id", sa.Integer), sa.column("reason", sa.String),
                    sa.column("domain", sa.String))
subscribers = sa.table("subscribers", sa.column("id", sa.Integer), sa.column("email", sa.String))


def upgrade():
    with op.batch_alter_table('feedback', schema=None) as batch_op:
        batch_op.add_column(sa.Column('reason', sa.String(length=24), nullable=True))
        batch_op.add_column(sa.Column('domain', sa.String(length=255), nullable=True))
        batch_op.drop_constraint(op.f('ck_feedback_kind_valid'), type_='check')
        batch_op.create_check_constraint(op.f('ck_feedback_kind_valid'), sa.text(NEW_KINDS))
        batch_op.create_index('ix_feedback_issue_domain', ['issue_id', 'domain'], unique=False)
    reclassify(op.get_bind())


def reclassify(connection) -> None:
    """Give every stored bounce its reason, its kind by that reason, and its reader's domain."""
    rows = connection.execute(
        sa.select(feedback.c.id, feedback.c.status, feedback.c.diagnostic, subscribers.c.email)
        .select_from(feedback.outerjoin(subscribers, subscribers.c.id == feedback.c.subscriber_id))
        .where(feedback.c.kind.in_(["hard_bounce", "soft_bounce"]))
    ).all()
    for row_id, status, diagnostic, email in rows:
        reason = classify(status, diagnostic)
        domain = email.rpartition("@")[2].lower() if email else None
        connection.execute(feedback.update().where(feedback.c.id == row_id)
                           .values(reason=reason.value, kind=kind_of_reason(reason), domain=domain))


def downgrade():
    op.execute(feedback.delete().where(feedback.c.kind == "opt_out"))
    op.execute(feedback.update().where(feedback.c.kind == "sender_refusal").values(kind="soft_bounce"))
    with op.batch_alter_table('feedback', schema=None) as batch_op:
        batch_op.drop_index('ix_feedback_issue_domain')
        batch_op.drop_constraint(op.f('ck_feedback_kind_valid'), type_='check')
        batch_op.create_check_constraint(op.f('ck_feedback_kind_valid'), sa.text(OLD_KINDS))
        batch_op.drop_column('domain')
        batch_op.drop_column('reason')
