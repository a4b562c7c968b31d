"""Revolving bills (Huabei-like) — domain.md §1.

Defaults *(all settings, see* :class:`RevolvingTerms` *)*: statement day the 1st, due day the 10th
(of the same month when the due day is after the statement day, else of the next month; both
clamped to the month's last day), minimum payment 10 % of the bill, revolving interest 0.05 %/day.

The revolving rule, exactly:

- A bill whose minimum was paid by its due date is not overdue; its unpaid rest (**revolved**,
  ``bill amount − paid by the due date``) is carried into the next bill. A bill whose minimum was
  not paid is overdue and belongs to the overdue engine, not here (:func:`next_statement` refuses
  it).
- The next bill charges revolving interest on the revolved amount for every day from the day
  after the previous due date to the next statement date, **both inclusive**:
  ``days = next_statement_date − previous_due_date`` and
  ``interest = round_half_up(revolved × daily_rate × days)`` to 0.01, computed once.
  The revolved amount is taken as constant over that window (payments after the due date are the
  engine's business, not the bill builder's).
- The next bill's principal = revolved + new spending; its amount = principal + interest; its
  minimum = ``round_half_up(amount × minimum_rate)``. The revolved amount may include unpaid
  interest of the earlier bill: it becomes principal of the next one (monthly compounding).

Worked example (defaults): bill of 1 000.00 on 2024-01-01, due 2024-01-10, minimum 100.00; the
customer pays exactly 100.00, so 900.00 revolves; the next statement is 2024-02-01, 22 days after
the due date (Jan 11 … Feb 1), so interest = 900.00 × 0.0005 × 22 = 9.90; with 200.00 new spending
the February bill is 1 100.00 principal + 9.90 interest = 1 109.90, minimum 110.99.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from fractions import Fraction
from typing import Final

from overdue.domain.calendar import add_months, last_day_of_month
from overdue.domain.money import CENT, ZERO
from overdue.domain.schedules import DueItemData, round_fraction

DEFAULT_STATEMENT_DAY: Final = 1
DEFAULT_DUE_DAY: Final = 10
DEFAULT_MINIMUM_RATE: Final = Decimal("0.10")
DEFAULT_REVOLVING_DAILY_RATE: Final = Decimal("0.0005")


def _check_amount(value: Decimal, field: str) -> None:
    if not isinstance(value, Decimal) or not value.is_finite():
        raise ValueError(f"{field}: {value!r} must be a finite Decimal")
    if value < 0:
        raise ValueError(f"{field}: {value} must be ≥ 0")
    if value != value.quantize(CENT):
        raise ValueError(f"{field}: {value} has more than two decimals")


def _check_fraction_rate(value: Decimal, field: str) -> None:
    if not isinstance(value, Decimal) or not value.is_finite() or not 0 <= value <= 1:
        raise ValueError(f"{field}: {value!r} must be a Decimal between 0 and 1")


@dataclass(frozen=True)
class RevolvingTerms:
    """The settings of a revolving product; every number is a default, not a law."""

    statement_day: int = DEFAULT_STATEMENT_DAY
    due_day: int = DEFAULT_DUE_DAY
    minimum_rate: Decimal = DEFAULT_MINIMUM_RATE
    daily_interest_rate: Decimal = DEFAULT_REVOLVING_DAILY_RATE

    def __post_init__(self) -> None:
        for field in ("statement_day", "due_day"):
            day = getattr(self, field)
            if isinstance(day, bool) or not isinstance(day, int) or not 1 <= day <= 31:
                raise ValueError(f"{field}: {day!r} must be a day of month 1..31")
        if self.due_day == self.statement_day:
            raise ValueError(f"due_day: {self.due_day} must differ from statement_day")
        _check_fraction_rate(self.minimum_rate, "minimum_rate")
        _check_fraction_rate(self.daily_interest_rate, "daily_interest_rate")


DEFAULT_TERMS: Final = RevolvingTerms()


@dataclass(frozen=True)
class Statement:
    """One monthly bill. ``amount = principal + interest``; ``principal = revolved + new_spend``."""

    statement_date: date
    due_date: date
    new_spend: Decimal
    revolved: Decimal
    interest: Decimal
    principal: Decimal
    amount: Decimal
    minimum: Decimal


def minimum_payment(bill_amount: Decimal, minimum_rate: Decimal = DEFAULT_MINIMUM_RATE) -> Decimal:
    """``round_half_up(bill_amount × minimum_rate)`` to 0.01 (never more than the bill)."""
    _check_amount(bill_amount, "bill_amount")
    _check_fraction_rate(minimum_rate, "minimum_rate")
    minimum = round_fraction(Fraction(bill_amount) * Fraction(minimum_rate))
    assert minimum <= bill_amount
    return minimum


def due_date_for(statement_date: date, terms: RevolvingTerms = DEFAULT_TERMS) -> date:
    """The due date of a bill: the due day after the statement date (same or next month)."""
    months = 0 if terms.due_day > terms.statement_day else 1
    due = add_months(statement_date, months, day=terms.due_day)
    if due <= statement_date:
        raise ValueError(
            f"due_day: {terms.due_day} falls on the statement date {statement_date} after clamping"
        )
    return due


def statement_date_in(year: int, month: int, terms: RevolvingTerms = DEFAULT_TERMS) -> date:
    """The statement date in a given month (the statement day clamped to the month's end)."""
    return date(year, month, min(terms.statement_day, last_day_of_month(year, month)))


def revolving_interest(
    revolved: Decimal, previous_due_date: date, statement_date: date, daily_rate: Decimal
) -> Decimal:
    """Interest on ``revolved`` from ``previous_due_date + 1`` to ``statement_date`` inclusive."""
    _check_amount(revolved, "revolved")
    _check_fraction_rate(daily_rate, "daily_rate")
    days = (statement_date - previous_due_date).days
    if days < 0:
        raise ValueError(
            f"statement_date: {statement_date} is before the previous due date {previous_due_date}"
        )
    return round_fraction(Fraction(revolved) * Fraction(daily_rate) * days)


def build_statement(
    statement_date: date,
    new_spend: Decimal,
    *,
    revolved: Decimal = ZERO,
    previous_due_date: date | None = None,
    terms: RevolvingTerms = DEFAULT_TERMS,
) -> Statement:
    """A bill from new spending plus an amount revolved from the bill due on ``previous_due_date``.

    ``previous_due_date`` is required when ``revolved`` is not zero (interest runs from the day
    after it). The rule is in the module doc.
    """
    _check_amount(new_spend, "new_spend")
    _check_amount(revolved, "revolved")
    interest = ZERO
    if revolved > 0:
        if previous_due_date is None:
            raise ValueError("previous_due_date: required when revolved > 0")
        interest = revolving_interest(
            revolved, previous_due_date, statement_date, terms.daily_interest_rate
        )
    principal = revolved + new_spend
    amount = principal + interest
    return Statement(
        statement_date=statement_date,
        due_date=due_date_for(statement_date, terms),
        new_spend=new_spend,
        revolved=revolved,
        interest=interest,
        principal=principal,
        amount=amount,
        minimum=minimum_payment(amount, terms.minimum_rate),
    )


def next_statement(
    previous: Statement,
    paid_by_due: Decimal,
    new_spend: Decimal,
    terms: RevolvingTerms = DEFAULT_TERMS,
) -> Statement:
    """The bill after ``previous``, given what was paid on it by its due date.

    Raises ``ValueError`` when ``paid_by_due`` is below the minimum (the bill is overdue, not
    revolving) or above the bill amount (an overpayment is a credit balance, the engine's matter).
    """
    _check_amount(paid_by_due, "paid_by_due")
    if paid_by_due < previous.minimum:
        raise ValueError(
            f"paid_by_due: {paid_by_due} is below the minimum {previous.minimum}; "
            "the bill is overdue, not revolving"
        )
    if paid_by_due > previous.amount:
        raise ValueError(f"paid_by_due: {paid_by_due} exceeds the bill amount {previous.amount}")
    following = add_months(previous.statement_date, 1, day=terms.statement_day)
    return build_statement(
        following,
        new_spend,
        revolved=previous.amount - paid_by_due,
        previous_due_date=previous.due_date,
        terms=terms,
    )


def statement_due_item(statement: Statement, bill_id: str) -> DueItemData:
    """The bill as a due item for the engine, carrying its minimum payment."""
    if not bill_id:
        raise ValueError("bill_id: must not be empty")
    return DueItemData(
        id=bill_id,
        due_date=statement.due_date,
        principal=statement.principal,
        interest=statement.interest,
        minimum=statement.minimum,
    )
