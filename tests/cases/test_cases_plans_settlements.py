"""Installment plans and settlements: exact schedules (property-tested), broken-plan handling,
the authority matrix (maker ≠ checker, by amount and role) and every decision audited."""

from __future__ import annotations

from datetime import date, timedelta
from itertools import pairwise

import pytest
from cases_world import AS_OF, World
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from overdue.cases import authority
from overdue.cases.access import NotAllowed
from overdue.cases.config import AuthorityMatrix, PlanRule, SettlementRule
from overdue.cases.payments import record_payment
from overdue.cases.plans import Installment, evaluate_plans, plan_state, propose_plan, schedule
from overdue.cases.promises import PaidFact
from overdue.cases.settlements import evaluate_settlements, propose_settlement
from overdue.store.tables import AuditEntry, Case, Plan, Settlement

MATRIX = AuthorityMatrix()
START = date(2024, 7, 1)


@given(st.integers(1, 10**10), st.integers(1, 36), st.integers(1, 60))
def test_schedule_sums_exactly(total: int, count: int, interval: int) -> None:
    if count > total:
        with pytest.raises(ValueError):
            schedule(total, count, START, interval)
        return
    parts = schedule(total, count, START, interval)
    assert sum(p.amount_fen for p in parts) == total
    assert len(parts) == count
    assert max(p.amount_fen for p in parts) - min(p.amount_fen for p in parts) <= 1
    assert all(b.due_on - a.due_on == timedelta(days=interval) for a, b in pairwise(parts))


@given(
    st.integers(2, 10**7),
    st.integers(1, 12),
    st.lists(st.tuples(st.integers(1, 10**6), st.integers(0, 400)), max_size=8),
    st.integers(0, 400),
    st.integers(0, 5),
)
def test_plan_state_invariants(
    total: int, count: int, paid: list[tuple[int, int]], day: int, grace: int
) -> None:
    parts = schedule(total, min(count, total), START, 30)
    payments = [PaidFact(a, START + timedelta(days=d)) for a, d in paid]
    as_of = START + timedelta(days=day)
    state = plan_state(parts, payments, since=START, as_of=as_of, grace_days=grace)
    counted = sum(a for a, d in paid if d <= day)
    assert sum(state.paid_fen) == min(total, counted)
    assert all(0 <= got <= p.amount_fen for got, p in zip(state.paid_fen, parts, strict=True))
    assert (state.status == "completed") == (counted >= total)
    if state.status == "broken":
        first = next(p for p in parts if p.seq == state.missed[0])
        assert as_of > first.due_on + timedelta(days=grace)


def test_reversed_payments_leave_an_installment_missed() -> None:
    parts = [Installment(1, START, 100), Installment(2, START + timedelta(days=30), 100)]
    paid = [PaidFact(100, START, reversed_on=START + timedelta(days=2))]
    early = plan_state(parts, paid, since=START, as_of=START + timedelta(days=1), grace_days=3)
    assert early.status == "active" and early.paid_fen == (100, 0)
    late = plan_state(parts, paid, since=START, as_of=START + timedelta(days=5), grace_days=3)
    assert late.status == "broken" and late.missed == (1,)


def test_authority_brackets_by_amount_and_role() -> None:
    assert authority.authority_for(MATRIX, "settlement", 50_000, "collector").approvers == (
        "manager",
        "admin",
    )
    assert authority.authority_for(MATRIX, "settlement", 500_000, "manager").approvers == ("admin",)
    with pytest.raises(NotAllowed):
        authority.authority_for(MATRIX, "settlement", 500_000, "collector")
    with pytest.raises(NotAllowed):
        authority.authority_for(MATRIX, "waiver", 10**12, "manager")


def _audits(session: Session, action: str) -> int:
    query = select(func.count()).select_from(AuditEntry).where(AuditEntry.action == action)
    return session.scalar(query) or 0


def test_settlement_maker_checker_and_payment_closes(session: Session, world: World) -> None:
    case_id = world.cases[0]  # 100 000 fen overdue
    collector, manager = world.actor("collector1"), world.actor("manager")
    settlement_id = propose_settlement(
        session,
        collector,
        case_id,
        amount_fen=80_000,
        due_on=AS_OF + timedelta(days=10),
        as_of=AS_OF,
        rule=SettlementRule(),
        matrix=MATRIX,
    )
    settlement = session.get(Settlement, settlement_id)
    assert settlement is not None and settlement.discount_fen == 20_000
    approval_id = settlement.approval_id
    assert approval_id is not None
    with pytest.raises(NotAllowed, match="may not approve"):
        authority.decide(
            session,
            world.actor("collector2"),
            approval_id,
            approve=True,
            matrix=MATRIX,
            as_of=AS_OF,
        )
    with pytest.raises(NotAllowed, match="maker"):
        authority.decide(session, collector, approval_id, approve=True, matrix=MATRIX, as_of=AS_OF)
    authority.decide(session, manager, approval_id, approve=True, matrix=MATRIX, as_of=AS_OF)
    assert settlement.status == "active"
    assert _audits(session, "propose_settlement") == 1
    assert _audits(session, "approved_settlement") == 1

    record_payment(
        session,
        payment_id="S-1",
        account_id="TA00001",
        amount_fen=80_000,
        value_date=AS_OF + timedelta(days=3),
        source="test",
    )
    assert evaluate_settlements(session, AS_OF + timedelta(days=3)) == {"paid": 1}
    case = session.get(Case, case_id)
    assert case is not None and (case.status, case.close_reason) == ("closed", "settled")


def test_too_deep_a_discount_is_refused(session: Session, world: World) -> None:
    with pytest.raises(ValueError, match="discount"):
        propose_settlement(
            session,
            world.actor("collector1"),
            world.cases[0],
            amount_fen=10_000,
            due_on=AS_OF + timedelta(days=5),
            as_of=AS_OF,
            rule=SettlementRule(),
            matrix=MATRIX,
        )


def test_plan_approved_then_broken(session: Session, world: World) -> None:
    case_id = world.cases[1]
    rule = PlanRule(grace_days=3, interval_days=30)
    plan_id = propose_plan(
        session,
        world.actor("collector1"),
        case_id,
        installments=3,
        first_due=AS_OF + timedelta(days=5),
        as_of=AS_OF,
        rule=rule,
        matrix=MATRIX,
    )
    plan = session.get(Plan, plan_id)
    assert plan is not None and plan.status == "proposed" and plan.approval_id is not None
    authority.decide(
        session, world.actor("manager"), plan.approval_id, approve=True, matrix=MATRIX, as_of=AS_OF
    )
    assert plan.status == "active"
    record_payment(
        session,
        payment_id="PL-1",
        account_id="TA00002",
        amount_fen=plan.total_fen // 3 + 1,
        value_date=AS_OF + timedelta(days=5),
        source="test",
    )
    assert evaluate_plans(session, AS_OF + timedelta(days=20)) == {}
    assert evaluate_plans(session, AS_OF + timedelta(days=39)) == {"broken": 1}
    assert plan.status == "broken"
    assert _audits(session, "plan_broken") == 1
