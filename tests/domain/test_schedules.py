"""Loan schedules (domain.md §1): hand-checked examples and properties against independent sums."""

from __future__ import annotations

import calendar
from datetime import date
from decimal import ROUND_HALF_UP, Decimal, localcontext
from fractions import Fraction

import numpy_financial as npf
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from overdue.domain.schedules import (
    RepaymentMethod,
    build_schedule,
    early_repayment_interest,
    early_repayment_quote,
    equal_installment_amount,
    schedule_due_items,
)

D = Decimal
START = date(2024, 1, 15)


def half_up(value: Decimal) -> Decimal:
    return value.quantize(D("0.01"), rounding=ROUND_HALF_UP)


# --- hand-checked examples -------------------------------------------------------------------


def test_equal_installment_hand_example() -> None:
    # P = 10 000.00, 18 %/yr → r = 0.015, n = 12.
    # 1.015^12 = 1.195618171…, so A = 10000 × 0.015 × 1.195618171 / 0.195618171
    #          = 150 × 6.112003… = 916.7999… → 916.80 (half-up).
    # Period 1: interest 10000 × 0.015 = 150.00, principal 916.80 − 150.00 = 766.80, left 9233.20.
    # Period 2: interest 9233.20 × 0.015 = 138.498 → 138.50, principal 778.30, left 8454.90.
    lines = build_schedule(D("10000.00"), D("0.18"), 12, "equal_installment", START)
    assert len(lines) == 12
    assert [lines[0].interest, lines[0].principal, lines[0].remaining] == [
        D("150.00"),
        D("766.80"),
        D("9233.20"),
    ]
    assert [lines[1].interest, lines[1].principal, lines[1].remaining] == [
        D("138.50"),
        D("778.30"),
        D("8454.90"),
    ]
    assert all(line.payment == D("916.80") for line in lines[:-1])
    # The last period takes what is left: its payment drifts by the accumulated rounding.
    last = lines[-1]
    assert last.remaining == D("0.00")
    assert last.payment == last.principal + last.interest
    assert abs(last.payment - D("916.80")) <= D("0.05")


def test_equal_principal_hand_example() -> None:
    # 10000 / 12 = 833.333… → 833.33; the last part is 10000 − 11 × 833.33 = 833.37.
    # Period 2 interest: 9166.67 × 0.015 = 137.50005 → 137.50.
    lines = build_schedule(D("10000.00"), D("0.18"), 12, RepaymentMethod.EQUAL_PRINCIPAL, START)
    assert [line.principal for line in lines] == [D("833.33")] * 11 + [D("833.37")]
    assert lines[0].interest == D("150.00")
    assert lines[1].interest == D("137.50")
    assert lines[-1].interest == D("12.50")  # 833.37 × 0.015 = 12.50055 → 12.50


def test_interest_first_hand_example() -> None:
    lines = build_schedule(D("10000.00"), D("0.18"), 6, "interest_first", START)
    assert [line.payment for line in lines] == [D("150.00")] * 5 + [D("10150.00")]
    assert [line.remaining for line in lines] == [D("10000.00")] * 5 + [D("0.00")]


def test_hybrid_hand_example() -> None:
    # Six interest-only periods of 150.00, then A6 = 150 × 1.015^6 / (1.015^6 − 1)
    # = 150 × 1.09344326 / 0.09344326 = 150 × 11.7016825 = 1755.25.
    lines = build_schedule(D("10000.00"), D("0.18"), 12, "hybrid_6_6", START)
    assert [line.period for line in lines] == list(range(1, 13))
    assert [line.payment for line in lines[:6]] == [D("150.00")] * 6
    assert all(line.principal == 0 for line in lines[:6])
    assert lines[6].interest == D("150.00")
    assert lines[6].principal == D("1605.25")
    assert all(line.payment == D("1755.25") for line in lines[6:-1])
    assert lines[6].due_date == date(2024, 8, 15)


def test_rate_with_repeating_monthly_rate_is_exact() -> None:
    # 10 %/yr → r = 1/120. Interest on 1000.00 = 8.3333… → 8.33; 6 %/yr on 250.50 → 1.2525 → 1.25
    lines = build_schedule(D("1000.00"), D("0.10"), 3, "equal_principal", START)
    assert lines[0].interest == D("8.33")
    lines = build_schedule(D("250.50"), D("0.06"), 1, "interest_first", START)
    assert lines[0].interest == D("1.25")
    # 0.09 %/yr × 500.00 / 12 = 0.0375 → 0.04 (half-up, not half-even)
    lines = build_schedule(D("500.00"), D("0.0009"), 1, "interest_first", START)
    assert lines[0].interest == D("0.04")


