"""Settlements: the case's overdue amount settled for less, approved through the authority
matrix (the amount judged is the discount), broken when not paid in full by its due date; a paid
settlement closes the case as ``settled``."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from overdue.cases import audit
from overdue.cases.access import SYSTEM, Actor, Conflict, load_case, require
from overdue.cases.authority import propose
from overdue.cases.clock import start_of
from overdue.cases.config import AuthorityMatrix, SettlementRule
from overdue.cases.events import case_event
from overdue.cases.promise_keeping import payments_by_account
from overdue.cases.promises import PaidFact
from overdue.store.tables import Case, Settlement


def settlement_status(
    amount_fen: int,
    due_on: date,
    payments: list[PaidFact],
    *,
    since: date,
    as_of: date,
) -> tuple[str, int]:
    """(active | paid | broken, paid so far) for a settlement of ``amount_fen`` due ``due_on``."""
    paid = sum(
        p.amount_fen
        for p in payments
        if since <= p.value_date <= min(due_on, as_of)
        and (p.reversed_on is None or p.reversed_on > as_of)
    )
    if paid >= amount_fen:
        return "paid", paid
    if as_of > due_on:
        return "broken", paid
    return "active", paid


def propose_settlement(
    session: Session,
    actor: Actor,
    case_id: int,
    *,
    amount_fen: int,
    due_on: date,
    as_of: date,
    rule: SettlementRule,
    matrix: AuthorityMatrix,
    reason: str | None = None,
    at: datetime | None = None,
) -> int:
    """Propose to settle the case for ``amount_fen`` by ``due_on``; returns the settlement id."""
    require(actor, "propose")
    case = load_case(session, actor, case_id, for_update=True)
    if case.status == "closed":
        raise Conflict(f"case {case_id}: closed")
    if not 0 < amount_fen <= case.overdue_fen:
        raise ValueError(f"amount_fen: {amount_fen} must be between 1 and {case.overdue_fen}")
    discount = case.overdue_fen - amount_fen
    if Decimal(discount) > Decimal(case.overdue_fen) * rule.max_discount_pct:
        raise ValueError(
            f"amount_fen: a discount of {discount} fen is more than "
            f"{rule.max_discount_pct:%} of {case.overdue_fen} fen"
        )
    if not as_of <= due_on <= as_of + timedelta(days=rule.max_days_to_pay):
        raise ValueError(f"due_on: must be within {rule.max_days_to_pay} days from {as_of}")
    settlement = Settlement(
        case_id=case_id,
        overdue_fen=case.overdue_fen,
        amount_fen=amount_fen,
        discount_fen=discount,
        due_on=due_on,
        status="proposed",
        created_on=as_of,
        created_by=actor.user_id or None,
    )
    session.add(settlement)
    session.flush()
    settlement.approval_id = propose(
        session,
        actor,
        kind="settlement",
        case_id=case_id,
        amount_fen=discount,
        matrix=matrix,
        details={"settlement_id": settlement.id, "amount_fen": amount_fen},
        reason=reason,
        at=at,
    )
    session.flush()
    return settlement.id


def evaluate_settlements(session: Session, as_of: date) -> dict[str, int]:
    """Mark active settlements paid (closing the case as settled) or broken."""
    rows = session.execute(
        select(Settlement, Case)
        .join(Case, Case.case_id == Settlement.case_id)
        .where(Settlement.status == "active")
    ).all()
    if not rows:
        return {}
    since = min(s.created_on for s, _ in rows)
    payments = payments_by_account(session, {c.account_id for _, c in rows}, since)
    counts: dict[str, int] = {}
    for settlement, case in rows:
        status, paid = settlement_status(
            settlement.amount_fen,
            settlement.due_on,
            payments.get(case.account_id, []),
            since=settlement.created_on,
            as_of=as_of,
        )
        settlement.paid_fen = paid
        if status == settlement.status:
            continue
        settlement.status = status
        settlement.decided_on = as_of
        counts[status] = counts.get(status, 0) + 1
        audit.record(
            session,
            SYSTEM,
            f"settlement_{status}",
            "settlement",
            settlement.id,
            details={"case_id": case.case_id, "paid_fen": paid},
            at=start_of(as_of),
        )
        if status == "paid" and case.status != "closed":
            case.status = "closed"
            case.closed_on = as_of
            case.close_reason = "settled"
            case_event(session, case.case_id, "closed", as_of, "settlement paid", start_of(as_of))
    session.flush()
    return counts
