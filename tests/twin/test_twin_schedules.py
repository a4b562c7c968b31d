"""The vectorised loan schedules and revolving bills equal the domain's exact one-at-a-time rules."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from overdue.domain.money import to_fen
from overdue.domain.revolving import build_statement
from overdue.domain.schedules import build_schedule
from overdue.twin.products import (
    METHOD_NAMES,
    RATE_DEN,
    RATE_NUMS,
    annual_rate_text,
    revolving_bills,
)
from overdue.twin.schedules import loan_schedules

EPOCH = date(1970, 1, 1)


def day_number(day: date) -> int:
    return (day - EPOCH).days


loans = st.lists(
    st.tuples(
        st.integers(min_value=1, max_value=20_000_000),  # principal in fen
        st.sampled_from([int(n) for n in RATE_NUMS] + [0, 1, 999]),
        st.sampled_from([1, 2, 3, 6, 9, 12]),
        st.integers(min_value=0, max_value=3),
        st.dates(min_value=date(2015, 1, 1), max_value=date(2034, 12, 31)),
    ),
    min_size=1,
    max_size=40,
)


@settings(max_examples=60, deadline=None)
@given(loans)
def test_vectorised_schedules_equal_build_schedule(
    rows: list[tuple[int, int, int, int, date]],
) -> None:
    rows = [(p, r, 12 if m == 3 else n, m, d) for p, r, n, m, d in rows]
    principal = np.array([r[0] for r in rows], dtype=np.int64)
    rate = np.array([r[1] for r in rows], dtype=np.int64)
    term = np.array([r[2] for r in rows], dtype=np.int64)
    method = np.array([r[3] for r in rows], dtype=np.int8)
    opened = np.array([day_number(r[4]) for r in rows], dtype=np.int64)
    got = loan_schedules(principal, rate, term, method, opened)
    for i, (p, r, n, m, start) in enumerate(rows):
        annual = Decimal(r * 12) / Decimal(RATE_DEN)
        lines = build_schedule(Decimal(p) / 100, annual, n, METHOD_NAMES[m], start)
        assert len(lines) == n
        for k, line in enumerate(lines):
            assert to_fen(line.principal) == got.principal_fen[i, k], (i, k)
            assert to_fen(line.interest) == got.interest_fen[i, k], (i, k)
            assert EPOCH + timedelta(days=int(got.due_day[i, k])) == line.due_date
        assert np.all(got.due_day[i, n:] == -1) and np.all(got.principal_fen[i, n:] == 0)


def test_annual_rate_text_is_daily_times_360() -> None:
    assert annual_rate_text(120) == "0.072"  # 0.02 %/day
    assert annual_rate_text(240) == "0.144"  # 0.04 %/day
    assert annual_rate_text(360) == "0.216"  # 0.06 %/day
    for num in RATE_NUMS:
        daily = Decimal(annual_rate_text(int(num))) / 360
        assert Decimal("0.0002") <= daily <= Decimal("0.0006")


@settings(max_examples=200, deadline=None)
@given(
    revolved=st.integers(min_value=0, max_value=10_000_000),
    spend=st.integers(min_value=0, max_value=10_000_000),
    statement=st.dates(min_value=date(2015, 2, 1), max_value=date(2034, 12, 1)),
)
def test_revolving_bills_equal_build_statement(revolved: int, spend: int, statement: date) -> None:
    statement = statement.replace(day=1)
    previous_due = (statement - timedelta(days=1)).replace(day=10)
    principal, interest, minimum = revolving_bills(
        np.array([revolved]), np.array([spend]), np.array([(statement - previous_due).days])
    )
    bill = build_statement(
        statement,
        Decimal(spend) / 100,
        revolved=Decimal(revolved) / 100,
        previous_due_date=previous_due if revolved else None,
    )
    assert (principal[0], interest[0], minimum[0]) == (
        to_fen(bill.principal),
        to_fen(bill.interest),
        to_fen(bill.minimum),
    )
