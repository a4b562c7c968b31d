"""Installment-loan (Jiebei-like) repayment schedules — domain.md §1, normative.

Monthly rate ``r = annual_rate / 12``. Period ``k`` (1-based) falls due ``k`` months after
``start``, aiming at ``start.day`` and clamped to the month's last day
(Jan 31 → Feb 28/29 → Mar 31).
All arithmetic is exact (``fractions.Fraction``); every money figure is rounded half-up to 0.01
exactly once, from its exact value.

Methods:

- **equal installment** (等额本息): ``A = P·r·(1+r)^n / ((1+r)^n − 1)`` rounded once; each period's
  interest = remaining principal × r, rounded; principal = A − interest; the last period takes the
  whole remaining principal (its payment is then that principal + its interest). With ``r = 0`` the
  formula's limit ``A = P/n`` is used.
- **equal principal** (等额本金): principal ``P/n`` rounded, the last period takes the rest;
  interest = remaining principal × r, rounded.
- **interest first** (先息后本): interest ``P·r`` rounded each period; the whole principal in the
  last period.
- **hybrid 6+6**: 12 periods; periods 1–6 interest only (``P·r``), periods 7–12 an equal installment
  of the full principal over 6 periods.

Degenerate tiny loans (a few fen over many periods) can have a rounded installment or part that
would repay more than is left; principal is then capped at the remaining principal, so remaining is
never negative and the principals still sum to ``P`` exactly.

Early repayment of a Jiebei-like loan pays interest only for the days used, with no prepayment fee
*(default)*: see :func:`early_repayment_interest` and :func:`early_repayment_quote`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from enum import Enum
from fractions import Fraction
from typing import Final

from overdue.domain.calendar import add_months
from overdue.domain.money import CENT, ZERO, round_money

MAX_TERM_MONTHS: Final = 600  # 50 years: a limit on every schedule loop
HYBRID_TERM_MONTHS: Final = 12
HYBRID_INTEREST_ONLY_MONTHS: Final = 6
MONTHS_PER_YEAR: Final = 12


class RepaymentMethod(Enum):
    EQUAL_INSTALLMENT = "equal_installment"
    EQUAL_PRINCIPAL = "equal_principal"
    INTEREST_FIRST = "interest_first"
    HYBRID_6_6 = "hybrid_6_6"


@dataclass(frozen=True)
class ScheduleLine:
    """One period of a schedule. ``remaining`` is the principal left after this period's payment."""

    period: int
    due_date: date
    principal: Decimal
    interest: Decimal
    payment: Decimal
    remaining: Decimal


@dataclass(frozen=True)
class DueItemData:
    """A schedule period as a due item for the overdue engine (domain.md §2 inputs)."""

    id: str
    due_date: date
    principal: Decimal
    interest: Decimal
    fee: Decimal = ZERO
    minimum: Decimal | None = None


@dataclass(frozen=True)
class EarlyRepayment:
    """What settling a loan early costs: principal, interest for the days used, and any fee."""

    principal: Decimal
    interest: Decimal
    fee: Decimal
    total: Decimal


def round_fraction(value: Fraction) -> Decimal:
    """Round an exact non-negative rational half-up to 0.01, as a two-decimal ``Decimal``."""
    assert value >= 0, f"money value {value} is negative"
    fen = (value * 100 + Fraction(1, 2)).__floor__()
    return (Decimal(fen) / 100).quantize(CENT)


def parse_method(method: RepaymentMethod | str) -> RepaymentMethod:
    if isinstance(method, RepaymentMethod):
        return method
    try:
        return RepaymentMethod(method)
    except ValueError:
        names = ", ".join(m.value for m in RepaymentMethod)
        raise ValueError(f"method: {method!r} is not one of {names}") from None


def _check_money(value: Decimal, field: str) -> None:
    if not isinstance(value, Decimal) or not value.is_finite():
        raise ValueError(f"{field}: {value!r} must be a finite Decimal")
    if value != value.quantize(CENT):
        raise ValueError(f"{field}: {value} has more than two decimals")


def _check_rate(value: Decimal, field: str) -> None:
    if not isinstance(value, Decimal) or not value.is_finite():
        raise ValueError(f"{field}: {value!r} must be a finite Decimal")
    if value < 0:
        raise ValueError(f"{field}: {value} must be ≥ 0")


def _validate(principal: Decimal, annual_rate: Decimal, term_months: int) -> None:
    _check_money(principal, "principal")
    if principal <= 0:
        raise ValueError(f"principal: {principal} must be > 0")
    _check_rate(annual_rate, "annual_rate")
    if isinstance(term_months, bool) or not isinstance(term_months, int):
        raise ValueError(f"term_months: {term_months!r} must be an integer")
    if not 1 <= term_months <= MAX_TERM_MONTHS:
        raise ValueError(f"term_months: {term_months} must be between 1 and {MAX_TERM_MONTHS}")


def monthly_rate(annual_rate: Decimal) -> Fraction:
    """The exact monthly rate ``annual_rate / 12``."""
    return Fraction(annual_rate) / MONTHS_PER_YEAR


def equal_installment_amount(principal: Decimal, r: Fraction, term_months: int) -> Decimal:
    """``A = P·r·(1+r)^n / ((1+r)^n − 1)`` (``P/n`` when ``r = 0``), rounded half-up once."""
    exact_p = Fraction(principal)
    if r == 0:
        return round_fraction(exact_p / term_months)
    growth = (1 + r) ** term_months
    return round_fraction(exact_p * r * growth / (growth - 1))


