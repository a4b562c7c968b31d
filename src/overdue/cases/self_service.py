"""Customer self-service: what a debtor sees and may do from the link in a reminder.

The customer sees every open or paused case of theirs with what makes up the overdue amount
(principal, interest, fees, penalty), the days past due, their pending promise and the channels
they have stopped. They may, as ``Actor.customer`` (their own cases only, audited):

- **promise to pay** an amount by a date (the case's promise rule: not in the past, at most
  ``max_days_ahead`` days ahead; a new promise replaces the pending one);
- **ask for help**: an installment plan or a pause because money is short (``hardship``), say
  the debt is wrong (``dispute``) or not theirs (``fraud``); the case goes to customer service or
  risk and collection pauses where the rules say so;
- **stop a channel** (push, SMS, e-mail, robot or agent calls): an opt-out the compliance gate
  honours for every later contact;
- **choose contact hours**: a window inside the profile's allowed hours, which the gate then
  uses instead of those hours;
- **complain** (the complaint register, with its SLA).

Each customer has ``MAX_ACTIONS_PER_DAY`` actions per UTC day (counted in the audit log), so a
leaked link cannot flood the operation.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Final

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from overdue.cases import actions, audit, complaints
from overdue.cases.access import Actor, Conflict, NotFound, load_case
from overdue.cases.clock import instant
from overdue.cases.config import PromiseRule
from overdue.compliance.profile import Profile
from overdue.store.tables import AuditEntry, Case, ChannelPreference, Customer, Promise

MAX_ACTIONS_PER_DAY: Final = 20
MAX_CASES_SHOWN: Final = 50
MAX_TEXT_CHARS: Final = 2_000
MIN_WINDOW_MINUTES: Final = 60
STOPPABLE_CHANNELS: Final = ("push", "sms", "email", "voice_robot", "voice_agent")
HELP_KINDS: Final = ("hardship", "dispute", "fraud")
ACTION_PREFIX: Final = "self_service_"


class TooManyActions(Conflict):
    """The customer used up today's self-service actions."""


@dataclass(frozen=True)
class CaseLine:
    case_id: int
    account_id: str
    status: str  # open | paused
    pause_reason: str | None
    dpd: int
    overdue_fen: int
    principal_fen: int
    interest_fen: int
    fee_fen: int
    penalty_fen: int
    promise_amount_fen: int | None
    promise_date: date | None


@dataclass(frozen=True)
class SelfServiceView:
    customer_id: str
    name: str | None
    language: str
    cases: list[CaseLine]
    total_overdue_fen: int
    stopped_channels: list[str]
    contact_window: tuple[time, time] | None
    promise_until: date  # the latest date a promise may name
    actions_left: int


def _customer(session: Session, customer_id: str) -> Customer:
    customer = session.get(Customer, customer_id)
    if customer is None:
        raise NotFound(f"customer {customer_id}: not found")
    return customer


def _case_lines(session: Session, customer_id: str) -> list[CaseLine]:
    cases = session.scalars(
        select(Case)
        .where(Case.customer_id == customer_id, Case.status != "closed")
        .order_by(Case.case_id)
        .limit(MAX_CASES_SHOWN)
    ).all()
    pending = {
        p.case_id: p
        for p in session.scalars(
            select(Promise).where(
                Promise.case_id.in_([c.case_id for c in cases]), Promise.status == "pending"
            )
        )
    }
    lines = []
    for case in cases:
        promise = pending.get(case.case_id)
        lines.append(
            CaseLine(
                case.case_id,
                case.account_id,
                case.status,
                case.pause_reason,
                case.dpd,
                case.overdue_fen,
                case.principal_fen,
                case.interest_fen,
                case.fee_fen,
                case.penalty_fen,
                promise.amount_fen if promise else None,
                promise.promised_date if promise else None,
            )
        )
    return lines


def _stopped(session: Session, customer_id: str) -> list[str]:
    rows = session.scalars(
        select(ChannelPreference.channel).where(
            ChannelPreference.customer_id == customer_id, ChannelPreference.opted_out.is_(True)
        )
    )
    return sorted(rows)


def actions_used(session: Session, customer_id: str, at: datetime) -> int:
    """Self-service actions the customer took on the UTC day of ``at``."""
    day = instant(at).replace(hour=0, minute=0, second=0, microsecond=0)
    count = session.scalar(
        select(func.count()).where(
            AuditEntry.entity == "customer",
            AuditEntry.entity_id == customer_id,
            AuditEntry.action.startswith(ACTION_PREFIX),
            AuditEntry.at >= day,
            AuditEntry.at < day + timedelta(days=1),
        )
    )
    return int(count or 0)


def view(
    session: Session,
    customer_id: str,
    *,
    as_of: date,
    at: datetime,
    rule: PromiseRule | None = None,
) -> SelfServiceView:
    """What the customer's page shows on business date ``as_of``."""
    customer = _customer(session, customer_id)
    lines = _case_lines(session, customer_id)
    window = None
    if customer.contact_window_start is not None and customer.contact_window_end is not None:
        window = (customer.contact_window_start, customer.contact_window_end)
    return SelfServiceView(
        customer_id=customer_id,
        name=customer.name,
        language=customer.language,
        cases=lines,
        total_overdue_fen=sum(line.overdue_fen for line in lines),
        stopped_channels=_stopped(session, customer_id),
        contact_window=window,
        promise_until=as_of + timedelta(days=(rule or PromiseRule()).max_days_ahead),
        actions_left=max(0, MAX_ACTIONS_PER_DAY - actions_used(session, customer_id, at)),
    )


