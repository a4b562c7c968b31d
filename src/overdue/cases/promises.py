"""Promises to pay: the pure rule deciding kept / broken from payments (no database, no clock).

A promise of ``amount_fen`` made on ``promised_on`` for ``promised_date`` counts every payment on
the account with value date from ``promised_on`` to ``promised_date + grace_days`` (early payments
count; partial payments add up) that was not reversed by ``as_of``. It is **kept** as soon as the
counted total reaches ``amount_fen − allowance`` with allowance = max(tolerance_fen,
floor(amount_fen × tolerance_pct)); **broken** once ``as_of`` is past the grace window without that;
**pending** otherwise. A later reversal un-keeps it (decisions are recomputed from the facts).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_FLOOR, Decimal

from overdue.cases.config import PromiseRule


@dataclass(frozen=True)
class PaidFact:
    """A payment on the promise's account; ``reversed_on`` is when it was reversed, if ever."""

    amount_fen: int
    value_date: date
    reversed_on: date | None = None

    def __post_init__(self) -> None:
        assert self.amount_fen > 0, "a payment amount is positive"


@dataclass(frozen=True)
class PromiseTerms:
    amount_fen: int
    promised_on: date  # the business date the promise was made
    promised_date: date  # the date the customer promised to pay by

    def __post_init__(self) -> None:
        assert self.amount_fen > 0, "a promise amount is positive"
        assert self.promised_date >= self.promised_on, "a promise is for a later date"


@dataclass(frozen=True)
class PromiseDecision:
    status: str  # pending | kept | broken
    kept_amount_fen: int  # counted payments so far
    decided_on: date | None


def allowance_fen(amount_fen: int, rule: PromiseRule) -> int:
    """How much short of the amount still counts as kept."""
    by_pct = int((Decimal(amount_fen) * rule.tolerance_pct).to_integral_value(ROUND_FLOOR))
    return max(rule.tolerance_fen, by_pct)


def required_fen(amount_fen: int, rule: PromiseRule) -> int:
    """The total that keeps the promise (never below 1 fen)."""
    return max(1, amount_fen - allowance_fen(amount_fen, rule))


def last_counted_day(terms: PromiseTerms, rule: PromiseRule) -> date:
    return terms.promised_date + timedelta(days=rule.grace_days)


def reminder_date(terms: PromiseTerms, rule: PromiseRule) -> date:
    """``reminder_days`` before the promised date, but not before the promise was made."""
    return max(terms.promised_on, terms.promised_date - timedelta(days=rule.reminder_days))


def decide(
    terms: PromiseTerms, payments: Iterable[PaidFact], as_of: date, rule: PromiseRule
) -> PromiseDecision:
    """The promise's status at the end of ``as_of`` given every payment known then."""
    window_end = min(last_counted_day(terms, rule), as_of)
    counted = sorted(
        (
            p
            for p in payments
            if terms.promised_on <= p.value_date <= window_end
            and (p.reversed_on is None or p.reversed_on > as_of)
        ),
        key=lambda p: p.value_date,
    )
    needed = required_fen(terms.amount_fen, rule)
    total = 0
    kept_on: date | None = None
    for payment in counted:
        total += payment.amount_fen
        if kept_on is None and total >= needed:
            kept_on = payment.value_date
    if kept_on is not None:
        return PromiseDecision("kept", total, kept_on)
    if as_of > last_counted_day(terms, rule):
        return PromiseDecision("broken", total, last_counted_day(terms, rule) + timedelta(days=1))
    return PromiseDecision("pending", total, None)


@dataclass(frozen=True)
class PromiseKpis:
    promises: int
    right_party_contacts: int
    promise_rate: Decimal  # promises / right-party contacts
    falling_due: int  # kept + broken
    kept: int
    kept_rate: Decimal  # kept / falling due
    promised_fen: int
    kept_amount_fen: int


def _ratio(numerator: int, denominator: int) -> Decimal:
    if denominator == 0:
        return Decimal(0)
    return (Decimal(numerator) / Decimal(denominator)).quantize(Decimal("0.0001"))


def kpis(decisions: Iterable[tuple[str, int, int]], right_party_contacts: int) -> PromiseKpis:
    """KPIs from (status, amount_fen, kept_amount_fen) of the period's promises."""
    rows = list(decisions)
    kept = [r for r in rows if r[0] == "kept"]
    broken = sum(1 for r in rows if r[0] == "broken")
    return PromiseKpis(
        promises=len(rows),
        right_party_contacts=right_party_contacts,
        promise_rate=_ratio(len(rows), right_party_contacts),
        falling_due=len(kept) + broken,
        kept=len(kept),
        kept_rate=_ratio(len(kept), len(kept) + broken),
        promised_fen=sum(r[1] for r in rows),
        kept_amount_fen=sum(r[2] for r in kept),
    )
