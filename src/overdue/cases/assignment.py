"""Who works which case: assignment to collectors by skill and capacity, agency placement and
recall, and SLA breaches per queue."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import Integer, func, select, update
from sqlalchemy.orm import Session

from overdue.cases import audit
from overdue.cases.access import Actor, Conflict, NotFound, load_case, require
from overdue.cases.clock import instant
from overdue.cases.events import case_event
from overdue.store.tables import Agency, Assignment, Case, Placement, Queue, User

MAX_AUTO_ASSIGN = 100_000  # cases per auto_assign call
MAX_ALLOWANCE = 20  # contacts per day per placed case


def open_case_count(session: Session, user_id: int) -> int:
    return (
        session.scalar(
            select(func.count())
            .select_from(Case)
            .where(Case.assigned_user_id == user_id, Case.status != "closed")
        )
        or 0
    )


def skill_gap(user: User, case: Case) -> str | None:
    """Why ``user`` lacks the skills for ``case`` (None when they have them).

    ``skills`` = {"languages": [...], "buckets": [...]}; an empty or missing list means any."""
    languages = user.skills.get("languages") or []
    buckets = user.skills.get("buckets") or []
    if languages and case.language not in languages:
        return f"does not work in {case.language}"
    if buckets and case.bucket_cn not in buckets:
        return f"does not work bucket {case.bucket_cn}"
    return None


def _end_current(session: Session, case_id: int, when: datetime) -> None:
    session.execute(
        update(Assignment)
        .where(Assignment.case_id == case_id, Assignment.ended_at.is_(None))
        .values(ended_at=when)
    )


def assign(
    session: Session,
    actor: Actor,
    case_id: int,
    user_id: int,
    *,
    reason: str | None = None,
    at: datetime | None = None,
) -> None:
    """Assign a case to a collector; refused (Conflict) when they lack the language or bucket
    skill, are inactive, or already hold ``max_open_cases`` open cases."""
    require(actor, "assign")
    case = load_case(session, actor, case_id, for_update=True)
    if case.status == "closed":
        raise Conflict(f"case {case_id}: closed")
    if case.agency_id is not None:
        raise Conflict(f"case {case_id}: placed with agency {case.agency_id}; recall it first")
    user = session.get(User, user_id)
    if user is None or not user.active:
        raise NotFound(f"user {user_id}: no such active user")
    if user.role != "collector":
        raise Conflict(f"user {user.username}: role {user.role} does not work cases")
    gap = skill_gap(user, case)
    if gap is not None:
        raise Conflict(f"user {user.username}: {gap}")
    if (
        case.assigned_user_id != user_id
        and open_case_count(session, user_id) >= user.max_open_cases
    ):
        raise Conflict(f"user {user.username}: already holds {user.max_open_cases} open cases")
    when = instant(at)
    _end_current(session, case_id, when)
    session.add(
        Assignment(
            case_id=case_id,
            user_id=user_id,
            team_id=user.team_id,
            assigned_at=when,
            assigned_by=actor.user_id or None,
            reason=reason,
        )
    )
    case.assigned_user_id = user_id
    case.team_id = user.team_id
    audit.record(
        session,
        actor,
        "assign",
        "case",
        case_id,
        reason=reason,
        details={"user_id": user_id},
        at=when,
    )


@dataclass
class _Seat:
    user: User
    free: int


def auto_assign(
    session: Session,
    actor: Actor,
    *,
    queue: str | None = None,
    collector_ids: Sequence[int] | None = None,
    limit: int = MAX_AUTO_ASSIGN,
    at: datetime | None = None,
) -> int:
    """Assign unassigned open cases (highest priority first) to collectors with free capacity
    and the right skills, round robin; returns how many were assigned (one audit row in all)."""
    require(actor, "assign")
    limit = max(0, min(limit, MAX_AUTO_ASSIGN))
    users_query = select(User).where(User.role == "collector", User.active.is_(True))
    if collector_ids is not None:
        users_query = users_query.where(User.id.in_(list(collector_ids)))
    seats = [
        _Seat(u, u.max_open_cases - open_case_count(session, u.id))
        for u in session.scalars(users_query.order_by(User.id))
    ]
    seats = [s for s in seats if s.free > 0]
    cases_query = select(Case).where(
        Case.status == "open", Case.assigned_user_id.is_(None), Case.agency_id.is_(None)
    )
    if queue is not None:
        cases_query = cases_query.where(Case.queue == queue)
    cases = session.scalars(
        cases_query.order_by(Case.priority_score.desc(), Case.case_id).limit(limit)
    ).all()
    when = instant(at)
    assigned = 0
    turn = 0
    for case in cases:
        if not seats:
            break
        for offset in range(len(seats)):
            seat = seats[(turn + offset) % len(seats)]
            if seat.free > 0 and skill_gap(seat.user, case) is None:
                case.assigned_user_id = seat.user.id
                case.team_id = seat.user.team_id
                session.add(
                    Assignment(
                        case_id=case.case_id,
                        user_id=seat.user.id,
                        team_id=seat.user.team_id,
                        assigned_at=when,
                        assigned_by=actor.user_id or None,
                        reason="auto",
                    )
                )
                seat.free -= 1
                assigned += 1
                turn = (turn + offset + 1) % len(seats)
                break
        seats = [s for s in seats if s.free > 0]
    audit.record(
        session,
        actor,
        "auto_assign",
        "queue",
        queue,
        details={"assigned": assigned, "considered": len(cases)},
        at=when,
    )
    return assigned


def place_with_agency(
    session: Session,
    actor: Actor,
    case_id: int,
    agency_id: int,
    *,
    as_of: date,
    daily_contact_allowance: int = 3,
    at: datetime | None = None,
) -> int:
    """Place a case with an agency (the collector assignment ends); returns the placement id."""
    require(actor, "place")
    if not 0 <= daily_contact_allowance <= MAX_ALLOWANCE:
        raise ValueError(f"daily_contact_allowance: must be between 0 and {MAX_ALLOWANCE}")
    case = load_case(session, actor, case_id, for_update=True)
    if case.status == "closed":
        raise Conflict(f"case {case_id}: closed")
    if case.agency_id is not None:
        raise Conflict(f"case {case_id}: already placed with agency {case.agency_id}")
    agency = session.get(Agency, agency_id)
    if agency is None or not agency.active:
        raise NotFound(f"agency {agency_id}: no such active agency")
    when = instant(at)
    _end_current(session, case_id, when)
    placement = Placement(
        case_id=case_id,
        agency_id=agency_id,
        placed_on=as_of,
        daily_contact_allowance=daily_contact_allowance,
        placed_by=actor.user_id or None,
    )
    session.add(placement)
    case.agency_id = agency_id
    case.assigned_user_id = None
    session.flush()
    audit.record(
        session,
        actor,
        "place",
        "case",
        case_id,
        details={"placement_id": placement.id, "agency_id": agency_id},
        at=when,
    )
    return placement.id


def recall(
    session: Session,
    actor: Actor,
    case_id: int,
    *,
    as_of: date,
    reason: str,
    at: datetime | None = None,
) -> None:
    """End the case's current agency placement."""
    require(actor, "place")
    case = load_case(session, actor, case_id, for_update=True)
    placement = session.scalar(
        select(Placement).where(Placement.case_id == case_id, Placement.recalled_on.is_(None))
    )
    if placement is None or case.agency_id is None:
        raise Conflict(f"case {case_id}: not placed with an agency")
    placement.recalled_on = as_of
    placement.recall_reason = reason
    case.agency_id = None
    when = instant(at)
    audit.record(
        session,
        actor,
        "recall",
        "case",
        case_id,
        reason=reason,
        details={"placement_id": placement.id},
        at=when,
    )
    case_event(
        session, case_id, "updated", as_of, f"recalled from agency {placement.agency_id}", at=when
    )


@dataclass(frozen=True)
class QueueSla:
    queue: str
    sla_days: int
    open_cases: int
    breached: int


def sla_breaches(session: Session, as_of: date) -> list[QueueSla]:
    """Per queue: open cases and those whose SLA date is before ``as_of``."""
    breached = func.sum(func.coalesce((Case.sla_due_on < as_of).cast(Integer), 0))
    rows = session.execute(
        select(Case.queue, func.count(), breached)
        .where(Case.status == "open")
        .group_by(Case.queue)
        .order_by(Case.queue)
    ).all()
    sla = {name: days for name, days in session.execute(select(Queue.name, Queue.sla_days))}
    return [
        QueueSla(queue or "(none)", sla.get(queue or "", 0), count, int(late or 0))
        for queue, count, late in rows
    ]
