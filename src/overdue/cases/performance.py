"""Team and collector performance for the manager's dashboard: contacts, right-party contacts,
promises, kept rate, amount collected and complaints over a period of business days."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import Integer, func, select
from sqlalchemy.orm import Session

from overdue.store.tables import (
    Case,
    Complaint,
    ContactAttempt,
    Payment,
    PaymentReversal,
    Promise,
    User,
)

MAX_DAYS = 366


@dataclass(frozen=True)
class Performance:
    who: str  # username, or team id as "team:<id>"
    user_id: int | None
    team_id: int | None
    contacts: int
    right_party: int
    promises: int
    kept: int
    broken: int
    kept_rate: Decimal  # kept / (kept + broken)
    collected_fen: int  # payments (not reversed) on the accounts of their open or closed cases
    complaints: int


def _by_user(session: Session, query: Any) -> dict[int, tuple[int, ...]]:
    return {row[0]: tuple(int(v or 0) for v in row[1:]) for row in session.execute(query)}


def _rate(kept: int, broken: int) -> Decimal:
    if kept + broken == 0:
        return Decimal(0)
    return (Decimal(kept) / Decimal(kept + broken)).quantize(Decimal("0.0001"))


def collector_performance(session: Session, start: date, end: date) -> list[Performance]:
    """One row per collector (including zeros), from ``start`` to ``end`` inclusive."""
    if not start <= end <= start + timedelta(days=MAX_DAYS):
        raise ValueError(f"period: {start}..{end} must be ordered and at most {MAX_DAYS} days")
    first = datetime.combine(start, time(), UTC)
    after = datetime.combine(end + timedelta(days=1), time(), UTC)
    contacts = _by_user(
        session,
        select(
            ContactAttempt.user_id,
            func.count(),
            func.sum(ContactAttempt.right_party.cast(Integer)),
        )
        .where(
            ContactAttempt.attempted_at >= first,
            ContactAttempt.attempted_at < after,
            ContactAttempt.blocked_rule.is_(None),  # a blocked attempt is not a contact
        )
        .group_by(ContactAttempt.user_id),
    )
    promises = _by_user(
        session,
        select(
            Promise.created_by,
            func.count(),
            func.sum((Promise.status == "kept").cast(Integer)),
            func.sum((Promise.status == "broken").cast(Integer)),
        )
        .where(
            Promise.promised_on >= start,
            Promise.promised_on <= end,
            Promise.status != "cancelled",
        )
        .group_by(Promise.created_by),
    )
    collected = _by_user(
        session,
        select(Case.assigned_user_id, func.sum(Payment.amount_fen))
        .join(Payment, Payment.account_id == Case.account_id)
        .outerjoin(PaymentReversal, PaymentReversal.payment_id == Payment.payment_id)
        .where(
            Payment.value_date >= start,
            Payment.value_date <= end,
            Payment.value_date >= Case.opened_on,
            PaymentReversal.id.is_(None),
        )
        .group_by(Case.assigned_user_id),
    )
    complaints = _by_user(
        session,
        select(Complaint.collector_user_id, func.count())
        .where(Complaint.received_at >= first, Complaint.received_at < after)
        .group_by(Complaint.collector_user_id),
    )
    rows = []
    for user in session.scalars(
        select(User).where(User.role == "collector").order_by(User.username)
    ):
        n_contacts, rpc = contacts.get(user.id, (0, 0))
        n_promises, kept, broken = promises.get(user.id, (0, 0, 0))
        rows.append(
            Performance(
                who=user.username,
                user_id=user.id,
                team_id=user.team_id,
                contacts=n_contacts,
                right_party=rpc,
                promises=n_promises,
                kept=kept,
                broken=broken,
                kept_rate=_rate(kept, broken),
                collected_fen=collected.get(user.id, (0,))[0],
                complaints=complaints.get(user.id, (0,))[0],
            )
        )
    return rows


def team_performance(rows: list[Performance]) -> list[Performance]:
    """The collector rows summed per team."""
    teams: dict[int | None, list[Performance]] = {}
    for row in rows:
        teams.setdefault(row.team_id, []).append(row)
    out = []
    for team_id, members in sorted(teams.items(), key=lambda t: (t[0] is None, t[0] or 0)):
        kept = sum(m.kept for m in members)
        broken = sum(m.broken for m in members)
        out.append(
            Performance(
                who=f"team:{team_id}",
                user_id=None,
                team_id=team_id,
                contacts=sum(m.contacts for m in members),
                right_party=sum(m.right_party for m in members),
                promises=sum(m.promises for m in members),
                kept=kept,
                broken=broken,
                kept_rate=_rate(kept, broken),
                collected_fen=sum(m.collected_fen for m in members),
                complaints=sum(m.complaints for m in members),
            )
        )
    return out
