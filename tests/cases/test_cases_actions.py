"""Actions on cases: permissions, transfers that pause, placement and recall, assignment limits."""

from __future__ import annotations

from datetime import timedelta

import pytest
from cases_world import AS_OF, AT, World, add_case
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from overdue.cases.access import Conflict, NotAllowed
from overdue.cases.actions import (
    add_note,
    log_contact_outcome,
    record_promise,
    resolve_transfer,
    transfer_case,
)
from overdue.cases.assignment import assign, auto_assign, place_with_agency, recall, sla_breaches
from overdue.cases.views import list_queue
from overdue.store.tables import AuditEntry, Case, Customer, Promise


def _audit_count(session: Session, action: str) -> int:
    query = select(func.count()).select_from(AuditEntry).where(AuditEntry.action == action)
    return session.scalar(query) or 0


def test_read_only_roles_cannot_act(session: Session, world: World) -> None:
    for name in ("analyst", "auditor"):
        with pytest.raises(NotAllowed):
            add_note(session, world.actor(name), world.cases[0], "hello")
    with pytest.raises(NotAllowed):
        add_note(session, world.actor("collector2"), world.cases[0], "not my case")


def test_contact_moves_sla_and_is_audited(session: Session, world: World) -> None:
    collector = world.actor("collector1")
    log_contact_outcome(
        session,
        collector,
        world.cases[0],
        channel="voice_agent",
        outcome="no_answer",
        connected=False,
        right_party=False,
        at=AT,
    )
    case = session.get(Case, world.cases[0])
    assert case is not None and case.last_contact_at == AT
    assert case.sla_due_on == AS_OF + timedelta(days=2)  # early-zh: 2 days, 10:00 Shanghai
    assert _audit_count(session, "log_contact") == 1
    with pytest.raises(ValueError, match="right_party"):
        log_contact_outcome(
            session,
            collector,
            world.cases[0],
            channel="sms",
            outcome="delivered",
            connected=False,
            right_party=True,
        )


def test_new_promise_cancels_the_pending_one(session: Session, world: World) -> None:
    collector = world.actor("collector1")
    first = record_promise(
        session, collector, world.cases[0], amount_fen=1000, promised_date=AS_OF, as_of=AS_OF
    )
    second = record_promise(
        session,
        collector,
        world.cases[0],
        amount_fen=2000,
        promised_date=AS_OF + timedelta(days=5),
        as_of=AS_OF,
    )
    statuses = {p.id: p.status for p in session.scalars(select(Promise))}
    assert statuses == {first: "cancelled", second: "pending"}
    with pytest.raises(ValueError, match="before today"):
        record_promise(
            session,
            collector,
            world.cases[0],
            amount_fen=1,
            promised_date=AS_OF - timedelta(days=1),
            as_of=AS_OF,
        )
    with pytest.raises(ValueError, match="amount_fen"):
        record_promise(
            session, collector, world.cases[0], amount_fen=0, promised_date=AS_OF, as_of=AS_OF
        )


def test_dispute_transfer_pauses_and_flags_then_resumes(session: Session, world: World) -> None:
    transfer_id = transfer_case(
        session, world.actor("collector1"), world.cases[0], reason="dispute", as_of=AS_OF, at=AT
    )
    case = session.get(Case, world.cases[0])
    assert case is not None
    assert (case.status, case.pause_reason) == ("paused", "dispute")
    assert case.team_id == world.teams["customer_service"]
    customer = session.get(Customer, case.customer_id)
    assert customer is not None and customer.dispute
    assert list_queue(session, world.actor("collector1")).total == 1  # paused leaves the queue
    with pytest.raises(NotAllowed):
        resolve_transfer(
            session,
            world.actor("collector1"),
            transfer_id,
            resolution="x",
            resume=True,
            as_of=AS_OF,
        )
    resolve_transfer(
        session,
        world.actor("service"),
        transfer_id,
        resolution="customer confirmed the debt",
        resume=True,
        as_of=AS_OF,
    )
    assert (case.status, case.pause_reason, customer.dispute) == ("open", None, False)
    with pytest.raises(Conflict):
        resolve_transfer(
            session,
            world.actor("service"),
            transfer_id,
            resolution="again",
            resume=True,
            as_of=AS_OF,
        )


