"""The generator's vectorised ledger: money is conserved and allocation is oldest first."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from overdue.twin.ledger import Ledger

MONTHS = 6


@st.composite
def ledgers(draw: st.DrawFn) -> tuple[Ledger, list[tuple[int, int]]]:
    n = draw(st.integers(min_value=1, max_value=4))
    ledger = Ledger.empty(
        n,
        MONTHS,
        np.full(n, 120, dtype=np.int64),
        np.array(draw(st.lists(st.integers(0, 9000), min_size=n, max_size=n)), dtype=np.int64),
    )
    for row in range(n):
        for slot in range(MONTHS):
            if draw(st.booleans()):
                amount = draw(st.integers(min_value=1, max_value=1_000_000))
                ledger.add_items(
                    np.array([row]), slot, np.array([30 * slot + 10]), np.array([amount])
                )
    events = draw(
        st.lists(st.tuples(st.integers(0, 6 * 30 + 40), st.integers(1, 2_000_000)), max_size=8)
    )
    return ledger, sorted(events)


@settings(max_examples=150, deadline=None)
@given(ledgers())
def test_payments_are_conserved_and_oldest_first(
    case: tuple[Ledger, list[tuple[int, int]]],
) -> None:
    ledger, events = case
    n = ledger.credit.size
    rows = np.arange(n)
    paid_in = 0
    for day, amount in events:
        days = np.full(n, day, dtype=np.int64)
        before = ledger.remaining.copy()
        ledger.accrue(rows, days)
        assert np.all(ledger.remaining >= before), "penalty only adds"
        assert np.all(ledger.remaining - ledger.base >= 0), "the base never exceeds what is owed"
        owed_before = ledger.remaining.copy()
        paid_before, credit_before = ledger.paid.copy(), ledger.credit.copy()
        ledger.pay(rows, days, np.full(n, amount, dtype=np.int64))
        paid_in += amount
        took = owed_before - ledger.remaining
        assert np.all(took >= 0) and np.all(ledger.remaining >= 0)
        assert np.array_equal(took.sum(axis=1) + ledger.credit - credit_before, np.full(n, amount))
        assert np.array_equal(ledger.paid - paid_before, took)
        eligible = (ledger.due >= 0) & (ledger.due <= day)
        assert np.all(took[~eligible] == 0), "items not yet due get nothing"
        for row in range(n):
            touched = np.flatnonzero(took[row])
            if touched.size:
                earlier = np.flatnonzero(eligible[row])
                earlier = earlier[earlier < touched[-1]]
                assert np.all(ledger.remaining[row, earlier] == 0), "oldest items are paid first"
    assert np.array_equal(ledger.paid.sum(axis=1) + ledger.credit, np.full(n, paid_in))


@settings(max_examples=100, deadline=None)
@given(ledgers(), st.integers(min_value=1, max_value=100_000))
def test_waivers_only_cut_penalty(case: tuple[Ledger, list[tuple[int, int]]], waiver: int) -> None:
    ledger, _ = case
    n = ledger.credit.size
    rows = np.arange(n)
    days = np.full(n, 200, dtype=np.int64)
    ledger.accrue(rows, days)
    penalty_before = ledger.remaining - ledger.base
    ledger.waive_penalty(rows, days, np.full(n, waiver, dtype=np.int64))
    penalty_after = ledger.remaining - ledger.base
    assert np.all(penalty_after >= 0) and np.all(penalty_after <= penalty_before)
    assert np.all((penalty_before - penalty_after).sum(axis=1) <= waiver)


def test_penalty_stops_at_charge_off() -> None:
    ledger = Ledger.empty(1, 2, np.array([120]), np.array([6000]))  # 0.06 %/day
    ledger.add_items(np.array([0]), 0, np.array([10]), np.array([1_000_000]))
    rows = np.array([0])
    ledger.accrue(rows, np.array([10 + 200]))
    # 120 days of ceil(1 000 000 × 0.0006) = 600 fen a day, then nothing after charge-off.
    assert ledger.remaining[0, 0] == 1_000_000 + 120 * 600
    assert ledger.charged_off_on[0] == 130
    assert ledger.dpd(rows, 210)[0] == 200
