"""The complaints register: received, channel, category, the contact and collector or agency it
concerns, resolution and SLA; the complaint rate per 1,000 contacts feeds the dashboard."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from overdue.cases import audit
from overdue.cases.access import Actor, Conflict, NotFound, require
from overdue.cases.clock import instant
from overdue.store.tables import Complaint, ContactAttempt, Customer

CATEGORIES = (
    "harassment",
    "wrong_amount",
    "third_party_contact",
    "rudeness",
    "privacy",
    "too_many_contacts",
    "other",
)
DEFAULT_SLA_DAYS = 15
MAX_TEXT_CHARS = 4000
MAX_BREACH_ROWS = 10_000


def register_complaint(
    session: Session,
    actor: Actor,
    *,
    customer_id: str,
    channel: str,
    category: str,
    description: str | None = None,
    case_id: int | None = None,
    contact_attempt_id: int | None = None,
    received_at: datetime | None = None,
    sla_days: int = DEFAULT_SLA_DAYS,
) -> int:
    """Register a complaint; the collector and agency come from the linked contact. Returns id."""
    require(actor, "complaint")
    if category not in CATEGORIES:
        raise ValueError(f"category: {category!r} is not one of {', '.join(CATEGORIES)}")
    if description is not None and len(description) > MAX_TEXT_CHARS:
        raise ValueError(f"description: longer than {MAX_TEXT_CHARS} characters")
    if not 0 < sla_days <= 90:
        raise ValueError(f"sla_days: {sla_days} must be between 1 and 90")
    if session.get(Customer, customer_id) is None:
        raise NotFound(f"customer {customer_id}: not found")
    collector, agency = None, None
    if contact_attempt_id is not None:
        contact = session.get(ContactAttempt, contact_attempt_id)
        if contact is None or contact.customer_id != customer_id:
            raise NotFound(f"contact {contact_attempt_id}: not a contact with {customer_id}")
        collector, agency = contact.user_id, contact.agency_id
        case_id = case_id if case_id is not None else contact.case_id
    when = instant(received_at)
    complaint = Complaint(
        customer_id=customer_id,
        case_id=case_id,
        received_at=when,
        channel=channel[:40],
        category=category,
        description=description,
        contact_attempt_id=contact_attempt_id,
        collector_user_id=collector,
        agency_id=agency,
        status="open",
        sla_due_at=when + timedelta(days=sla_days),
        created_by=actor.user_id or None,
    )
    session.add(complaint)
    session.flush()
    audit.record(
        session,
        actor,
        "register_complaint",
        "complaint",
        complaint.id,
        details={"category": category, "case_id": case_id},
        at=when,
    )
    return complaint.id


def resolve_complaint(
    session: Session,
    actor: Actor,
    complaint_id: int,
    *,
    resolution: str,
    at: datetime | None = None,
) -> None:
    require(actor, "complaint")
    complaint = session.get(Complaint, complaint_id)
    if complaint is None:
        raise NotFound(f"complaint {complaint_id}: not found")
    if complaint.status != "open":
        raise Conflict(f"complaint {complaint_id}: already resolved")
    if not resolution.strip() or len(resolution) > MAX_TEXT_CHARS:
        raise ValueError(f"resolution: 1 to {MAX_TEXT_CHARS} characters")
    when = instant(at)
    complaint.status = "resolved"
    complaint.resolution = resolution
    complaint.resolved_at = when
    audit.record(session, actor, "resolve_complaint", "complaint", complaint_id, at=when)


def overdue_complaints(session: Session, now: datetime) -> list[Complaint]:
    """Open complaints past their SLA."""
    return list(
        session.scalars(
            select(Complaint)
            .where(Complaint.status == "open", Complaint.sla_due_at < now)
            .order_by(Complaint.sla_due_at)
            .limit(MAX_BREACH_ROWS)
        )
    )


@dataclass(frozen=True)
class ComplaintRate:
    who: str  # "all", "user:<id>" or "agency:<id>"
    complaints: int
    contacts: int
    per_thousand: Decimal


def _rate(who: str, complaints: int, contacts: int) -> ComplaintRate:
    per = Decimal(0) if contacts == 0 else Decimal(complaints * 1000) / Decimal(contacts)
    return ComplaintRate(who, complaints, contacts, per.quantize(Decimal("0.01")))


def complaint_rates(session: Session, start: date, end: date) -> list[ComplaintRate]:
    """Complaints per 1,000 contacts made (not blocked) from ``start`` to ``end`` (UTC days):
    overall first, then per collector and per agency."""
    first = datetime.combine(start, time(), UTC)
    after = datetime.combine(end + timedelta(days=1), time(), UTC)
    contact_filter = (
        ContactAttempt.attempted_at >= first,
        ContactAttempt.attempted_at < after,
        ContactAttempt.blocked_rule.is_(None),
    )
    complaint_filter = (Complaint.received_at >= first, Complaint.received_at < after)
    total_contacts = session.scalar(
        select(func.count()).select_from(ContactAttempt).where(*contact_filter)
    )
    total_complaints = session.scalar(
        select(func.count()).select_from(Complaint).where(*complaint_filter)
    )
    rates = [_rate("all", int(total_complaints or 0), int(total_contacts or 0))]
    for column, complaint_column, label in (
        (ContactAttempt.user_id, Complaint.collector_user_id, "user"),
        (ContactAttempt.agency_id, Complaint.agency_id, "agency"),
    ):
        contacts: dict[int | None, int] = {
            key: int(count)
            for key, count in session.execute(
                select(column, func.count())
                .where(*contact_filter, column.is_not(None))
                .group_by(column)
            )
        }
        complaints: dict[int | None, int] = {
            key: int(count)
            for key, count in session.execute(
                select(complaint_column, func.count())
                .where(*complaint_filter, complaint_column.is_not(None))
                .group_by(complaint_column)
            )
        }
        for key in sorted(k for k in set(contacts) | set(complaints) if k is not None):
            rates.append(_rate(f"{label}:{key}", complaints.get(key, 0), contacts.get(key, 0)))
    return rates