def test_fraud_goes_to_risk_and_legal_keeps_collecting(session: Session, world: World) -> None:
    manager = world.actor("manager")
    transfer_case(session, manager, world.cases[0], reason="fraud", as_of=AS_OF)
    transfer_case(session, manager, world.cases[1], reason="legal", as_of=AS_OF)
    fraud, legal = session.get(Case, world.cases[0]), session.get(Case, world.cases[1])
    assert fraud is not None and legal is not None
    assert (fraud.status, fraud.team_id) == ("paused", world.teams["risk"])
    assert (legal.status, legal.team_id) == ("open", world.teams["legal"])
    with pytest.raises(ValueError, match="to_team_id"):
        transfer_case(session, manager, world.cases[2], reason="other", as_of=AS_OF)


def test_place_and_recall(session: Session, world: World) -> None:
    manager = world.actor("manager")
    case_id = world.cases[0]
    with pytest.raises(NotAllowed):
        place_with_agency(session, world.actor("collector1"), case_id, world.agency_id, as_of=AS_OF)
    place_with_agency(session, manager, case_id, world.agency_id, as_of=AS_OF)
    assert case_id in {r.case_id for r in list_queue(session, world.actor("agency")).rows}
    assert case_id not in {r.case_id for r in list_queue(session, world.actor("collector1")).rows}
    with pytest.raises(Conflict):
        place_with_agency(session, manager, case_id, world.agency_id, as_of=AS_OF)
    recall(session, manager, case_id, as_of=AS_OF, reason="quality")
    assert case_id not in {r.case_id for r in list_queue(session, world.actor("agency")).rows}
    with pytest.raises(Conflict):
        recall(session, manager, case_id, as_of=AS_OF, reason="again")


def test_assignment_respects_skills_and_limits(session: Session, world: World) -> None:
    manager = world.actor("manager")
    collector1 = world.actor("collector1")  # zh-CN only, max 5 open cases, holds 2
    english_case = world.cases[2]
    with pytest.raises(Conflict, match="en"):
        assign(session, manager, english_case, collector1.user_id)
    extra = [add_case(session, 10 + i) for i in range(4)]
    for case_id in extra[:3]:
        assign(session, manager, case_id, collector1.user_id)
    with pytest.raises(Conflict, match="5 open cases"):
        assign(session, manager, extra[3], collector1.user_id)
    with pytest.raises(NotAllowed):
        assign(session, collector1, extra[3], collector1.user_id)


def test_auto_assign_fills_capacity_by_priority(session: Session, world: World) -> None:
    manager = world.actor("manager")
    for i in range(12):
        add_case(session, 100 + i, priority=1000 + i)
    assigned = auto_assign(session, manager)
    # collector1: 5 - 2 = 3 free; collector2: 5 - 1 = 4 free; 13 unassigned cases
    assert assigned == 7
    for name in ("collector1", "collector2"):
        assert list_queue(session, world.actor(name)).total == 5
    left = session.scalars(
        select(Case.priority_score).where(Case.assigned_user_id.is_(None), Case.agency_id.is_(None))
    ).all()
    assert max(left) < 1000 + 5  # the highest priorities went first
    assert _audit_count(session, "auto_assign") == 1


def test_sla_breaches_per_queue(session: Session, world: World) -> None:
    later = AS_OF + timedelta(days=10)
    report = {r.queue: r for r in sla_breaches(session, later)}
    assert report["early-zh"].open_cases == 3 and report["early-zh"].breached == 3
    assert report["early-zh"].sla_days == 2
    assert all(r.breached == 0 for r in sla_breaches(session, AS_OF))
