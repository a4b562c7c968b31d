"""What people see: the work queue, the case page and the case timeline, scoped by role.

``list_queue`` and ``get_case`` are what the web pages and the API call; personal data comes
back masked unless the actor's role may see it, and every unmasked view is audited.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from typing import Any

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import Session

from overdue.cases import audit
from overdue.cases.access import Actor, NotFound, case_scope, load_case
from overdue.cases.masking import mask_address_for_channel, shown
from overdue.store.tables import (
    CASE_STATUSES,
    Account,
    Assignment,
    Case,
    CaseEvent,
    ChannelPreference,
    ContactAttempt,
    Customer,
    Note,
    Payment,
    PaymentReversal,
    Placement,
    Promise,
    Transfer,
)

MAX_PAGE_SIZE = 200
MAX_COUNTED = 2_000
MAX_TIMELINE_ENTRIES = 2000
SORTS = ("priority", "dpd", "balance", "sla", "promise")
CUSTOMER_FLAGS = (
    "do_not_contact",
    "dispute",
    "hardship",
    "vulnerable",
    "deceased",
    "bankruptcy",
    "cease_communication",
)


@dataclass(frozen=True)
class QueueRow:
    case_id: int
    account_id: str
    customer_id: str
    customer_name: str | None
    status: str
    dpd: int
    bucket_cn: str
    overdue_fen: int
    balance_fen: int
    priority_score: int
    queue: str | None
    segment: str | None
    language: str
    assigned_user_id: int | None
    agency_id: int | None
    sla_due_on: date | None
    next_promise_on: date | None
    last_contact_at: datetime | None
    sla_breached: bool


@dataclass(frozen=True)
class QueuePage:
    """``total`` counts at most MAX_COUNTED cases; beyond that ``total_is_lower_bound`` is set
    (show "2000+"): counting a million rows on every page view would cost more than the page."""

    rows: list[QueueRow]
    total: int
    page: int
    page_size: int
    total_is_lower_bound: bool = False


@dataclass(frozen=True)
class CustomerView:
    customer_id: str
    name: str | None
    phone: str | None
    email: str | None
    address: str | None
    id_number: str | None
    language: str
    time_zone: str
    flags: dict[str, bool]
    contact_window: tuple[str, str] | None
    channels: list[dict[str, Any]]
    synthetic: bool
    unmasked: tuple[str, ...]


@dataclass(frozen=True)
class PromiseView:
    promise_id: int
    amount_fen: int
    promised_date: date
    status: str
    kept_amount_fen: int
    reminder_due_on: date | None


@dataclass(frozen=True)
class CaseDetail:
    case_id: int
    account_id: str
    status: str
    opened_on: date
    closed_on: date | None
    close_reason: str | None
    dpd: int
    bucket_cn: str
    overdue_fen: int
    principal_fen: int
    interest_fen: int
    fee_fen: int
    penalty_fen: int
    balance_fen: int
    queue: str | None
    segment: str | None
    language: str
    score: float | None
    priority_score: int
    assigned_user_id: int | None
    team_id: int | None
    agency_id: int | None
    pause_reason: str | None
    sla_due_on: date | None
    next_promise_on: date | None
    last_contact_at: datetime | None
    updated_on: date
    product: str | None
    policy: str | None
    customer: CustomerView
    promises: list[PromiseView] = field(default_factory=list)


@dataclass(frozen=True)
class TimelineEntry:
    at: datetime
    kind: str  # contact | promise | note | transfer | payment | reversal | assignment | placement | status
    summary: str
    details: dict[str, Any]


def _order(sort: str) -> list[ColumnElement[Any]]:
    if sort == "priority":
        return [Case.priority_score.desc(), Case.case_id.desc()]
    if sort == "dpd":
        return [Case.dpd.desc(), Case.case_id.desc()]
    if sort == "balance":
        return [Case.balance_fen.desc(), Case.case_id.desc()]
    if sort == "sla":
        return [Case.sla_due_on.is_(None), Case.sla_due_on.asc(), Case.case_id.asc()]
    if sort == "promise":
        return [Case.next_promise_on.is_(None), Case.next_promise_on.asc(), Case.case_id.asc()]
    raise ValueError(f"sort: {sort!r} is not one of {', '.join(SORTS)}")


def list_queue(
    session: Session,
    actor: Actor,
    *,
    queue: str | None = None,
    bucket: str | None = None,
    status: str | None = "open",
    sort: str = "priority",
    page: int = 1,
    page_size: int = 50,
    as_of: date | None = None,
) -> QueuePage:
    """One page of the cases ``actor`` may see, filtered and sorted, with the total count
    (at most MAX_COUNTED; see QueuePage).

    ``status=None`` means every status; ``page_size`` is capped at 200. ``sla_breached`` is set
    when ``as_of`` is given and the case's SLA date is before it.
    """
    if page < 1:
        raise ValueError(f"page: {page} must be at least 1")
    if status is not None and status not in CASE_STATUSES:
        raise ValueError(f"status: {status!r} is not one of {', '.join(CASE_STATUSES)}")
    size = max(1, min(page_size, MAX_PAGE_SIZE))
    conditions: list[ColumnElement[bool]] = [case_scope(actor)]
    if status is not None:
        conditions.append(Case.status == status)
    if queue is not None:
        conditions.append(Case.queue == queue)
    if bucket is not None:
        conditions.append(Case.bucket_cn == bucket)
    matching = select(Case.case_id).where(*conditions).limit(MAX_COUNTED + 1).subquery()
    counted = session.scalar(select(func.count()).select_from(matching)) or 0
    query = (
        select(Case, Customer.name)
        .join(Customer, Customer.customer_id == Case.customer_id)
        .where(*conditions)
        .order_by(*_order(sort))
        .limit(size)
        .offset((page - 1) * size)
    )
    rows = [_queue_row(case, name, as_of) for case, name in session.execute(query)]
    return QueuePage(
        rows=rows,
        total=min(counted, MAX_COUNTED),
        page=page,
        page_size=size,
        total_is_lower_bound=counted > MAX_COUNTED,
    )


def _queue_row(case: Case, name: str | None, as_of: date | None) -> QueueRow:
    breached = (
        as_of is not None
        and case.status == "open"
        and case.sla_due_on is not None
        and case.sla_due_on < as_of
    )
    return QueueRow(
        case_id=case.case_id,
        account_id=case.account_id,
        customer_id=case.customer_id,
        customer_name=name,
        status=case.status,
        dpd=case.dpd,
        bucket_cn=case.bucket_cn,
        overdue_fen=case.overdue_fen,
        balance_fen=case.balance_fen,
        priority_score=case.priority_score,
        queue=case.queue,
        segment=case.segment,
        language=case.language,
        assigned_user_id=case.assigned_user_id,
        agency_id=case.agency_id,
        sla_due_on=case.sla_due_on,
        next_promise_on=case.next_promise_on,
        last_contact_at=case.last_contact_at,
        sla_breached=breached,
    )


def customer_view(
    session: Session,
    actor: Actor,
    customer: Customer,
    *,
    own_case: bool,
    reason: str | None,
    at: datetime | None = None,
) -> CustomerView:
    """The customer as ``actor`` may see them; audits every unmasked personal field shown."""
    values: dict[str, str | None] = {}
    unmasked: list[str] = []
    for name in ("phone", "email", "address", "id_number"):
        value, clear = shown(
            actor.role, name, getattr(customer, name), own_case=own_case, reason=reason
        )
        values[name] = value
        if clear:
            unmasked.append(name)
    if unmasked:
        audit.record(
            session,
            actor,
            "view_unmasked",
            "customer",
            customer.customer_id,
            reason=reason or "case work",
            details={"fields": unmasked},
            at=at,
        )
    channels = session.scalars(
        select(ChannelPreference)
        .where(ChannelPreference.customer_id == customer.customer_id)
        .order_by(ChannelPreference.channel)
    )
    window = None
    if customer.contact_window_start is not None and customer.contact_window_end is not None:
        window = (
            customer.contact_window_start.strftime("%H:%M"),
            customer.contact_window_end.strftime("%H:%M"),
        )
    return CustomerView(
        customer_id=customer.customer_id,
        name=customer.name,
        phone=values["phone"],
        email=values["email"],
        address=values["address"],
        id_number=values["id_number"],
        language=customer.language,
        time_zone=customer.time_zone,
        flags={flag: bool(getattr(customer, flag)) for flag in CUSTOMER_FLAGS},
        contact_window=window,
        channels=[
            {
                "channel": p.channel,
                "consent": p.consent,
                "opted_out": p.opted_out,
                "opted_out_at": p.opted_out_at,
            }
            for p in channels
        ],
        synthetic=customer.synthetic,
        unmasked=tuple(unmasked),
    )


def get_case(
    session: Session,
    actor: Actor,
    case_id: int,
    *,
    reason: str | None = None,
    at: datetime | None = None,
) -> CaseDetail:
    """The case page's data; NotFound / NotAllowed when missing or outside ``actor``'s scope.

    ``reason`` (why the actor looks) is required to see an ID number unmasked and is written to
    the audit log with every unmasked view.
    """
    case = load_case(session, actor, case_id)
    customer = session.get(Customer, case.customer_id)
    if customer is None:  # the foreign key makes this impossible
        raise NotFound(f"case {case_id}: customer {case.customer_id} missing")
    account = session.get(Account, case.account_id)
    person = customer_view(session, actor, customer, own_case=True, reason=reason, at=at)
    promises = session.scalars(
        select(Promise).where(Promise.case_id == case_id).order_by(Promise.promised_date.desc())
    ).all()
    return CaseDetail(
        case_id=case.case_id,
        account_id=case.account_id,
        status=case.status,
        opened_on=case.opened_on,
        closed_on=case.closed_on,
        close_reason=case.close_reason,
        dpd=case.dpd,
        bucket_cn=case.bucket_cn,
        overdue_fen=case.overdue_fen,
        principal_fen=case.principal_fen,
        interest_fen=case.interest_fen,
        fee_fen=case.fee_fen,
        penalty_fen=case.penalty_fen,
        balance_fen=case.balance_fen,
        queue=case.queue,
        segment=case.segment,
        language=case.language,
        score=case.score,
        priority_score=case.priority_score,
        assigned_user_id=case.assigned_user_id,
        team_id=case.team_id,
        agency_id=case.agency_id,
        pause_reason=case.pause_reason,
        sla_due_on=case.sla_due_on,
        next_promise_on=case.next_promise_on,
        last_contact_at=case.last_contact_at,
        updated_on=case.updated_on,
        product=account.product if account else None,
        policy=account.policy if account else None,
        customer=person,
        promises=[
            PromiseView(
                promise_id=p.id,
                amount_fen=p.amount_fen,
                promised_date=p.promised_date,
                status=p.status,
                kept_amount_fen=p.kept_amount_fen,
                reminder_due_on=p.reminder_due_on,
            )
            for p in promises
        ],
    )


def timeline(session: Session, actor: Actor, case_id: int) -> list[TimelineEntry]:
    """Everything that happened on the case, oldest first (contact addresses always masked)."""
    case = load_case(session, actor, case_id)
    entries: list[TimelineEntry] = []
    entries += _contacts(session, case_id)
    entries += _promises(session, case_id)
    entries += _notes(session, case_id)
    entries += _transfers(session, case_id)
    entries += _payments(session, case)
    entries += _assignments(session, case_id)
    entries += _placements(session, case_id)
    entries += _events(session, case_id)
    opened_at = datetime.combine(case.opened_on, time(), UTC)
    entries.append(TimelineEntry(opened_at, "status", "opened", {"on": case.opened_on}))
    entries.sort(key=lambda e: (e.at, e.kind))
    return entries[-MAX_TIMELINE_ENTRIES:]


def _contacts(session: Session, case_id: int) -> list[TimelineEntry]:
    rows = session.scalars(
        select(ContactAttempt)
        .where(ContactAttempt.case_id == case_id)
        .order_by(ContactAttempt.attempted_at.desc())
        .limit(MAX_TIMELINE_ENTRIES)
    )
    return [
        TimelineEntry(
            at=c.attempted_at,
            kind="contact",
            summary=f"{c.channel}: {c.outcome or ('blocked ' + (c.blocked_rule or ''))}",
            details={
                "contact_attempt_id": c.id,
                "channel": c.channel,
                "to_address": mask_address_for_channel(c.channel, c.to_address),
                "connected": c.connected,
                "right_party": c.right_party,
                "conversation": c.conversation,
                "outcome": c.outcome,
                "user_id": c.user_id,
                "agency_id": c.agency_id,
                "blocked_rule": c.blocked_rule,
                "strategy": c.strategy,
                "arm": c.arm,
                "recording_ref": c.recording_ref,
            },
        )
        for c in rows
    ]


def _promises(session: Session, case_id: int) -> list[TimelineEntry]:
    rows = session.scalars(select(Promise).where(Promise.case_id == case_id))
    return [
        TimelineEntry(
            at=p.created_at,
            kind="promise",
            summary=f"promise {p.amount_fen} fen by {p.promised_date.isoformat()}: {p.status}",
            details={
                "promise_id": p.id,
                "amount_fen": p.amount_fen,
                "promised_date": p.promised_date,
                "status": p.status,
                "kept_amount_fen": p.kept_amount_fen,
                "created_by": p.created_by,
            },
        )
        for p in rows
    ]


def _notes(session: Session, case_id: int) -> list[TimelineEntry]:
    rows = session.scalars(
        select(Note).where(Note.case_id == case_id).order_by(Note.id.desc()).limit(500)
    )
    return [
        TimelineEntry(
            at=n.created_at,
            kind="note",
            summary=n.body[:200],
            details={"note_id": n.id, "user_id": n.user_id, "body": n.body},
        )
        for n in rows
    ]


def _transfers(session: Session, case_id: int) -> list[TimelineEntry]:
    rows = session.scalars(select(Transfer).where(Transfer.case_id == case_id))
    out = []
    for t in rows:
        details = {"transfer_id": t.id, "reason": t.reason, "to_team_id": t.to_team_id}
        out.append(TimelineEntry(t.created_at, "transfer", f"transfer: {t.reason}", details))
        if t.resolved_at is not None:
            summary = f"transfer {t.status}: {t.resolution or ''}".strip()
            out.append(TimelineEntry(t.resolved_at, "transfer", summary, details))
    return out


def _payments(session: Session, case: Case) -> list[TimelineEntry]:
    rows = session.execute(
        select(Payment, PaymentReversal)
        .outerjoin(PaymentReversal, PaymentReversal.payment_id == Payment.payment_id)
        .where(Payment.account_id == case.account_id, Payment.value_date >= case.opened_on)
        .limit(500)
    )
    out = []
    for payment, reversal in rows:
        details = {
            "payment_id": payment.payment_id,
            "amount_fen": payment.amount_fen,
            "value_date": payment.value_date,
            "source": payment.source,
        }
        summary = f"payment {payment.amount_fen} fen ({payment.value_date.isoformat()})"
        out.append(TimelineEntry(payment.received_at, "payment", summary, details))
        if reversal is not None:
            out.append(TimelineEntry(reversal.received_at, "reversal", "reversed", details))
    return out


def _assignments(session: Session, case_id: int) -> list[TimelineEntry]:
    rows = session.scalars(select(Assignment).where(Assignment.case_id == case_id))
    return [
        TimelineEntry(
            at=a.assigned_at,
            kind="assignment",
            summary=f"assigned to user {a.user_id}" if a.user_id else "unassigned",
            details={"user_id": a.user_id, "team_id": a.team_id, "reason": a.reason},
        )
        for a in rows
    ]


def _placements(session: Session, case_id: int) -> list[TimelineEntry]:
    """Placements carry business dates only; they sit at the start of that day (UTC)."""
    out = []
    for p in session.scalars(select(Placement).where(Placement.case_id == case_id)):
        details = {"placement_id": p.id, "agency_id": p.agency_id}
        placed_at = datetime.combine(p.placed_on, time(), UTC)
        out.append(
            TimelineEntry(placed_at, "placement", f"placed with agency {p.agency_id}", details)
        )
        if p.recalled_on is not None:
            recalled_at = datetime.combine(p.recalled_on, time(), UTC)
            summary = f"recalled: {p.recall_reason or ''}".strip()
            out.append(TimelineEntry(recalled_at, "placement", summary, details))
    return out


def _events(session: Session, case_id: int) -> list[TimelineEntry]:
    rows = session.scalars(select(CaseEvent).where(CaseEvent.case_id == case_id).limit(500))
    return [
        TimelineEntry(
            at=e.at,
            kind="status",
            summary=f"{e.kind}: {e.detail or ''}".strip(),
            details={"on": e.on, "event": e.kind},
        )
        for e in rows
    ]
