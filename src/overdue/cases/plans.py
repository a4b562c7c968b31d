"""Installment plans for a case's overdue amount: the schedule (sums exactly to the amount),
which installments are paid, and when the plan is broken (an installment unpaid past its due
date + grace days). Pure functions first; the store functions below use them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from overdue.cases import audit
from overdue.cases.access import SYSTEM, Actor, Conflict, load_case, require
from overdue.cases.authority import propose
from overdue.cases.clock import start_of
from overdue.cases.config import AuthorityMatrix, PlanRule
from overdue.cases.promise_keeping import payments_by_account
from overdue.cases.promises import PaidFact
from overdue.store.tables import Approval, Case, Plan, PlanInstallment


@dataclass(frozen=True)
class Installment:
    seq: int
    due_on: date
    amount_fen: int


def schedule(total_fen: int, count: int, first_due: date, interval_days: int) -> list[Installment]:
    """``count`` installments every ``interval_days`` from ``first_due``; equal parts in fen,
    the first ``total % count`` parts one fen larger, so they sum to ``total_fen`` exactly."""
    if total_fen <= 0:
        raise ValueError(f"total_fen: {total_fen} must be positive")
    if not 1 <= count <= total_fen:
        raise ValueError(f"installments: {count} must be between 1 and the amount in fen")
    base, extra = divmod(total_fen, count)
    parts = [
        Installment(i + 1, first_due + timedelta(days=i * interval_days), base + (i < extra))
        for i in range(count)
    ]
    assert sum(p.amount_fen for p in parts) == total_fen
    return parts


@dataclass(frozen=True)
class PlanState:
    status: str  # active | completed | broken
    paid_fen: tuple[int, ...]  # per installment
    missed: tuple[int, ...]  # seq numbers missed beyond grace


def plan_state(
    installments: Sequence[Installment],
    payments: Sequence[PaidFact],
    *,
    since: date,
    as_of: date,
    grace_days: int,
) -> PlanState:
    """Payments from ``since`` (not reversed by ``as_of``) fill installments oldest first."""
    available = sum(
        p.amount_fen
        for p in payments
        if since <= p.value_date <= as_of and (p.reversed_on is None or p.reversed_on > as_of)
    )
    paid: list[int] = []
    for item in installments:
        portion = min(item.amount_fen, available)
        paid.append(portion)
        available -= portion
    missed = tuple(
        item.seq
        for item, got in zip(installments, paid, strict=True)
        if got < item.amount_fen and as_of > item.due_on + timedelta(days=grace_days)
    )
    if all(got == item.amount_fen for item, got in zip(installments, paid, strict=True)):
        status = "completed"
    elif missed:
        status = "broken"
    else:
        status = "active"
    return PlanState(status, tuple(paid), missed)


def propose_plan(
    session: Session,
    actor: Actor,
    case_id: int,
    *,
    installments: int,
    first_due: date,
    as_of: date,
    rule: PlanRule,
    matrix: AuthorityMatrix,
    reason: str | None = None,
    at: datetime | None = None,
) -> int:
    """Propose a plan for the case's whole overdue amount; it waits for approval (authority
    matrix) before it is active. Returns the plan id."""
    require(actor, "propose")
    if not rule.min_installments <= installments <= rule.max_installments:
        raise ValueError(
            f"installments: {installments} must be between {rule.min_installments} "
            f"and {rule.max_installments}"
        )
    if first_due < as_of:
        raise ValueError(f"first_due: {first_due} is before today ({as_of})")
    case = load_case(session, actor, case_id, for_update=True)
    if case.status == "closed" or case.overdue_fen <= 0:
        raise Conflict(f"case {case_id}: nothing overdue to put on a plan")
    open_plan = session.scalar(
        select(Plan.id).where(Plan.case_id == case_id, Plan.status.in_(("proposed", "active")))
    )
    if open_plan is not None:
        raise Conflict(f"case {case_id}: plan {open_plan} is already proposed or active")
    parts = schedule(case.overdue_fen, installments, first_due, rule.interval_days)
    plan = Plan(
        case_id=case_id,
        total_fen=case.overdue_fen,
        installments=installments,
        grace_days=rule.grace_days,
        status="proposed",
        created_on=as_of,
        created_by=actor.user_id or None,
    )
    session.add(plan)
    session.flush()
    for part in parts:
        session.add(
            PlanInstallment(
                plan_id=plan.id, seq=part.seq, due_on=part.due_on, amount_fen=part.amount_fen
            )
        )
    plan.approval_id = propose(
        session,
        actor,
        kind="plan",
        case_id=case_id,
        amount_fen=case.overdue_fen,
        matrix=matrix,
        details={"plan_id": plan.id, "installments": installments},
        reason=reason,
        at=at,
    )
    session.flush()
    return plan.id


def evaluate_plans(session: Session, as_of: date) -> dict[str, int]:
    """Update paid amounts of active plans; mark them completed or broken (audited)."""
    plans = session.execute(
        select(Plan, Case.account_id)
        .join(Case, Case.case_id == Plan.case_id)
        .where(Plan.status == "active")
    ).all()
    if not plans:
        return {}
    since = min(p.created_on for p, _ in plans)
    payments = payments_by_account(session, {a for _, a in plans}, since)
    counts: dict[str, int] = {}
    for plan, account in plans:
        rows = session.scalars(
            select(PlanInstallment)
            .where(PlanInstallment.plan_id == plan.id)
            .order_by(PlanInstallment.seq)
        ).all()
        items = [Installment(r.seq, r.due_on, r.amount_fen) for r in rows]
        state = plan_state(
            items,
            payments.get(account, []),
            since=plan.created_on,
            as_of=as_of,
            grace_days=plan.grace_days,
        )
        for row, got in zip(rows, state.paid_fen, strict=True):
            row.paid_fen = got
            row.status = (
                "paid"
                if got == row.amount_fen
                else ("missed" if row.seq in state.missed else "due")
            )
        if state.status != plan.status:
            plan.status = state.status
            plan.decided_on = as_of
            counts[state.status] = counts.get(state.status, 0) + 1
            audit.record(
                session,
                SYSTEM,
                f"plan_{state.status}",
                "plan",
                plan.id,
                details={"case_id": plan.case_id, "missed": list(state.missed)},
                at=start_of(as_of),
            )
    session.flush()
    return counts


def plan_approval(session: Session, plan_id: int) -> Approval | None:
    plan = session.get(Plan, plan_id)
    return (
        None
        if plan is None or plan.approval_id is None
        else session.get(Approval, plan.approval_id)
    )
