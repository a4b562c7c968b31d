"""The operational store's tables (SQLAlchemy 2 typed declarative models).

Conventions: money is integer fen in ``*_fen`` BigInteger columns (never floats); business dates
are ``Date``; instants are timezone-aware and handed back in UTC (``UTCDateTime``). Enumerated
text columns carry a CHECK constraint listing their values (the tuples below are the single
definition). The schema is created by the hand-written Alembic migrations in
``overdue/store/migrations/versions``; ``tests/store`` proves the migrations and these models agree.
"""

from __future__ import annotations

from datetime import date, datetime, time
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    Time,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from overdue.domain.channels import CHANNELS
from overdue.store.types import BigId, UTCDateTime

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

TEAM_KINDS = ("collection", "customer_service", "risk", "legal", "agency")
ROLES = (
    "admin",
    "manager",
    "analyst",
    "collector",
    "agency",
    "customer_service",
    "auditor",
)
LANGUAGES = ("zh-CN", "en")
CONTACT_POINT_KINDS = ("phone", "email", "address", "app")
CONTACT_RELATIONS = ("debtor", "emergency_contact")
CASE_STATUSES = ("open", "paused", "closed")
CLOSE_REASONS = ("cured", "settled", "charged_off_placed", "written_off")
PAUSE_REASONS = ("dispute", "hardship")
PROMISE_STATUSES = ("pending", "kept", "broken", "cancelled")
TRANSFER_REASONS = ("dispute", "hardship", "fraud", "legal", "other")
TRANSFER_STATUSES = ("open", "resolved", "rejected")
PLAN_STATUSES = ("proposed", "active", "completed", "broken", "cancelled", "rejected")
INSTALLMENT_STATUSES = ("due", "paid", "missed")
SETTLEMENT_STATUSES = ("proposed", "active", "paid", "broken", "cancelled", "rejected")
APPROVAL_KINDS = ("waiver", "plan", "settlement")
APPROVAL_STATUSES = ("pending", "approved", "rejected")
COMPLAINT_STATUSES = ("open", "resolved")
OUTBOX_STATUSES = ("queued", "sending", "sent", "failed", "dead")
INBOUND_KINDS = ("payment", "delivery_receipt", "call_outcome", "reply")
CASE_EVENT_KINDS = (
    "opened",
    "updated",
    "bucket_changed",
    "paused",
    "resumed",
    "closed",
    "reopened",
)


def one_of(column: str, values: tuple[str, ...]) -> CheckConstraint:
    """A CHECK constraint named ``<column>_values`` allowing exactly ``values``."""
    quoted = ", ".join(f"'{v}'" for v in values)
    return CheckConstraint(f"{column} IN ({quoted})", name=f"{column}_values")


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        datetime: UTCDateTime(),
        dict[str, Any]: JSON(),
        list[Any]: JSON(),
    }


# --- people -------------------------------------------------------------------------------


