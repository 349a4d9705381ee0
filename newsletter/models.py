"""SQLAlchemy 2 models. Rules that the database can hold (unique, foreign keys, checks) are held there."""

import secrets
from datetime import date, datetime, timezone

from flask_login import UserMixin
from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .extensions import db
from .states import (
    AdminJobKind,
    AdminJobStatus,
    DeliveryStatus,
    HoldStatus,
    ImportJobStatus,
    IssueStatus,
    SubscriptionStatus,
    SystemMailStatus,
)

LANGUAGES = ("en", "fr")
CADENCES = {"weekly": 7, "fortnightly": 14, "monthly": 30, "quarterly": 91, "irregular": 0}
# Every id column is PostgreSQL's integer: a larger number names no row, and comparing with it is a database error.
MAX_ID = 2**31 - 1


def is_id(value: int) -> bool:
    """True if the number can be a row's id (1 to MAX_ID): look it up; otherwise there is nothing to find."""
    return 0 < value <= MAX_ID


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def new_nonce() -> str:
    return secrets.token_urlsafe(12)


class UTCDateTime(TypeDecorator):
    """Stores naive UTC, returns aware UTC: the same values on SQLite and PostgreSQL."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is not None and value.tzinfo is not None:
            value = value.astimezone(timezone.utc).replace(tzinfo=None)
        return value

    def process_result_value(self, value, dialect):
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=timezone.utc)
        return value


def status_check(column: str, enum) -> CheckConstraint:
    values = ", ".join(f"'{member.value}'" for member in enum)
    return CheckConstraint(f"{column} IN ({values})", name=f"{column}_valid")


class User(UserMixin, db.Model):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    is_admin: Mapped[bool] = mapped_column(Boolean, default=False)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    session_nonce: Mapped[str] = mapped_column(String(32), default=new_nonce)
    timezone: Mapped[str | None] = mapped_column(String(64))  # IANA name; None until set (then the browser's)
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Two-factor (TOTP, RFC 6238): the shared secret once enrolled, sealed (two_factor.seal_secret), and the
    # last time step used (no replay).
    totp_secret: Mapped[str | None] = mapped_column(String(255))
    totp_last_step: Mapped[int | None] = mapped_column(BigInteger)

    newsletters: Mapped[list["Newsletter"]] = relationship(back_populates="owner")

    @property
    def has_two_factor(self) -> bool:
        return self.totp_secret is not None

    @property
    def is_active(self) -> bool:  # Flask-Login asks this
        return self.active

    def get_id(self) -> str:
        # The nonce changes with the password, which ends every other session of that user.
        return f"{self.id}:{self.session_nonce}"


class RecoveryCode(db.Model):
    """A single-use code that stands in for the authenticator app; only its hash is kept."""

    __tablename__ = "recovery_codes"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    code_hash: Mapped[str] = mapped_column(String(64))
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class AuditEntry(db.Model):
    """One action of an admin or a publisher (on the pages or through the API) or of a command run on the server:
    who, what, on what, when, from where."""

    __tablename__ = "audit_entries"
    __table_args__ = (CheckConstraint("channel IN ('web', 'api', 'cli')", name="channel_valid"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), index=True)
    # kept when the account is gone; for the command line, "cli:" and the OS user who ran it
    user_email: Mapped[str] = mapped_column(String(254))
    action: Mapped[str] = mapped_column(String(80), index=True)
    target: Mapped[str] = mapped_column(String(300), default="")
    ip: Mapped[str | None] = mapped_column(String(45))
    channel: Mapped[str] = mapped_column(String(8), index=True, default="web", server_default="web")


class LoginThrottle(db.Model):
    """A counter of failed logins (per address-and-IP pair, or per IP) and when the next attempt may come."""

    __tablename__ = "login_throttles"

    key: Mapped[str] = mapped_column(String(128), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    last_failure_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    retry_after: Mapped[datetime] = mapped_column(UTCDateTime)


class Newsletter(db.Model):
    __tablename__ = "newsletters"
    __table_args__ = (
        CheckConstraint("language IN ('en', 'fr')", name="language_valid"),
        CheckConstraint(
            "cadence IN ('weekly', 'fortnightly', 'monthly', 'quarterly', 'irregular')", name="cadence_valid"
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    description: Mapped[str] = mapped_column(Text, default="")
    cadence: Mapped[str] = mapped_column(String(16), default="monthly")
    language: Mapped[str] = mapped_column(String(8), default="en")
    owner_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"), index=True)
    from_name: Mapped[str] = mapped_column(String(120), default="")
    from_email: Mapped[str] = mapped_column(String(254))
    reply_to: Mapped[str] = mapped_column(String(254), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # The last day whose subscription events are counted in event_days (statistics; None: none yet).
    event_days_through: Mapped[date | None] = mapped_column(Date)
    # The publisher's own words and look (Markdown texts; the parts the law requires are added by the app).
    welcome_text: Mapped[str] = mapped_column(Text, default="")
    confirm_text: Mapped[str] = mapped_column(Text, default="")
    logo_key: Mapped[str | None] = mapped_column(String(80))
    accent_color: Mapped[str] = mapped_column(String(7), default="")
    postal_address: Mapped[str] = mapped_column(String(500), default="")

    owner: Mapped[User] = relationship(back_populates="newsletters")

    @property
    def cadence_days(self) -> int:
        return CADENCES.get(self.cadence, 0)


class SendingDomain(db.Model):
    """A publisher's own domain: newsletters sending From it are signed with its DKIM key (d=name)."""

    __tablename__ = "sending_domains"
    __table_args__ = (CheckConstraint("rsa_sealed IS NOT NULL OR key_file IS NOT NULL", name="private_key_kept"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(253), unique=True)
    owner_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    selector: Mapped[str] = mapped_column(String(63))
    rsa_public: Mapped[str] = mapped_column(Text)  # the p= value published in DNS
    rsa_sealed: Mapped[bytes | None] = mapped_column(LargeBinary)  # the private key, encrypted (dkim_keys.seal)
    key_file: Mapped[str | None] = mapped_column(String(500))  # or a PEM file the operator named instead
    ed25519_public: Mapped[str | None] = mapped_column(String(64))
    ed25519_sealed: Mapped[bytes | None] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    checked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    check_passed: Mapped[bool] = mapped_column(Boolean, default=False)
    check_report: Mapped[str | None] = mapped_column(Text)  # the last check's findings, JSON

    owner: Mapped[User] = relationship()

    @property
    def ed25519_selector(self) -> str:
        return f"{self.selector}-ed"


class Subscriber(db.Model):
    """A person, known by one address. Holds no consent: consent is per subscription."""

    __tablename__ = "subscribers"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    email_hmac: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    token_nonce: Mapped[str] = mapped_column(String(32), default=new_nonce)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    subscriptions: Mapped[list["Subscription"]] = relationship(
        back_populates="subscriber", cascade="all, delete-orphan", passive_deletes=True
    )


class ConsentWording(db.Model):
    """The exact sentence a person agreed to, stored once and referred to by its SHA-256."""

    __tablename__ = "consent_wordings"

    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Subscription(db.Model):
    """One person's consent to one newsletter, with its evidence."""

    __tablename__ = "subscriptions"
    __table_args__ = (
        UniqueConstraint("subscriber_id", "newsletter_id"),
        status_check("status", SubscriptionStatus),
        CheckConstraint("status <> 'confirmed' OR confirmed_at IS NOT NULL", name="confirmed_has_evidence"),
        Index("ix_subscriptions_newsletter_status", "newsletter_id", "status", "id"),
        Index("ix_subscriptions_newsletter_paused_until", "newsletter_id", "paused_until"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    subscriber_id: Mapped[int] = mapped_column(ForeignKey("subscribers.id", ondelete="CASCADE"))
    newsletter_id: Mapped[int] = mapped_column(ForeignKey("newsletters.id", ondelete="CASCADE"))
    status: Mapped[str] = mapped_column(String(16), default=SubscriptionStatus.PENDING)
    token_nonce: Mapped[str] = mapped_column(String(32), default=new_nonce)
    consent_at: Mapped[datetime] = mapped_column(UTCDateTime)
    consent_ip: Mapped[str | None] = mapped_column(String(45))
    consent_source: Mapped[str] = mapped_column(String(500))
    consent_wording_sha256: Mapped[str | None] = mapped_column(ForeignKey("consent_wordings.sha256"))
    confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    confirm_ip: Mapped[str | None] = mapped_column(String(45))
    confirm_sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    paused_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    unsubscribed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    unsubscribe_reason: Mapped[str | None] = mapped_column(String(500))
    imported_from: Mapped[str | None] = mapped_column(String(255))
    imported_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    subscriber: Mapped[Subscriber] = relationship(back_populates="subscriptions")
    newsletter: Mapped[Newsletter] = relationship()
    wording: Mapped[ConsentWording | None] = relationship()


class Media(db.Model):
    """An image uploaded for a newsletter, stored under `key` (named by its content) in the media store."""

    __tablename__ = "media"
    __table_args__ = (UniqueConstraint("newsletter_id", "key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    newsletter_id: Mapped[int] = mapped_column(ForeignKey("newsletters.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(String(80), index=True)
    content_type: Mapped[str] = mapped_column(String(32))
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    size: Mapped[int] = mapped_column(Integer)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    newsletter: Mapped["Newsletter"] = relationship()
    created_by: Mapped[User | None] = relationship()


class SubscriptionEvent(db.Model):
    """Append-only ledger of lifecycle events; outlives erasure (then without the subscription link)."""

    __tablename__ = "subscription_events"
    __table_args__ = (
        Index("ix_subscription_events_newsletter_kind_at", "newsletter_id", "kind", "at"),
        Index("ix_subscription_events_issue_kind", "issue_id", "kind"),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    newsletter_id: Mapped[int] = mapped_column(ForeignKey("newsletters.id", ondelete="CASCADE"))
    subscription_id: Mapped[int | None] = mapped_column(
        ForeignKey("subscriptions.id", ondelete="SET NULL"), index=True
    )
    kind: Mapped[str] = mapped_column(String(24))
    reason: Mapped[str | None] = mapped_column(String(500))
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # On a departure: the status left. Only leaving from confirmed lowers the count of confirmed readers.
    from_status: Mapped[str | None] = mapped_column(String(16))
    # On an unsubscribe: the last issue sent to the reader in the 7 days before, which it is put down to.
    issue_id: Mapped[int | None] = mapped_column(ForeignKey("issues.id", ondelete="SET NULL"))

    newsletter: Mapped[Newsletter] = relationship()
    subscription: Mapped[Subscription | None] = relationship()


class Suppression(db.Model):
    """An address that must get no mail, kept only as a keyed hash (HMAC) of the normalised address.

    A row without newsletter is instance-wide (erasure, hard bounce, complaint); with one, it covers that
    newsletter only (a publisher's imported suppression list).
    """

    __tablename__ = "suppressions"
    __table_args__ = (
        Index(
            "uq_suppressions_global",
            "address_hmac",
            unique=True,
            sqlite_where=text("newsletter_id IS NULL"),
            postgresql_where=text("newsletter_id IS NULL"),
        ),
        Index(
            "uq_suppressions_newsletter",
            "address_hmac",
            "newsletter_id",
            unique=True,
            sqlite_where=text("newsletter_id IS NOT NULL"),
            postgresql_where=text("newsletter_id IS NOT NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    address_hmac: Mapped[str] = mapped_column(String(64))
    newsletter_id: Mapped[int | None] = mapped_column(ForeignKey("newsletters.id", ondelete="CASCADE"))
    reason: Mapped[str] = mapped_column(String(24))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class SystemMail(db.Model):
    """A confirmation or welcome mail waiting for the sender; written in the same transaction as its cause."""

    __tablename__ = "system_mails"
    __table_args__ = (Index("ix_system_mails_status_id", "status", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(24))
    recipient: Mapped[str] = mapped_column(String(254))
    envelope_from: Mapped[str] = mapped_column(String(254))
    raw: Mapped[bytes] = mapped_column(LargeBinary)
    status: Mapped[str] = mapped_column(String(16), default=SystemMailStatus.QUEUED)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_error: Mapped[str | None] = mapped_column(String(1000))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Issue(db.Model):
    """One issue of a newsletter: written in Markdown, then sent once to the readers confirmed at the time."""

    __tablename__ = "issues"
    __table_args__ = (
        status_check("status", IssueStatus),
        Index("ix_issues_newsletter_status", "newsletter_id", "status"),
        Index("ix_issues_status_scheduled_at", "status", "scheduled_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    newsletter_id: Mapped[int] = mapped_column(ForeignKey("newsletters.id", ondelete="CASCADE"))
    subject: Mapped[str] = mapped_column(String(300), default="")
    # The inbox preview beside the subject; empty: the first paragraph.
    preheader: Mapped[str] = mapped_column(String(200), default="", server_default="")
    body_markdown: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[str] = mapped_column(String(16), default=IssueStatus.DRAFT)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    scheduled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    discarded_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Keyset cursor over subscriptions: deliveries are created in batches as the send advances.
    enqueue_cursor: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), default=0)
    enqueue_done: Mapped[bool] = mapped_column(Boolean, default=False)
    recipients: Mapped[int] = mapped_column(Integer, default=0)  # deliveries created so far
    planned: Mapped[int] = mapped_column(Integer, default=0)  # readers eligible when the send began
    failure_streak: Mapped[int] = mapped_column(Integer, default=0)
    stop_reason: Mapped[str | None] = mapped_column(String(500))

    newsletter: Mapped[Newsletter] = relationship()
    created_by: Mapped[User | None] = relationship()


class Delivery(db.Model):
    """One issue to one reader: the ledger that makes a send resumable and never doubled."""

    __tablename__ = "deliveries"
    __table_args__ = (
        UniqueConstraint("issue_id", "subscriber_id"),
        status_check("status", DeliveryStatus),
        Index("ix_deliveries_claim", "issue_id", "status", "next_attempt_at", "id"),
        Index("ix_deliveries_subscriber_id", "subscriber_id"),
        Index("ix_deliveries_subscription_sent_at", "subscription_id", "sent_at"),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    issue_id: Mapped[int] = mapped_column(ForeignKey("issues.id", ondelete="CASCADE"))
    # Erasing a reader keeps the row (the issue's figures stay true) without saying who it was.
    subscriber_id: Mapped[int | None] = mapped_column(ForeignKey("subscribers.id", ondelete="SET NULL"))
    subscription_id: Mapped[int | None] = mapped_column(ForeignKey("subscriptions.id", ondelete="SET NULL"))
    status: Mapped[str] = mapped_column(String(16), default=DeliveryStatus.QUEUED)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    lease_owner: Mapped[str | None] = mapped_column(String(64))
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    smtp_code: Mapped[int | None] = mapped_column(Integer)
    smtp_reply: Mapped[str | None] = mapped_column(String(1000))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    issue: Mapped[Issue] = relationship()


class SenderHeartbeat(db.Model):
    """A sending process and its last sign of life: a claim whose holder's beat is older than
    SEND_HEARTBEAT_GRACE is taken over (sending/heartbeats.py)."""

    __tablename__ = "sender_heartbeats"

    owner: Mapped[str] = mapped_column(String(64), primary_key=True)  # the lease_owner of its claims
    kind: Mapped[str] = mapped_column(String(16))  # thread (web process), worker, celery, cli
    host: Mapped[str] = mapped_column(String(255))
    pid: Mapped[int] = mapped_column(Integer)
    # When that process started (seconds since the epoch): a pid taken again by another process is not it.
    process_started: Mapped[float] = mapped_column(Float)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    beat_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class SendHold(db.Model):
    """A receiving domain that refused an issue's mail because of the sender: its part of the send waits for the
    publisher (sending/holds.py)."""

    __tablename__ = "send_holds"
    __table_args__ = (UniqueConstraint("issue_id", "domain"), status_check("status", HoldStatus))

    id: Mapped[int] = mapped_column(primary_key=True)
    issue_id: Mapped[int] = mapped_column(ForeignKey("issues.id", ondelete="CASCADE"))
    domain: Mapped[str] = mapped_column(String(255))
    status: Mapped[str] = mapped_column(String(16), default=HoldStatus.HELD)
    reason: Mapped[str] = mapped_column(String(24))  # the reason table's code of the refusals
    refusals: Mapped[int] = mapped_column(Integer)  # counted when the domain was held
    example: Mapped[str] = mapped_column(String(1000))  # the receiving server's own words
    held_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))

    decided_by: Mapped[User | None] = relationship()


class Feedback(db.Model):
    """A bounce, a complaint or a reply, attributed to the delivery it is about when we can tell."""

    __tablename__ = "feedback"
    __table_args__ = (
        CheckConstraint("kind IN ('hard_bounce', 'soft_bounce', 'sender_refusal', 'complaint', 'opt_out', 'reply')",
                        name="kind_valid"),
        Index("ix_feedback_issue_kind", "issue_id", "kind"),
        Index("ix_feedback_issue_domain", "issue_id", "domain"),
        Index("ix_feedback_subscriber_kind_received", "subscriber_id", "kind", "received_at"),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    source: Mapped[str] = mapped_column(String(16))
    delivery_id: Mapped[int | None] = mapped_column(ForeignKey("deliveries.id", ondelete="SET NULL"))
    issue_id: Mapped[int | None] = mapped_column(ForeignKey("issues.id", ondelete="SET NULL"))
    newsletter_id: Mapped[int | None] = mapped_column(ForeignKey("newsletters.id", ondelete="CASCADE"), index=True)
    subscriber_id: Mapped[int | None] = mapped_column(ForeignKey("subscribers.id", ondelete="SET NULL"))
    status: Mapped[str | None] = mapped_column(String(32))
    # A bounce's reason (newsletter/feedback/reasons.py), which decided its kind; None for the other kinds.
    reason: Mapped[str | None] = mapped_column(String(24))
    # The reader's mail domain when it was recorded: sender-side refusals are reported per receiving domain.
    domain: Mapped[str | None] = mapped_column(String(255))
    diagnostic: Mapped[str | None] = mapped_column(String(1000))
    occurred_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class IssueStats(db.Model):
    """An issue's delivery counts, written once its send is over, so pages need not count every delivery.

    After that, only a bounce changes a delivery (sent or unknown -> bounced): stats counts those live.
    """

    __tablename__ = "issue_stats"

    issue_id: Mapped[int] = mapped_column(ForeignKey("issues.id", ondelete="CASCADE"), primary_key=True)
    sent: Mapped[int] = mapped_column(Integer)
    failed: Mapped[int] = mapped_column(Integer)
    bounced: Mapped[int] = mapped_column(Integer)
    skipped: Mapped[int] = mapped_column(Integer)
    unknown: Mapped[int] = mapped_column(Integer)
    settled_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class EventDay(db.Model):
    """Subscription events of a newsletter counted per UTC day and kind, for days that are over.

    `kind` is an event kind, or "left_confirmed" for departures from the confirmed status.
    """

    __tablename__ = "event_days"

    newsletter_id: Mapped[int] = mapped_column(ForeignKey("newsletters.id", ondelete="CASCADE"), primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    kind: Mapped[str] = mapped_column(String(24), primary_key=True)
    count: Mapped[int] = mapped_column(Integer)


class ApiToken(db.Model):
    """A bearer token of the JSON API, acting as its user. Only the SHA-256 of the secret is kept."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    secret_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    user: Mapped[User] = relationship()


class ImportJob(db.Model):
    """One uploaded file checked, then imported, by a background worker (importer/jobs.py); the progress page
    reads it. The file waits in instance/uploads/<upload_id>.csv until the job ends."""

    __tablename__ = "import_jobs"
    __table_args__ = (status_check("status", ImportJobStatus), Index("ix_import_jobs_status", "status"),
                      Index("ix_import_jobs_user_status", "user_id", "status"))

    id: Mapped[int] = mapped_column(primary_key=True)
    newsletter_id: Mapped[int] = mapped_column(ForeignKey("newsletters.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    upload_id: Mapped[str] = mapped_column(String(64), unique=True)
    file_name: Mapped[str] = mapped_column(String(255))
    file_bytes: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), default=0)
    suppress: Mapped[bool] = mapped_column(Boolean, default=False)
    strict: Mapped[bool] = mapped_column(Boolean, default=False)
    share_url: Mapped[str] = mapped_column(String(500))  # where a refusal points (the caller knows the route)
    status: Mapped[str] = mapped_column(String(16), default=ImportJobStatus.CHECKING)
    phase: Mapped[str] = mapped_column(String(16), default="")  # writer.READING or WRITING while running
    fraction: Mapped[float] = mapped_column(default=0.0)  # of the phase
    rows_read: Mapped[int] = mapped_column(Integer, default=0)
    rows_refused: Mapped[int] = mapped_column(Integer, default=0)
    rows_written: Mapped[int] = mapped_column(Integer, default=0)
    report: Mapped[str | None] = mapped_column(Text)  # the ImportReport as JSON once the step is done
    refusal: Mapped[str | None] = mapped_column(Text)  # why the file was refused as a whole, or why it failed
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    lease_owner: Mapped[str | None] = mapped_column(String(64))
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    phase_started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    newsletter: Mapped[Newsletter] = relationship()


class AdminJob(db.Model):
    """A long admin action run by a background worker (admin_jobs/), of a kind (for now the readers export); its
    page reads it. An export's file waits in instance/exports/<file_id>.csv until it is deleted or expires."""

    __tablename__ = "admin_jobs"
    __table_args__ = (status_check("status", AdminJobStatus), status_check("kind", AdminJobKind),
                      Index("ix_admin_jobs_status", "status"), Index("ix_admin_jobs_user_status", "user_id", "status"))

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    newsletter_id: Mapped[int | None] = mapped_column(ForeignKey("newsletters.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))  # who asked
    status: Mapped[str] = mapped_column(String(16), default=AdminJobStatus.QUEUED)
    rows_done: Mapped[int] = mapped_column(Integer, default=0)
    rows_total: Mapped[int | None] = mapped_column(Integer)  # known once a runner starts it
    file_id: Mapped[str | None] = mapped_column(String(64), unique=True)  # the file it writes, if any
    file_bytes: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), default=0)
    refusal: Mapped[str | None] = mapped_column(Text)  # why it failed
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    lease_owner: Mapped[str | None] = mapped_column(String(64))
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    newsletter: Mapped[Newsletter | None] = relationship()
