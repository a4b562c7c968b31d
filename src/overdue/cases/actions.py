"""What collectors and customer service do on a case: log a contact, record a promise, add a
note, transfer to another team. Every action checks role and scope and is audited."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from overdue.cases import audit
from overdue.cases.access import (
    CUSTOMER_ROLE,
    Actor,
    Conflict,
    NotAllowed,
    NotFound,
    load_case,
    require,
)
from overdue.cases.clock import instant
from overdue.cases.config import PromiseRule
from overdue.cases.events import case_event
from overdue.cases.promises import PromiseTerms, reminder_date
from overdue.store.tables import (
    CHANNELS,
    TRANSFER_REASONS,
    Case,
    ContactAttempt,
    Customer,
    Note,
    Promise,
    Queue,
    Team,
    Transfer,
)

MAX_NOTE_CHARS = 4000
MAX_PROMISE_FEN = 10_000_000_000  # 100 million yuan: a typo guard
DEFAULT_SLA_DAYS = 3
OUTCOMES = (
    "no_answer",
    "busy",
    "wrong_number",
    "left_message",
    "promise_to_pay",
    "refused_to_pay",
    "paid_already",
    "dispute",
    "hardship",
    "callback",
    "third_party",
    "delivered",
    "failed",
    "other",
)
# A transfer's reason → the kind of team that receives the case and whether collection pauses.
CUSTOMER_TRANSFERS = ("dispute", "hardship", "fraud")  # what self-service may ask for
TRANSFER_ROUTES: dict[str, tuple[str, bool]] = {
    "dispute": ("customer_service", True),
    "hardship": ("customer_service", True),
    "fraud": ("risk", True),
    "legal": ("legal", False),
}


def _require_working(case: Case) -> None:
    if case.status == "closed":
        raise Conflict(f"case {case.case_id}: closed on {case.closed_on}")


def _sla_days(session: Session, case: Case) -> int:
    if case.queue is None:
        return DEFAULT_SLA_DAYS
    days = session.scalar(select(Queue.sla_days).where(Queue.name == case.queue))
    return DEFAULT_SLA_DAYS if days is None else days


def log_contact_outcome(
    session: Session,
    actor: Actor,
    case_id: int,
    *,
    channel: str,
    outcome: str,
    connected: bool,
    right_party: bool,
    conversation: bool | None = None,
    to_address: str | None = None,
    recording_ref: str | None = None,
    note: str | None = None,
    at: datetime | None = None,
) -> int:
    """Record a contact attempt and its outcome; returns the contact attempt id.

    ``right_party`` implies ``connected``; ``conversation`` defaults to ``right_party``. The
    case's last contact and SLA date move (SLA = the contact's local date + the queue's days).
    """
    require(actor, "log_contact")
    if channel not in CHANNELS:
        raise ValueError(f"channel: {channel!r} is not one of {', '.join(CHANNELS)}")
    if outcome not in OUTCOMES:
        raise ValueError(f"outcome: {outcome!r} is not one of {', '.join(OUTCOMES)}")
    if right_party and not connected:
        raise ValueError("right_party: a right-party contact must be connected")
    case = load_case(session, actor, case_id, for_update=True)
    _require_working(case)
    customer = session.get(Customer, case.customer_id)
    assert customer is not None
    when = instant(at)
    talked = right_party if conversation is None else conversation
    attempt = ContactAttempt(
        case_id=case.case_id,
        customer_id=case.customer_id,
        account_id=case.account_id,
        channel=channel,
        to_address=to_address if to_address is not None else customer.phone,
        attempted_at=when,
        time_zone=customer.time_zone,
        connected=connected,
        right_party=right_party,
        conversation=talked,
        outcome=outcome,
        recording_ref=recording_ref,
        user_id=actor.user_id or None,
        agency_id=actor.agency_id,
    )
    session.add(attempt)
    local_day = when.astimezone(ZoneInfo(customer.time_zone)).date()
    case.last_contact_at = when
    case.sla_due_on = local_day + timedelta(days=_sla_days(session, case))
    session.flush()
    if note:
        add_note(session, actor, case_id, note, at=when)
    audit.record(
        session,
        actor,
        "log_contact",
        "case",
        case_id,
        details={"contact_attempt_id": attempt.id, "channel": channel, "outcome": outcome},
        at=when,
    )
    return attempt.id


def record_promise(
    session: Session,
    actor: Actor,
    case_id: int,
    *,
    amount_fen: int,
    promised_date: date,
    as_of: date,
    rule: PromiseRule | None = None,
    contact_attempt_id: int | None = None,
    at: datetime | None = None,
) -> int:
    """Record a promise to pay ``amount_fen`` by ``promised_date`` (made on business date
    ``as_of``); an earlier pending promise on the case is cancelled. Returns the promise id."""
    require(actor, "record_promise")
    rules = rule or PromiseRule()
    if not 0 < amount_fen <= MAX_PROMISE_FEN:
        raise ValueError(f"amount_fen: {amount_fen} must be between 1 and {MAX_PROMISE_FEN}")
    if promised_date < as_of:
        raise ValueError(f"promised_date: {promised_date} is before today ({as_of})")
    if promised_date > as_of + timedelta(days=rules.max_days_ahead):
        raise ValueError(
            f"promised_date: {promised_date} is more than {rules.max_days_ahead} days ahead"
        )
    case = load_case(session, actor, case_id, for_update=True)
    _require_working(case)
    when = instant(at)
    session.execute(
        update(Promise)
        .where(Promise.case_id == case_id, Promise.status == "pending")
        .values(status="cancelled", decided_on=as_of)
    )
    terms = PromiseTerms(amount_fen, as_of, promised_date)
    promise = Promise(
        case_id=case_id,
        amount_fen=amount_fen,
        promised_date=promised_date,
        promised_on=as_of,
        status="pending",
        kept_amount_fen=0,
        created_by=actor.user_id or None,
        created_at=when,
        contact_attempt_id=contact_attempt_id,
        reminder_due_on=reminder_date(terms, rules),
    )
    session.add(promise)
    case.next_promise_on = promised_date
    session.flush()
    audit.record(
        session,
        actor,
        "record_promise",
        "case",
        case_id,
        details={
            "promise_id": promise.id,
            "amount_fen": amount_fen,
            "promised_date": promised_date.isoformat(),
        },
        at=when,
    )
    return promise.id


def add_note(
    session: Session, actor: Actor, case_id: int, body: str, *, at: datetime | None = None
) -> int:
    """Add a free-text note (kept as typed; pages must escape it). Returns the note id."""
    require(actor, "add_note")
    text = body.strip()
    if not text:
        raise ValueError("note: must not be empty")
    if len(text) > MAX_NOTE_CHARS:
        raise ValueError(f"note: longer than {MAX_NOTE_CHARS} characters")
    load_case(session, actor, case_id)
    when = instant(at)
    note = Note(case_id=case_id, user_id=actor.user_id or None, created_at=when, body=text)
    session.add(note)
    session.flush()
    audit.record(session, actor, "add_note", "case", case_id, details={"note_id": note.id}, at=when)
    return note.id


def _team_of_kind(session: Session, kind: str) -> int:
    team_id = session.scalar(select(Team.id).where(Team.kind == kind).order_by(Team.id).limit(1))
    if team_id is None:
        raise NotFound(f"no team of kind {kind!r} to transfer to")
    return team_id


def transfer_case(
    session: Session,
    actor: Actor,
    case_id: int,
    *,
    reason: str,
    as_of: date,
    to_team_id: int | None = None,
    note: str | None = None,
    at: datetime | None = None,
) -> int:
    """Transfer a case: dispute and hardship go to customer service and pause collection (and
    flag the customer, which the compliance gate honours), fraud goes to risk (paused), legal to
    legal (collection continues through the legal channel); ``other`` needs ``to_team_id``.
    Returns the transfer id."""
    require(actor, "transfer")
    if reason not in TRANSFER_REASONS:
        raise ValueError(f"reason: {reason!r} is not one of {', '.join(TRANSFER_REASONS)}")
    if actor.role == CUSTOMER_ROLE and (reason not in CUSTOMER_TRANSFERS or to_team_id is not None):
        raise NotAllowed(f"a customer may ask for {', '.join(CUSTOMER_TRANSFERS)} only")
    case = load_case(session, actor, case_id, for_update=True)
    _require_working(case)
    route = TRANSFER_ROUTES.get(reason)
    if to_team_id is None:
        if route is None:
            raise ValueError("to_team_id: required when the reason is 'other'")
        to_team_id = _team_of_kind(session, route[0])
    elif session.get(Team, to_team_id) is None:
        raise NotFound(f"team {to_team_id}: not found")
    when = instant(at)
    transfer = Transfer(
        case_id=case_id,
        from_team_id=case.team_id,
        to_team_id=to_team_id,
        reason=reason,
        status="open",
        note=note,
        created_by=actor.user_id or None,
        created_at=when,
    )
    session.add(transfer)
    case.team_id = to_team_id
    if route is not None and route[1]:
        case.status = "paused"
        case.pause_reason = reason
        case_event(session, case_id, "paused", as_of, reason, at=when)
        if reason in {"dispute", "hardship"}:
            customer = session.get(Customer, case.customer_id)
            assert customer is not None
            setattr(customer, reason, True)
    session.flush()
    audit.record(
        session,
        actor,
        "transfer",
        "case",
        case_id,
        reason=note,
        details={"transfer_id": transfer.id, "reason": reason, "to_team_id": to_team_id},
        at=when,
    )
    return transfer.id


def resolve_transfer(
    session: Session,
    actor: Actor,
    transfer_id: int,
    *,
    resolution: str,
    resume: bool,
    as_of: date,
    at: datetime | None = None,
) -> None:
    """Close an open transfer; ``resume`` reopens a paused case and clears the customer flag."""
    require(actor, "resolve_transfer")
    transfer = session.get(Transfer, transfer_id, with_for_update=True)
    if transfer is None:
        raise NotFound(f"transfer {transfer_id}: not found")
    if transfer.status != "open":
        raise Conflict(f"transfer {transfer_id}: already {transfer.status}")
    case = load_case(session, actor, transfer.case_id, for_update=True)
    when = instant(at)
    transfer.status = "resolved"
    transfer.resolution = resolution
    transfer.resolved_at = when
    if resume and case.status == "paused":
        reason = case.pause_reason
        case.status = "open"
        case.pause_reason = None
        case_event(session, case.case_id, "resumed", as_of, resolution, at=when)
        if reason in {"dispute", "hardship"}:
            customer = session.get(Customer, case.customer_id)
            assert customer is not None
            setattr(customer, reason, False)
    audit.record(
        session,
        actor,
        "resolve_transfer",
        "case",
        case.case_id,
        reason=resolution,
        details={"transfer_id": transfer_id, "resume": resume},
        at=when,
    )