class Team(Base):
    __tablename__ = "teams"
    __table_args__ = (one_of("kind", TEAM_KINDS),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    kind: Mapped[str] = mapped_column(String(20))


class Agency(Base):
    __tablename__ = "agencies"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    daily_contact_allowance: Mapped[int] = mapped_column(Integer, default=1000)


class User(Base):
    """A person who logs in. ``skills`` = {"languages": [...], "buckets": [...]};
    ``capacity`` = contacts per day; ``max_open_cases`` = limit of open cases assigned at once."""

    __tablename__ = "users"
    __table_args__ = (
        one_of("role", ROLES),
        one_of("language", LANGUAGES),
        CheckConstraint("max_open_cases >= 0", name="max_open_cases_nonnegative"),
        CheckConstraint("capacity >= 0", name="capacity_nonnegative"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    username: Mapped[str] = mapped_column(String(80), unique=True)
    display_name: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(20))
    team_id: Mapped[int | None] = mapped_column(ForeignKey("teams.id"))
    agency_id: Mapped[int | None] = mapped_column(ForeignKey("agencies.id"))
    language: Mapped[str] = mapped_column(String(8), default="zh-CN")
    password_hash: Mapped[str] = mapped_column(String(255))
    skills: Mapped[dict[str, Any]] = mapped_column(default=dict)
    capacity: Mapped[int] = mapped_column(Integer, default=80)
    max_open_cases: Mapped[int] = mapped_column(Integer, default=500)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime]


class WebSession(Base):
    __tablename__ = "web_sessions"

    token_hash: Mapped[str] = mapped_column(String(128), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    csrf_token: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime] = mapped_column(index=True)
    last_seen_at: Mapped[datetime]


class LoginAttempt(Base):
    __tablename__ = "login_attempts"
    __table_args__ = (
        Index("ix_login_attempts_username_at", "username", "at"),
        Index("ix_login_attempts_ip_at", "ip", "at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    username: Mapped[str] = mapped_column(String(80))
    ip: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime]
    ok: Mapped[bool] = mapped_column(Boolean)


# --- customers and accounts -----------------------------------------------------------------


class Customer(Base):
    """A debtor. ``synthetic`` marks generated phone/e-mail/ID (the book carries none).
    ``contact_window_*`` override the profile's local contact hours when the debtor agreed."""

    __tablename__ = "customers"
    __table_args__ = (one_of("language", LANGUAGES),)

    customer_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str | None] = mapped_column(String(200))
    phone: Mapped[str | None] = mapped_column(String(40))
    email: Mapped[str | None] = mapped_column(String(200))
    address: Mapped[str | None] = mapped_column(String(400))
    id_number: Mapped[str | None] = mapped_column(String(40))
    language: Mapped[str] = mapped_column(String(8), default="zh-CN")
    time_zone: Mapped[str] = mapped_column(String(64), default="Asia/Shanghai")
    region: Mapped[str | None] = mapped_column(String(100))
    segment: Mapped[str | None] = mapped_column(String(100))
    synthetic: Mapped[bool] = mapped_column(Boolean, default=False)
    do_not_contact: Mapped[bool] = mapped_column(Boolean, default=False)
    dispute: Mapped[bool] = mapped_column(Boolean, default=False)
    hardship: Mapped[bool] = mapped_column(Boolean, default=False)
    vulnerable: Mapped[bool] = mapped_column(Boolean, default=False)
    deceased: Mapped[bool] = mapped_column(Boolean, default=False)
    bankruptcy: Mapped[bool] = mapped_column(Boolean, default=False)
    cease_communication: Mapped[bool] = mapped_column(Boolean, default=False)
    contact_window_start: Mapped[time | None] = mapped_column(Time)
    contact_window_end: Mapped[time | None] = mapped_column(Time)
    personal_data_purged_on: Mapped[date | None] = mapped_column(Date)
    updated_on: Mapped[date | None] = mapped_column(Date)


class ContactPoint(Base):
    __tablename__ = "contact_points"
    __table_args__ = (one_of("kind", CONTACT_POINT_KINDS), one_of("relation", CONTACT_RELATIONS))

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    customer_id: Mapped[str] = mapped_column(ForeignKey("customers.customer_id"), index=True)
    kind: Mapped[str] = mapped_column(String(10))
    value: Mapped[str] = mapped_column(String(400))
    is_primary: Mapped[bool] = mapped_column(Boolean, default=False)
    relation: Mapped[str] = mapped_column(String(20), default="debtor")
    synthetic: Mapped[bool] = mapped_column(Boolean, default=False)


class ChannelPreference(Base):
    __tablename__ = "channel_preferences"
    __table_args__ = (
        UniqueConstraint("customer_id", "channel", name="uq_channel_preferences_customer_channel"),
        one_of("channel", CHANNELS),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    customer_id: Mapped[str] = mapped_column(ForeignKey("customers.customer_id"))
    channel: Mapped[str] = mapped_column(String(20))
    consent: Mapped[bool] = mapped_column(Boolean, default=True)
    opted_out: Mapped[bool] = mapped_column(Boolean, default=False)
    opted_out_at: Mapped[datetime | None]
    source: Mapped[str | None] = mapped_column(String(100))


class Account(Base):
    """Mirror of the book's account and its latest snapshot figures (what cases need)."""

    __tablename__ = "accounts"

    account_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    customer_id: Mapped[str] = mapped_column(ForeignKey("customers.customer_id"), index=True)
    product: Mapped[str] = mapped_column(String(20))
    policy: Mapped[str] = mapped_column(String(100))
    currency: Mapped[str] = mapped_column(String(3), default="CNY")
    opened_on: Mapped[date | None] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(20))
    dpd: Mapped[int] = mapped_column(Integer, default=0)
    bucket_cn: Mapped[str] = mapped_column(String(4))
    total_overdue_fen: Mapped[int] = mapped_column(BigInteger, default=0)
    charged_off_on: Mapped[date | None] = mapped_column(Date)
    snapshot_as_of: Mapped[date] = mapped_column(Date)


# --- cases, queues, assignment ----------------------------------------------------------------


class Queue(Base):
    """A work queue; null bucket/segment/language = any. ``capacity`` = open cases it may hold."""

    __tablename__ = "queues"
    __table_args__ = (CheckConstraint("sla_days >= 0", name="sla_days_nonnegative"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    bucket: Mapped[str | None] = mapped_column(String(4))
    segment: Mapped[str | None] = mapped_column(String(100))
    language: Mapped[str | None] = mapped_column(String(8))
    team_id: Mapped[int | None] = mapped_column(ForeignKey("teams.id"))
    sla_days: Mapped[int] = mapped_column(Integer, default=3)
    capacity: Mapped[int] = mapped_column(Integer, default=100000)


class Case(Base):
    """One collection case per delinquent account episode. ``priority_score`` is the expected
    collectable amount in fen (score × balance), an integer sort key."""

    __tablename__ = "cases"
    __table_args__ = (
        one_of("status", CASE_STATUSES),
        one_of("close_reason", CLOSE_REASONS),
        one_of("language", LANGUAGES),
        CheckConstraint("overdue_fen >= 0", name="overdue_nonnegative"),
        CheckConstraint("balance_fen >= 0", name="balance_nonnegative"),
        CheckConstraint(
            "(status = 'closed') = (closed_on IS NOT NULL)", name="closed_on_iff_closed"
        ),
        Index("ix_cases_assigned_status_priority", "assigned_user_id", "status", "priority_score"),
        Index("ix_cases_queue_status", "queue", "status", "priority_score"),
        Index("ix_cases_account_status", "account_id", "status"),
        Index("ix_cases_agency_status", "agency_id", "status"),
        Index("ix_cases_status_priority", "status", "priority_score"),
    )

    case_id: Mapped[int] = mapped_column(BigId, primary_key=True)
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.account_id"))
    customer_id: Mapped[str] = mapped_column(ForeignKey("customers.customer_id"), index=True)
    status: Mapped[str] = mapped_column(String(10), default="open")
    opened_on: Mapped[date] = mapped_column(Date)
    closed_on: Mapped[date | None] = mapped_column(Date)
    close_reason: Mapped[str | None] = mapped_column(String(30))
    dpd: Mapped[int] = mapped_column(Integer)
    bucket_cn: Mapped[str] = mapped_column(String(4))
    overdue_fen: Mapped[int] = mapped_column(BigInteger)
    principal_fen: Mapped[int] = mapped_column(BigInteger, default=0)
    interest_fen: Mapped[int] = mapped_column(BigInteger, default=0)
    fee_fen: Mapped[int] = mapped_column(BigInteger, default=0)
    penalty_fen: Mapped[int] = mapped_column(BigInteger, default=0)
    balance_fen: Mapped[int] = mapped_column(BigInteger)
    queue: Mapped[str | None] = mapped_column(String(100))
    segment: Mapped[str | None] = mapped_column(String(100))
    language: Mapped[str] = mapped_column(String(8), default="zh-CN")
    score: Mapped[float | None] = mapped_column(Float)  # a probability in 0..1, never money
    score_model_version: Mapped[str | None] = mapped_column(String(100))
    priority_score: Mapped[int] = mapped_column(BigInteger, default=0)
    assigned_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    team_id: Mapped[int | None] = mapped_column(ForeignKey("teams.id"))
    agency_id: Mapped[int | None] = mapped_column(ForeignKey("agencies.id"))
    pause_reason: Mapped[str | None] = mapped_column(String(30))
    next_promise_on: Mapped[date | None] = mapped_column(Date)
    sla_due_on: Mapped[date | None] = mapped_column(Date)
    last_contact_at: Mapped[datetime | None]
    updated_on: Mapped[date] = mapped_column(Date)


class CaseEvent(Base):
    """Status and bucket changes of a case (for the timeline)."""

    __tablename__ = "case_events"
    __table_args__ = (one_of("kind", CASE_EVENT_KINDS),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.case_id"), index=True)
    on: Mapped[date] = mapped_column(Date)
    at: Mapped[datetime]
    kind: Mapped[str] = mapped_column(String(20))
    detail: Mapped[str | None] = mapped_column(String(400))


class Assignment(Base):
    """History of who held a case (user, team or agency), from ``assigned_at`` to ``ended_at``."""

    __tablename__ = "assignments"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.case_id"), index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    team_id: Mapped[int | None] = mapped_column(ForeignKey("teams.id"))
    agency_id: Mapped[int | None] = mapped_column(ForeignKey("agencies.id"))
    assigned_at: Mapped[datetime]
    assigned_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    ended_at: Mapped[datetime | None]
    reason: Mapped[str | None] = mapped_column(String(200))


# --- contacts, promises, payments -------------------------------------------------------------


class ContactAttempt(Base):
    __tablename__ = "contact_attempts"
    __table_args__ = (
        one_of("channel", CHANNELS),
        Index("ix_contact_attempts_case_at", "case_id", "attempted_at"),
        Index("ix_contact_attempts_customer_at", "customer_id", "attempted_at"),
        Index("ix_contact_attempts_user_at", "user_id", "attempted_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.case_id"))
    customer_id: Mapped[str] = mapped_column(ForeignKey("customers.customer_id"))
    account_id: Mapped[str | None] = mapped_column(ForeignKey("accounts.account_id"))
    channel: Mapped[str] = mapped_column(String(20))
    to_address: Mapped[str | None] = mapped_column(String(400))  # masked when shown
    attempted_at: Mapped[datetime]
    time_zone: Mapped[str] = mapped_column(String(64))
    connected: Mapped[bool] = mapped_column(Boolean, default=False)
    right_party: Mapped[bool] = mapped_column(Boolean, default=False)
    conversation: Mapped[bool] = mapped_column(Boolean, default=False)
    outcome: Mapped[str | None] = mapped_column(String(40))
    recording_ref: Mapped[str | None] = mapped_column(String(400))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    agency_id: Mapped[int | None] = mapped_column(ForeignKey("agencies.id"))
    blocked_rule: Mapped[str | None] = mapped_column(String(40))
    strategy: Mapped[str | None] = mapped_column(String(100))
    strategy_version: Mapped[str | None] = mapped_column(String(100))
    segment: Mapped[str | None] = mapped_column(String(100))
    arm: Mapped[str | None] = mapped_column(String(100))
    contact_id: Mapped[str | None] = mapped_column(String(64), unique=True)


class Promise(Base):
    __tablename__ = "promises"
    __table_args__ = (
        one_of("status", PROMISE_STATUSES),
        CheckConstraint("amount_fen > 0", name="amount_positive"),
        CheckConstraint("kept_amount_fen >= 0", name="kept_amount_nonnegative"),
        Index("ix_promises_status_date", "status", "promised_date"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.case_id"), index=True)
    amount_fen: Mapped[int] = mapped_column(BigInteger)
    promised_date: Mapped[date] = mapped_column(Date)
    promised_on: Mapped[date] = mapped_column(Date)  # business date the promise was made
    status: Mapped[str] = mapped_column(String(10), default="pending")
    decided_on: Mapped[date | None] = mapped_column(Date)
    kept_amount_fen: Mapped[int] = mapped_column(BigInteger, default=0)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime]
    contact_attempt_id: Mapped[int | None] = mapped_column(ForeignKey("contact_attempts.id"))
    reminder_due_on: Mapped[date | None] = mapped_column(Date)
    reminder_sent_on: Mapped[date | None] = mapped_column(Date)


class Payment(Base):
    __tablename__ = "payments"
    __table_args__ = (
        CheckConstraint("amount_fen > 0", name="amount_positive"),
        Index("ix_payments_account_value_date", "account_id", "value_date"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    payment_id: Mapped[str] = mapped_column(String(64), unique=True)
    account_id: Mapped[str] = mapped_column(String(64))  # may arrive before the account mirror
    amount_fen: Mapped[int] = mapped_column(BigInteger)
    value_date: Mapped[date] = mapped_column(Date)
    received_at: Mapped[datetime]
    source: Mapped[str] = mapped_column(String(40))


class PaymentReversal(Base):
    __tablename__ = "payment_reversals"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    payment_id: Mapped[str] = mapped_column(ForeignKey("payments.payment_id"), unique=True)
    reversed_on: Mapped[date] = mapped_column(Date)
    received_at: Mapped[datetime]
    reason: Mapped[str | None] = mapped_column(String(200))


class Note(Base):
    __tablename__ = "notes"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.case_id"), index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime]
    body: Mapped[str] = mapped_column(Text)


class Transfer(Base):
    __tablename__ = "transfers"
    __table_args__ = (one_of("reason", TRANSFER_REASONS), one_of("status", TRANSFER_STATUSES))

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.case_id"), index=True)
    from_team_id: Mapped[int | None] = mapped_column(ForeignKey("teams.id"))
    to_team_id: Mapped[int] = mapped_column(ForeignKey("teams.id"))
    reason: Mapped[str] = mapped_column(String(20))
    status: Mapped[str] = mapped_column(String(10), default="open")
    note: Mapped[str | None] = mapped_column(Text)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime]
    resolved_at: Mapped[datetime | None]
    resolution: Mapped[str | None] = mapped_column(Text)


class Placement(Base):
    __tablename__ = "placements"
    __table_args__ = (
        Index("ix_placements_agency_recalled", "agency_id", "recalled_on"),
        CheckConstraint("daily_contact_allowance >= 0", name="allowance_nonnegative"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.case_id"), index=True)
    agency_id: Mapped[int] = mapped_column(ForeignKey("agencies.id"))
    placed_on: Mapped[date] = mapped_column(Date)
    recalled_on: Mapped[date | None] = mapped_column(Date)
    daily_contact_allowance: Mapped[int] = mapped_column(Integer, default=3)
    placed_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    recall_reason: Mapped[str | None] = mapped_column(String(200))


# --- plans, settlements, approvals ------------------------------------------------------------


class Approval(Base):
    """Maker-checker request; ``approved_by`` is whoever decided (approved or rejected)."""

    __tablename__ = "approvals"
    __table_args__ = (
        one_of("kind", APPROVAL_KINDS),
        one_of("status", APPROVAL_STATUSES),
        CheckConstraint("amount_fen >= 0", name="amount_nonnegative"),
        CheckConstraint(
            "approved_by IS NULL OR approved_by <> proposed_by", name="maker_is_not_checker"
        ),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    kind: Mapped[str] = mapped_column(String(12))
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.case_id"), index=True)
    amount_fen: Mapped[int] = mapped_column(BigInteger)
    proposed_by: Mapped[int] = mapped_column(ForeignKey("users.id"))
    proposed_at: Mapped[datetime]
    approved_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    status: Mapped[str] = mapped_column(String(10), default="pending")
    decided_at: Mapped[datetime | None]
    reason: Mapped[str | None] = mapped_column(Text)
    details: Mapped[dict[str, Any]] = mapped_column(default=dict)


class Plan(Base):
    __tablename__ = "plans"
    __table_args__ = (
        one_of("status", PLAN_STATUSES),
        CheckConstraint("total_fen > 0", name="total_positive"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.case_id"), index=True)
    total_fen: Mapped[int] = mapped_column(BigInteger)
    installments: Mapped[int] = mapped_column(Integer)
    grace_days: Mapped[int] = mapped_column(Integer, default=0)
    status: Mapped[str] = mapped_column(String(10), default="proposed")
    created_on: Mapped[date] = mapped_column(Date)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    approval_id: Mapped[int | None] = mapped_column(ForeignKey("approvals.id"))
    decided_on: Mapped[date | None] = mapped_column(Date)


class PlanInstallment(Base):
    __tablename__ = "plan_installments"
    __table_args__ = (
        UniqueConstraint("plan_id", "seq", name="uq_plan_installments_plan_seq"),
        one_of("status", INSTALLMENT_STATUSES),
        CheckConstraint("amount_fen > 0", name="amount_positive"),
        CheckConstraint("paid_fen >= 0", name="paid_nonnegative"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("plans.id", ondelete="CASCADE"))
    seq: Mapped[int] = mapped_column(Integer)
    due_on: Mapped[date] = mapped_column(Date)
    amount_fen: Mapped[int] = mapped_column(BigInteger)
    paid_fen: Mapped[int] = mapped_column(BigInteger, default=0)
    status: Mapped[str] = mapped_column(String(10), default="due")


class Settlement(Base):
    __tablename__ = "settlements"
    __table_args__ = (
        one_of("status", SETTLEMENT_STATUSES),
        CheckConstraint("amount_fen > 0", name="amount_positive"),
        CheckConstraint("discount_fen >= 0", name="discount_nonnegative"),
        CheckConstraint("amount_fen + discount_fen = overdue_fen", name="amount_plus_discount"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.case_id"), index=True)
    overdue_fen: Mapped[int] = mapped_column(BigInteger)
    amount_fen: Mapped[int] = mapped_column(BigInteger)  # the discounted amount to pay
    discount_fen: Mapped[int] = mapped_column(BigInteger)
    due_on: Mapped[date] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(10), default="proposed")
    created_on: Mapped[date] = mapped_column(Date)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    approval_id: Mapped[int | None] = mapped_column(ForeignKey("approvals.id"))
    decided_on: Mapped[date | None] = mapped_column(Date)
    paid_fen: Mapped[int] = mapped_column(BigInteger, default=0)


# --- complaints and quality -------------------------------------------------------------------


LEDGER_WAIVER_COMPONENTS = ("fee", "penalty", "interest", "principal")
LEDGER_WAIVER_SOURCES = ("waiver", "settlement")


class LedgerWaiver(Base):
    """A reduction approved in the operation, to be booked into the book's ``waivers`` table
    (``overdue cases export-waivers``): an approved waiver, or a paid settlement's discount.
    ``exported_on`` is the book's ``entry_date`` of the row once exported."""

    __tablename__ = "ledger_waivers"
    __table_args__ = (
        one_of("component", LEDGER_WAIVER_COMPONENTS),
        one_of("source", LEDGER_WAIVER_SOURCES),
        CheckConstraint("amount_fen > 0", name="amount_positive"),
        Index("ix_ledger_waivers_exported_on", "exported_on"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    waiver_id: Mapped[str] = mapped_column(String(64), unique=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.case_id"))
    account_id: Mapped[str] = mapped_column(String(64))
    value_date: Mapped[date] = mapped_column(Date)
    component: Mapped[str] = mapped_column(String(10))
    amount_fen: Mapped[int] = mapped_column(BigInteger)
    approver: Mapped[str] = mapped_column(String(64))
    source: Mapped[str] = mapped_column(String(12))
    source_id: Mapped[int] = mapped_column(BigInteger)
    exported_on: Mapped[date | None] = mapped_column(Date)


class Complaint(Base):
    __tablename__ = "complaints"
    __table_args__ = (
        one_of("status", COMPLAINT_STATUSES),
        Index("ix_complaints_received_at", "received_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    customer_id: Mapped[str | None] = mapped_column(ForeignKey("customers.customer_id"))
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.case_id"))
    received_at: Mapped[datetime]
    channel: Mapped[str] = mapped_column(String(40))
    category: Mapped[str] = mapped_column(String(40))
    description: Mapped[str | None] = mapped_column(Text)
    contact_attempt_id: Mapped[int | None] = mapped_column(ForeignKey("contact_attempts.id"))
    collector_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    agency_id: Mapped[int | None] = mapped_column(ForeignKey("agencies.id"))
    status: Mapped[str] = mapped_column(String(10), default="open")
    resolution: Mapped[str | None] = mapped_column(Text)
    resolved_at: Mapped[datetime | None]
    sla_due_at: Mapped[datetime]
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))


class QualityReview(Base):
    __tablename__ = "quality_reviews"
    __table_args__ = (CheckConstraint("score >= 0 AND score <= 100", name="score_range"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    contact_attempt_id: Mapped[int] = mapped_column(ForeignKey("contact_attempts.id"), index=True)
    reviewer_user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    reviewed_at: Mapped[datetime]
    collector_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    agency_id: Mapped[int | None] = mapped_column(ForeignKey("agencies.id"))
    checklist_scores: Mapped[dict[str, Any]] = mapped_column(default=dict)
    violations: Mapped[list[Any]] = mapped_column(default=list)
    score: Mapped[int] = mapped_column(Integer)


# --- audit ------------------------------------------------------------------------------------


class AuditEntry(Base):
    """Append-only: a trigger created by the migration refuses UPDATE and DELETE."""

    __tablename__ = "audit_log"
    __table_args__ = (
        Index("ix_audit_log_entity", "entity", "entity_id"),
        Index("ix_audit_log_actor_at", "actor_user_id", "at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    at: Mapped[datetime] = mapped_column(index=True)
    actor_user_id: Mapped[int | None] = mapped_column(BigInteger)  # no FK: outlives users
    actor_role: Mapped[str] = mapped_column(String(20))
    action: Mapped[str] = mapped_column(String(60))
    entity: Mapped[str] = mapped_column(String(40))
    entity_id: Mapped[str | None] = mapped_column(String(64))
    reason: Mapped[str | None] = mapped_column(Text)
    details: Mapped[dict[str, Any]] = mapped_column(default=dict)


# --- outbox and inbound events (logic: DISPATCH helper) ---------------------------------------


class OutboxMessage(Base):
    __tablename__ = "outbox"
    __table_args__ = (
        one_of("status", OUTBOX_STATUSES),
        Index("ix_outbox_status_next_attempt", "status", "next_attempt_at"),
        Index("ix_outbox_customer_sent", "customer_id", "sent_at"),  # migration 0002
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    idempotency_key: Mapped[str] = mapped_column(String(64), unique=True)
    channel: Mapped[str] = mapped_column(String(20))
    to_address: Mapped[str] = mapped_column(String(400))
    subject: Mapped[str | None] = mapped_column(String(400))
    body: Mapped[str] = mapped_column(Text)
    payload: Mapped[dict[str, Any]] = mapped_column(default=dict)
    status: Mapped[str] = mapped_column(String(10), default="queued")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime]
    locked_at: Mapped[datetime | None]
    locked_by: Mapped[str | None] = mapped_column(String(100))
    sent_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]
    as_of: Mapped[date] = mapped_column(Date)
    case_id: Mapped[int | None] = mapped_column(BigInteger)
    customer_id: Mapped[str] = mapped_column(String(64))
    account_id: Mapped[str] = mapped_column(String(64))


class InboundEvent(Base):
    __tablename__ = "inbound_events"
    __table_args__ = (
        UniqueConstraint("kind", "external_id", name="uq_inbound_events_kind_external_id"),
        one_of("kind", INBOUND_KINDS),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))
    external_id: Mapped[str] = mapped_column(String(128))
    payload: Mapped[dict[str, Any]] = mapped_column(default=dict)
    received_at: Mapped[datetime]
    processed_at: Mapped[datetime | None]