def test_zero_rate() -> None:
    for method in RepaymentMethod:
        term = 12
        lines = build_schedule(D("1000.00"), D("0"), term, method, START)
        assert all(line.interest == 0 for line in lines)
        assert sum(line.principal for line in lines) == D("1000.00")
    lines = build_schedule(D("1000.00"), D("0"), 3, "equal_installment", START)
    assert [line.payment for line in lines] == [D("333.33"), D("333.33"), D("333.34")]


def test_dates_clamp_to_month_end_and_keep_aiming_at_start_day() -> None:
    lines = build_schedule(D("3000.00"), D("0.12"), 4, "equal_installment", date(2024, 1, 31))
    assert [line.due_date for line in lines] == [
        date(2024, 2, 29),
        date(2024, 3, 31),
        date(2024, 4, 30),
        date(2024, 5, 31),
    ]
    lines = build_schedule(D("3000.00"), D("0.12"), 2, "equal_principal", date(2023, 1, 31))
    assert [line.due_date for line in lines] == [date(2023, 2, 28), date(2023, 3, 31)]
    lines = build_schedule(D("3000.00"), D("0.12"), 2, "interest_first", date(2023, 12, 15))
    assert [line.due_date for line in lines] == [date(2024, 1, 15), date(2024, 2, 15)]


@pytest.mark.parametrize(
    ("kwargs", "argument"),
    [
        ({"principal": D("0.00")}, "principal"),
        ({"principal": D("-1.00")}, "principal"),
        ({"principal": D("1.001")}, "principal"),
        ({"annual_rate": D("-0.01")}, "annual_rate"),
        ({"annual_rate": D("NaN")}, "annual_rate"),
        ({"term_months": 0}, "term_months"),
        ({"term_months": 601}, "term_months"),
        ({"method": "balloon"}, "method"),
        ({"method": "hybrid_6_6", "term_months": 6}, "term_months"),
    ],
)
def test_bad_input_names_the_argument(kwargs: dict[str, object], argument: str) -> None:
    args: dict[str, object] = {
        "principal": D("1000.00"),
        "annual_rate": D("0.18"),
        "term_months": 12,
        "method": "equal_installment",
        "start": START,
    }
    args.update(kwargs)
    with pytest.raises(ValueError, match=f"^{argument}:"):
        build_schedule(**args)  # type: ignore[arg-type]


def test_due_items() -> None:
    lines = build_schedule(D("1200.00"), D("0.12"), 3, "equal_principal", START)
    items = schedule_due_items(lines, "L42")
    assert [item.id for item in items] == ["L42-1", "L42-2", "L42-3"]
    assert [(i.due_date, i.principal, i.interest) for i in items] == [
        (line.due_date, line.principal, line.interest) for line in lines
    ]
    assert all(item.fee == 0 and item.minimum is None for item in items)
    with pytest.raises(ValueError, match="loan_id"):
        schedule_due_items(lines, "")


# --- properties ------------------------------------------------------------------------------

fen = st.integers(min_value=1, max_value=100_000_000).map(lambda n: D(n) / 100)
realistic_principal = st.integers(min_value=10_000, max_value=50_000_000).map(lambda n: D(n) / 100)
rates = st.integers(min_value=0, max_value=3600).map(lambda n: D(n) / 10_000)  # 0 … 36 %/yr
terms = st.integers(min_value=1, max_value=60)
starts = st.dates(min_value=date(2000, 1, 1), max_value=date(2040, 12, 31))
methods = st.sampled_from(list(RepaymentMethod))


@settings(max_examples=300, deadline=None)
@given(principal=fen, rate=rates, term=terms, method=methods, start=starts)
def test_schedule_invariants(
    principal: Decimal, rate: Decimal, term: int, method: RepaymentMethod, start: date
) -> None:
    if method is RepaymentMethod.HYBRID_6_6:
        term = 12
    lines = build_schedule(principal, rate, term, method, start)
    assert len(lines) == term
    assert sum(line.principal for line in lines) == principal
    left = principal
    previous_due = start
    for line in lines:
        assert line.interest >= 0 and line.principal >= 0 and line.remaining >= 0
        assert line.payment == line.principal + line.interest
        assert line.remaining == left - line.principal
        # interest = remaining at the start of the period × annual / 12, half-up (Decimal path)
        with localcontext() as ctx:
            ctx.prec = 80
            expected_interest = half_up(left * rate / 12)
        if method is RepaymentMethod.INTEREST_FIRST or (
            method is RepaymentMethod.HYBRID_6_6 and line.period <= 6
        ):
            with localcontext() as ctx:
                ctx.prec = 80
                expected_interest = half_up(principal * rate / 12)
        assert line.interest == expected_interest
        assert line.due_date > previous_due
        month_days = calendar.monthrange(line.due_date.year, line.due_date.month)[1]
        assert line.due_date.day == min(start.day, month_days)
        months_after = (line.due_date.year - start.year) * 12 + line.due_date.month - start.month
        assert months_after == line.period
        previous_due = line.due_date
        left = line.remaining
    assert lines[-1].remaining == 0


