"""Revolving bills (domain.md §1): minimum payment, due dates, revolving interest."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from overdue.domain.revolving import (
    RevolvingTerms,
    Statement,
    build_statement,
    due_date_for,
    minimum_payment,
    next_statement,
    revolving_interest,
    statement_date_in,
    statement_due_item,
)

D = Decimal


def half_up(value: Decimal) -> Decimal:
    return value.quantize(D("0.01"), rounding=ROUND_HALF_UP)


def test_minimum_payment_examples() -> None:
    assert minimum_payment(D("1000.00")) == D("100.00")
    assert minimum_payment(D("1234.55")) == D("123.46")  # 123.455 → half-up
    assert minimum_payment(D("0.05")) == D("0.01")  # 0.005 → half-up
    assert minimum_payment(D("0.04")) == D("0.00")
    assert minimum_payment(D("1000.00"), minimum_rate=D("0.05")) == D("50.00")
    with pytest.raises(ValueError, match=r"^bill_amount:"):
        minimum_payment(D("-1.00"))
    with pytest.raises(ValueError, match=r"^minimum_rate:"):
        minimum_payment(D("1.00"), minimum_rate=D("1.5"))


def test_due_dates() -> None:
    assert due_date_for(date(2024, 1, 1)) == date(2024, 1, 10)
    late_cycle = RevolvingTerms(statement_day=25, due_day=5)
    assert due_date_for(date(2024, 1, 25), late_cycle) == date(2024, 2, 5)
    month_end_cycle = RevolvingTerms(statement_day=20, due_day=31)
    assert due_date_for(date(2023, 2, 20), month_end_cycle) == date(2023, 2, 28)
    clash = RevolvingTerms(statement_day=28, due_day=30)
    with pytest.raises(ValueError, match=r"^due_day:"):
        due_date_for(date(2023, 2, 28), clash)
    assert statement_date_in(2023, 2, RevolvingTerms(statement_day=31, due_day=10)) == date(
        2023, 2, 28
    )


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"statement_day": 0}, "statement_day"),
        ({"due_day": 32}, "due_day"),
        ({"due_day": 1}, "due_day"),
        ({"minimum_rate": D("-0.1")}, "minimum_rate"),
        ({"daily_interest_rate": D("2")}, "daily_interest_rate"),
    ],
)
def test_terms_are_validated(kwargs: dict[str, object], field: str) -> None:
    with pytest.raises(ValueError, match=f"^{field}:"):
        RevolvingTerms(**kwargs)  # type: ignore[arg-type]


def test_worked_example_from_the_docs() -> None:
    # January bill 1000.00, minimum 100.00, paid 100.00 by Jan 10 → 900.00 revolves.
    # Interest days Jan 11 … Feb 1 inclusive = 21 + 1 = 22; 900 × 0.0005 × 22 = 9.90.
    january = build_statement(date(2024, 1, 1), D("1000.00"))
    assert (january.due_date, january.amount, january.minimum) == (
        date(2024, 1, 10),
        D("1000.00"),
        D("100.00"),
    )
    february = next_statement(january, D("100.00"), D("200.00"))
    assert february.statement_date == date(2024, 2, 1)
    assert february.revolved == D("900.00")
    assert february.interest == D("9.90")
    assert february.principal == D("1100.00")
    assert february.amount == D("1109.90")
    assert february.minimum == D("110.99")


def test_leap_february_adds_a_day_of_interest() -> None:
    # Feb 10 → Mar 1: Feb 11 … Feb 29 (19) + Mar 1 = 20 days in 2024, 19 in 2023.
    assert revolving_interest(D("1000.00"), date(2024, 2, 10), date(2024, 3, 1), D("0.0005")) == (
        D("10.00")
    )
    assert revolving_interest(D("1000.00"), date(2023, 2, 10), date(2023, 3, 1), D("0.0005")) == (
        D("9.50")
    )


def test_paid_in_full_revolves_nothing() -> None:
    january = build_statement(date(2024, 1, 1), D("500.00"))
    february = next_statement(january, D("500.00"), D("0.00"))
    assert (february.revolved, february.interest, february.amount, february.minimum) == (
        D("0.00"),
        D("0.00"),
        D("0.00"),
        D("0.00"),
    )


def test_below_minimum_is_overdue_not_revolving() -> None:
    january = build_statement(date(2024, 1, 1), D("1000.00"))
    with pytest.raises(ValueError, match=r"^paid_by_due:.*overdue"):
        next_statement(january, D("99.99"), D("0.00"))
    with pytest.raises(ValueError, match=r"^paid_by_due:.*exceeds"):
        next_statement(january, D("1000.01"), D("0.00"))
    with pytest.raises(ValueError, match=r"^previous_due_date:"):
        build_statement(date(2024, 2, 1), D("0.00"), revolved=D("5.00"))
    with pytest.raises(ValueError, match=r"^statement_date:"):
        revolving_interest(D("5.00"), date(2024, 2, 10), date(2024, 2, 1), D("0.0005"))


def test_unpaid_interest_compounds_into_next_principal() -> None:
    january = build_statement(date(2024, 1, 1), D("1000.00"))
    february = next_statement(january, D("100.00"), D("0.00"))  # 900.00 + 9.90
    march = next_statement(february, february.minimum, D("0.00"))
    revolved = february.amount - february.minimum  # 909.90 − 90.99 = 818.91
    assert march.revolved == revolved == D("818.91")
    # Feb 10 → Mar 1 in 2024 is 20 days: 818.91 × 0.0005 × 20 = 8.1891 → 8.19
    assert march.interest == D("8.19")


def test_due_item_carries_the_minimum() -> None:
    bill = next_statement(build_statement(date(2024, 1, 1), D("1000.00")), D("100.00"), D("0"))
    item = statement_due_item(bill, "B-2024-02")
    assert (item.id, item.due_date, item.principal, item.interest, item.fee, item.minimum) == (
        "B-2024-02",
        date(2024, 2, 10),
        D("900.00"),
        D("9.90"),
        D("0.00"),
        D("90.99"),  # 10 % of 909.90, no new spending
    )


amounts = st.integers(min_value=0, max_value=10_000_000).map(lambda n: D(n) / 100)


@given(bill=amounts, rate_pct=st.integers(min_value=0, max_value=100))
def test_minimum_is_the_rounded_share(bill: Decimal, rate_pct: int) -> None:
    rate = D(rate_pct) / 100
    minimum = minimum_payment(bill, rate)
    assert D("0.00") <= minimum <= bill
    assert abs(minimum - bill * rate) <= D("0.005")


@given(
    bill=amounts.filter(lambda a: a > 0),
    paid_share=st.integers(min_value=0, max_value=100),
    new_spend=amounts,
    start=st.dates(min_value=date(2000, 1, 1), max_value=date(2040, 12, 1)),
    statement_day=st.integers(min_value=1, max_value=28),
    due_gap=st.integers(min_value=1, max_value=25),
)
def test_next_bill_properties(
    bill: Decimal,
    paid_share: int,
    new_spend: Decimal,
    start: date,
    statement_day: int,
    due_gap: int,
) -> None:
    terms = RevolvingTerms(
        statement_day=statement_day, due_day=(statement_day + due_gap - 1) % 28 + 1
    )
    first = build_statement(statement_date_in(start.year, start.month, terms), bill, terms=terms)
    paid = max(first.minimum, half_up(bill * paid_share / 100))
    second = next_statement(first, paid, new_spend, terms)
    assert second.statement_date > first.due_date
    # Count interest days one by one: the day after the due date … the next statement date.
    days = 0
    day = first.due_date + timedelta(days=1)
    while day <= second.statement_date:
        days += 1
        day += timedelta(days=1)
    revolved = bill - paid
    assert second.revolved == revolved
    assert second.interest == half_up(revolved * D("0.0005") * days)
    assert second.principal == revolved + new_spend
    assert second.amount == second.principal + second.interest
    assert second.minimum == half_up(second.amount * D("0.10"))
    assert isinstance(second, Statement)
