"""Promises in the store: decide kept / broken each business day, list reminders, KPIs.

The decision itself is the pure rule in ``overdue.cases.promises``; this module feeds it the
payments of each promise's account and writes back what changed (each change audited).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from overdue.cases import audit
from overdue.cases.access import SYSTEM
from overdue.cases.clock import start_of
from overdue.cases.config import PromiseRule
from overdue.cases.promises import PaidFact, PromiseKpis, PromiseTerms, decide, kpis
from overdue.store.tables import Case, ContactAttempt, Payment, PaymentReversal, Promise

MAX_PROMISES_PER_RUN = 500_000
MAX_REMINDERS = 100_000


@dataclass
class PromiseRun:
    as_of: date
    considered: int = 0
    changed: dict[str, int] = field(default_factory=dict)

    def summary(self) -> str:
        changes = ", ".join(f"{k} {v}" for k, v in sorted(self.changed.items())) or "no change"
        return f"{self.as_of}: {self.considered} promises considered; {changes}"


def payments_by_account(
    session: Session, accounts: set[str], since: date
) -> dict[str, list[PaidFact]]:
    facts: dict[str, list[PaidFact]] = defaultdict(list)
    ids = sorted(accounts)
    for start in range(0, len(ids), 5_000):
        part = ids[start : start + 5_000]
        rows = session.execute(
            select(
                Payment.account_id,
                Payment.amount_fen,
                Payment.value_date,
                PaymentReversal.reversed_on,
            )
            .outerjoin(PaymentReversal, PaymentReversal.payment_id == Payment.payment_id)
            .where(Payment.account_id.in_(part), Payment.value_date >= since)
        )
        for account, amount, value_date, reversed_on in rows:
            facts[account].append(PaidFact(amount, value_date, reversed_on))
    return facts


def decide_promises(session: Session, as_of: date, rule: PromiseRule) -> PromiseRun:
    """Re-decide pending promises and recent decisions (a reversal can un-keep a promise)."""
    horizon = as_of - timedelta(days=rule.redecide_days + rule.grace_days)
    rows = session.execute(
        select(Promise, Case.account_id)
        .join(Case, Case.case_id == Promise.case_id)
        .where(
            Promise.status != "cancelled",
            (Promise.status == "pending") | (Promise.promised_date >= horizon),
            Promise.promised_on <= as_of,
        )
        .order_by(Promise.id)
        .limit(MAX_PROMISES_PER_RUN)
    ).all()
    run = PromiseRun(as_of, considered=len(rows))
    if not rows:
        return run
    since = min(p.promised_on for p, _ in rows)
    payments = payments_by_account(session, {a for _, a in rows}, since)
    touched_cases: set[int] = set()
    for promise, account in rows:
        terms = PromiseTerms(promise.amount_fen, promise.promised_on, promise.promised_date)
        decision = decide(terms, payments.get(account, []), as_of, rule)
        if (decision.status, decision.kept_amount_fen) == (promise.status, promise.kept_amount_fen):
            continue
        if decision.status != promise.status:
            key = f"{promise.status}->{decision.status}"
            run.changed[key] = run.changed.get(key, 0) + 1
            audit.record(
                session,
                SYSTEM,
                "promise_" + decision.status,
                "promise",
                promise.id,
                details={"case_id": promise.case_id, "kept_amount_fen": decision.kept_amount_fen},
                at=start_of(as_of),
            )
        promise.status = decision.status
        promise.kept_amount_fen = decision.kept_amount_fen
        promise.decided_on = decision.decided_on
        touched_cases.add(promise.case_id)
    _refresh_next_promise(session, touched_cases)
    session.flush()
    return run


def _refresh_next_promise(session: Session, case_ids: set[int]) -> None:
    for case_id in case_ids:
        next_date = session.scalar(
            select(func.min(Promise.promised_date)).where(
                Promise.case_id == case_id, Promise.status == "pending"
            )
        )
        session.execute(
            update(Case).where(Case.case_id == case_id).values(next_promise_on=next_date)
        )


@dataclass(frozen=True)
class Reminder:
    promise_id: int
    case_id: int
    customer_id: str
    account_id: str
    amount_fen: int
    promised_date: date
    language: str


def reminders_due(session: Session, as_of: date) -> list[Reminder]:
    """Pending promises whose reminder date has come and whose reminder was not sent."""
    rows = session.execute(
        select(Promise, Case.customer_id, Case.account_id, Case.language)
        .join(Case, Case.case_id == Promise.case_id)
        .where(
            Promise.status == "pending",
            Promise.reminder_due_on <= as_of,
            Promise.reminder_sent_on.is_(None),
            Promise.promised_date >= as_of,
        )
        .order_by(Promise.promised_date, Promise.id)
        .limit(MAX_REMINDERS)
    ).all()
    return [
        Reminder(p.id, p.case_id, customer, account, p.amount_fen, p.promised_date, language)
        for p, customer, account, language in rows
    ]


def mark_reminders_sent(session: Session, promise_ids: list[int], as_of: date) -> int:
    if not promise_ids:
        return 0
    result = session.execute(
        update(Promise)
        .where(Promise.id.in_(promise_ids), Promise.reminder_sent_on.is_(None))
        .values(reminder_sent_on=as_of)
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def promise_kpis(session: Session, start: date, end: date) -> PromiseKpis:
    """KPIs of promises made from ``start`` to ``end`` (inclusive); right-party contacts of the
    same days (UTC dates) give the promise rate."""
    rows = session.execute(
        select(Promise.status, Promise.amount_fen, Promise.kept_amount_fen).where(
            Promise.promised_on >= start, Promise.promised_on <= end, Promise.status != "cancelled"
        )
    ).all()
    first = datetime.combine(start, time(), UTC)
    after = datetime.combine(end + timedelta(days=1), time(), UTC)
    rpc = session.scalar(
        select(func.count())
        .select_from(ContactAttempt)
        .where(
            ContactAttempt.right_party.is_(True),
            ContactAttempt.attempted_at >= first,
            ContactAttempt.attempted_at < after,
        )
    )
    return kpis([(s, a, k) for s, a, k in rows], int(rpc or 0))