def _exact_installment(principal: Decimal, rate: Decimal, term: int) -> Fraction:
    r = Fraction(rate) / 12
    if r == 0:
        return Fraction(principal) / term
    growth = (1 + r) ** term
    return Fraction(principal) * r * growth / (growth - 1)


@settings(max_examples=300, deadline=None)
@given(principal=realistic_principal, rate=rates, term=terms)
def test_equal_installment_matches_numpy_financial_pmt(
    principal: Decimal, rate: Decimal, term: int
) -> None:
    installment = equal_installment_amount(principal, Fraction(rate) / 12, term)
    float_pmt = -npf.pmt(float(rate) / 12, term, float(principal))
    theirs = D(str(round(float_pmt, 2)))
    exact_cents = _exact_installment(principal, rate, term) * 100
    distance_to_half_cent = abs(exact_cents - exact_cents.__floor__() - Fraction(1, 2))
    if distance_to_half_cent * Fraction(1, 100) < Fraction(1, 10**6):
        assert abs(theirs - installment) <= D("0.01")
    else:
        assert theirs == installment
    lines = build_schedule(principal, rate, term, "equal_installment", START)
    assert all(line.payment == installment for line in lines[:-1])


@settings(max_examples=100, deadline=None)
@given(principal=realistic_principal, rate=rates, term=terms)
def test_equal_principal_parts_are_level(principal: Decimal, rate: Decimal, term: int) -> None:
    lines = build_schedule(principal, rate, term, "equal_principal", START)
    with localcontext() as ctx:
        ctx.prec = 60
        share = half_up(principal / term)
    assert all(line.principal == share for line in lines[:-1])
    assert abs(lines[-1].principal - share) <= D("0.005") * term


# --- early repayment -------------------------------------------------------------------------


def test_early_repayment_interest_examples() -> None:
    # 10000.00 × 0.0004 × 17 = 68.00
    assert early_repayment_interest(D("10000.00"), D("0.0004"), 17) == D("68.00")
    # 100.00 × 0.00045 × 1 = 0.045 → 0.05 (half-up)
    assert early_repayment_interest(D("100.00"), D("0.00045"), 1) == D("0.05")
    assert early_repayment_interest(D("100.00"), D("0.0004"), 0) == D("0.00")
    quote = early_repayment_quote(D("5000.00"), D("0.0004"), 30)
    assert (quote.interest, quote.fee, quote.total) == (D("60.00"), D("0.00"), D("5060.00"))
    quote = early_repayment_quote(D("5000.00"), D("0.0004"), 30, prepayment_fee_rate=D("0.01"))
    assert (quote.fee, quote.total) == (D("50.00"), D("5110.00"))


@pytest.mark.parametrize(
    ("args", "argument"),
    [
        ((D("-1.00"), D("0.0004"), 3), "remaining_principal"),
        ((D("1.00"), D("-0.0004"), 3), "daily_rate"),
        ((D("1.00"), D("0.0004"), -1), "days_used"),
    ],
)
def test_early_repayment_bad_input(args: tuple[Decimal, Decimal, int], argument: str) -> None:
    with pytest.raises(ValueError, match=f"^{argument}:"):
        early_repayment_interest(*args)


@given(
    remaining=fen,
    daily=st.integers(min_value=0, max_value=100).map(lambda n: D(n) / 100_000),
    days=st.integers(min_value=0, max_value=400),
)
def test_early_repayment_interest_is_half_up_of_exact_product(
    remaining: Decimal, daily: Decimal, days: int
) -> None:
    with localcontext() as ctx:
        ctx.prec = 60
        expected = half_up(remaining * daily * days)
    assert early_repayment_interest(remaining, daily, days) == expected
    assert early_repayment_interest(remaining, daily, days + 1) >= expected