def _line(
    period: int, start: date, principal: Decimal, interest: Decimal, left: Decimal
) -> ScheduleLine:
    assert principal >= 0 and interest >= 0 and left >= 0, (period, principal, interest, left)
    return ScheduleLine(
        period=period,
        due_date=add_months(start, period, day=start.day),
        principal=principal,
        interest=interest,
        payment=principal + interest,
        remaining=left,
    )


def _equal_installment(
    principal: Decimal, r: Fraction, term_months: int, start: date, first_period: int
) -> list[ScheduleLine]:
    installment = equal_installment_amount(principal, r, term_months)
    left = principal
    lines: list[ScheduleLine] = []
    for k in range(term_months):
        interest = round_fraction(Fraction(left) * r)
        part = left if k == term_months - 1 else min(installment - interest, left)
        left -= part
        lines.append(_line(first_period + k, start, part, interest, left))
    return lines


def _equal_principal(
    principal: Decimal, r: Fraction, term_months: int, start: date
) -> list[ScheduleLine]:
    share = round_fraction(Fraction(principal) / term_months)
    left = principal
    lines: list[ScheduleLine] = []
    for k in range(term_months):
        interest = round_fraction(Fraction(left) * r)
        part = left if k == term_months - 1 else min(share, left)
        left -= part
        lines.append(_line(k + 1, start, part, interest, left))
    return lines


def _interest_only(
    principal: Decimal, r: Fraction, periods: int, start: date, repay_at_end: bool
) -> list[ScheduleLine]:
    interest = round_fraction(Fraction(principal) * r)
    lines: list[ScheduleLine] = []
    for k in range(periods):
        last = repay_at_end and k == periods - 1
        part = principal if last else ZERO
        lines.append(_line(k + 1, start, part, interest, principal - part))
    return lines


def build_schedule(
    principal: Decimal,
    annual_rate: Decimal,
    term_months: int,
    method: RepaymentMethod | str,
    start: date,
) -> tuple[ScheduleLine, ...]:
    """The repayment schedule of a loan of ``principal`` booked on ``start`` (rules: module doc).

    ``annual_rate`` is a fraction (``Decimal("0.18")`` = 18 %/yr). Raises ``ValueError`` naming the
    argument for a principal ≤ 0 or with more than two decimals, a negative rate, a term outside
    1..600, an unknown method, or a hybrid loan whose term is not 12.
    """
    chosen = parse_method(method)
    _validate(principal, annual_rate, term_months)
    r = monthly_rate(annual_rate)
    if chosen is RepaymentMethod.EQUAL_INSTALLMENT:
        lines = _equal_installment(principal, r, term_months, start, first_period=1)
    elif chosen is RepaymentMethod.EQUAL_PRINCIPAL:
        lines = _equal_principal(principal, r, term_months, start)
    elif chosen is RepaymentMethod.INTEREST_FIRST:
        lines = _interest_only(principal, r, term_months, start, repay_at_end=True)
    else:
        if term_months != HYBRID_TERM_MONTHS:
            raise ValueError(f"term_months: hybrid_6_6 needs a term of 12, not {term_months}")
        head = _interest_only(principal, r, HYBRID_INTEREST_ONLY_MONTHS, start, repay_at_end=False)
        tail_periods = HYBRID_TERM_MONTHS - HYBRID_INTEREST_ONLY_MONTHS
        tail = _equal_installment(
            principal, r, tail_periods, start, first_period=HYBRID_INTEREST_ONLY_MONTHS + 1
        )
        lines = head + tail
    _check_schedule(principal, lines)
    return tuple(lines)


def _check_schedule(principal: Decimal, lines: list[ScheduleLine]) -> None:
    assert sum((line.principal for line in lines), ZERO) == principal, "principals must sum to P"
    assert lines[-1].remaining == 0, "a schedule ends fully repaid"
    assert [line.period for line in lines] == list(range(1, len(lines) + 1))


def schedule_due_items(schedule: tuple[ScheduleLine, ...], loan_id: str) -> tuple[DueItemData, ...]:
    """The schedule as due items for the engine; item ids are ``"<loan_id>-<period>"``."""
    if not loan_id:
        raise ValueError("loan_id: must not be empty")
    return tuple(
        DueItemData(
            id=f"{loan_id}-{line.period}",
            due_date=line.due_date,
            principal=line.principal,
            interest=line.interest,
        )
        for line in schedule
    )


def early_repayment_interest(
    remaining_principal: Decimal, daily_rate: Decimal, days_used: int
) -> Decimal:
    """Interest for the days used only: ``remaining × daily_rate × days_used``, rounded half-up.

    Example: 10 000.00 at 0.04 %/day for 17 days → 68.00.
    """
    _check_money(remaining_principal, "remaining_principal")
    if remaining_principal < 0:
        raise ValueError(f"remaining_principal: {remaining_principal} must be ≥ 0")
    _check_rate(daily_rate, "daily_rate")
    if isinstance(days_used, bool) or not isinstance(days_used, int) or days_used < 0:
        raise ValueError(f"days_used: {days_used!r} must be an integer ≥ 0")
    return round_fraction(Fraction(remaining_principal) * Fraction(daily_rate) * days_used)


def early_repayment_quote(
    remaining_principal: Decimal,
    daily_rate: Decimal,
    days_used: int,
    prepayment_fee_rate: Decimal = ZERO,
) -> EarlyRepayment:
    """Settle early: principal + interest for the days used + a prepayment fee (0 *(default)*)."""
    interest = early_repayment_interest(remaining_principal, daily_rate, days_used)
    _check_rate(prepayment_fee_rate, "prepayment_fee_rate")
    fee = round_money(remaining_principal * prepayment_fee_rate)
    total = remaining_principal + interest + fee
    return EarlyRepayment(principal=remaining_principal, interest=interest, fee=fee, total=total)