def _spend_action(
    session: Session, customer_id: str, action: str, at: datetime, **details: object
) -> None:
    """Count one self-service action (an audit row on the customer), refusing past the limit."""
    _customer(session, customer_id)
    if actions_used(session, customer_id, at) >= MAX_ACTIONS_PER_DAY:
        raise TooManyActions(f"customer {customer_id}: {MAX_ACTIONS_PER_DAY} actions a day at most")
    audit.record(
        session, Actor.customer(customer_id), ACTION_PREFIX + action, "customer", customer_id,
        details=dict(details), at=at,
    )  # fmt: skip


def promise(
    session: Session,
    customer_id: str,
    case_id: int,
    *,
    amount_fen: int,
    promised_date: date,
    as_of: date,
    at: datetime,
    rule: PromiseRule | None = None,
) -> int:
    """The customer's promise to pay on one of their cases; returns the promise id."""
    _spend_action(session, customer_id, "promise", at, case_id=case_id)
    return actions.record_promise(
        session, Actor.customer(customer_id), case_id, amount_fen=amount_fen,
        promised_date=promised_date, as_of=as_of, rule=rule, at=at,
    )  # fmt: skip


def ask_for_help(
    session: Session,
    customer_id: str,
    case_id: int,
    *,
    kind: str,
    text: str,
    as_of: date,
    at: datetime,
) -> int:
    """Hardship (plan or pause), dispute or not-mine: the case goes to the team that handles it,
    with the customer's words as the transfer note. Returns the transfer id."""
    if kind not in HELP_KINDS:
        raise ValueError(f"kind: {kind!r} is not one of {', '.join(HELP_KINDS)}")
    note = _text(text)
    _spend_action(session, customer_id, "help", at, case_id=case_id, kind=kind)
    return actions.transfer_case(
        session, Actor.customer(customer_id), case_id, reason=kind, as_of=as_of,
        note=note or f"self-service: {kind}", at=at,
    )  # fmt: skip


def stop_channel(session: Session, customer_id: str, channel: str, *, at: datetime) -> None:
    """Opt the customer out of ``channel``; the compliance gate refuses every later contact."""
    from overdue.contact.inbound import record_opt_out

    if channel not in STOPPABLE_CHANNELS:
        raise ValueError(f"channel: {channel!r} is not one of {', '.join(STOPPABLE_CHANNELS)}")
    _spend_action(session, customer_id, "stop_channel", at, channel=channel)
    recorded = record_opt_out(session, customer_id, channel, at=instant(at), source="self-service")
    assert recorded, "the customer exists (checked when the action was counted)"


def set_contact_hours(
    session: Session, customer_id: str, start: time, end: time, *, profile: Profile, at: datetime
) -> None:
    """The hours the customer agrees to be contacted (local time): inside the profile's allowed
    hours and at least ``MIN_WINDOW_MINUTES`` long."""
    start_minute, end_minute = start.hour * 60 + start.minute, end.hour * 60 + end.minute
    allowed_from, allowed_to = profile.quiet_end_minute, profile.quiet_start_minute
    assert allowed_from < allowed_to, "the quiet hours wrap past midnight (e.g. 22:00-08:00)"
    if not allowed_from <= start_minute < end_minute <= allowed_to:
        raise ValueError(
            f"contact hours: {start:%H:%M}-{end:%H:%M} must lie inside "
            f"{allowed_from // 60:02d}:{allowed_from % 60:02d}-{allowed_to // 60:02d}:{allowed_to % 60:02d}"
        )
    if end_minute - start_minute < MIN_WINDOW_MINUTES:
        raise ValueError(f"contact hours: at least {MIN_WINDOW_MINUTES} minutes")
    _spend_action(
        session, customer_id, "contact_hours", at, start=f"{start:%H:%M}", end=f"{end:%H:%M}"
    )
    customer = _customer(session, customer_id)
    customer.contact_window_start, customer.contact_window_end = start, end


def complain(
    session: Session,
    customer_id: str,
    *,
    category: str,
    text: str,
    at: datetime,
    case_id: int | None = None,
) -> int:
    """A complaint in the register (with its SLA); returns the complaint id."""
    if case_id is not None:
        load_case(session, Actor.customer(customer_id), case_id)  # their own case only
    _spend_action(session, customer_id, "complaint", at, category=category)
    return complaints.register_complaint(
        session, Actor.customer(customer_id), customer_id=customer_id, channel="self_service",
        category=category, description=_text(text) or None, case_id=case_id, received_at=at,
    )  # fmt: skip


def _text(text: str) -> str:
    cleaned = text.strip()
    if len(cleaned) > MAX_TEXT_CHARS:
        raise ValueError(f"text: longer than {MAX_TEXT_CHARS} characters")
    return cleaned
