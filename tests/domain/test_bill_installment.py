"""Bill installment (账单分期): parts, fees and the disclosed annual rates."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from fractions import Fraction

import numpy_financial as npf
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from overdue.domain.bill_installment import (
    DEFAULT_FEE_RATES,
    installment_due_items,
    list_price_rates,
    monthly_irr,
    plan_installment,
    split_evenly,
)

D = Decimal


def test_hand_example_six_parts() -> None:
    # 3000.00 × 4.5 % = 135.00 fee; 3000 / 6 = 500.00; 135 / 6 = 22.50.
    plan = plan_installment(D("3000.00"), 6)
    assert plan.total_fee == D("135.00")
    assert [(p.principal, p.fee, p.payment) for p in plan.parts] == [
        (D("500.00"), D("22.50"), D("522.50"))
    ] * 6


def test_hand_example_last_part_takes_the_rest() -> None:
    # 1000.00 / 9 = 111.111 → 111.11 × 8, last 1000 − 888.88 = 111.12.
    # Fee 1000 × 6.5 % = 65.00; 65 / 9 = 7.222 → 7.22 × 8, last 65 − 57.76 = 7.24.
    plan = plan_installment(D("1000.00"), 9)
    assert [p.principal for p in plan.parts] == [D("111.11")] * 8 + [D("111.12")]
    assert [p.fee for p in plan.parts] == [D("7.22")] * 8 + [D("7.24")]
    # 2.5 % of 333.33 = 8.33325 → 8.33 (half-up)
    assert plan_installment(D("333.33"), 3).total_fee == D("8.33")
    # 2.5 % of 0.18 = 0.0045 → 0.00; of 0.30 = 0.0075 → 0.01; of 0.20 = 0.005 → 0.01 (half-up)
    assert plan_installment(D("0.18"), 3).total_fee == D("0.00")
    assert plan_installment(D("0.30"), 3).total_fee == D("0.01")
    assert plan_installment(D("0.20"), 3).total_fee == D("0.01")


def test_list_prices_match_numpy_financial_irr() -> None:
    # Independent float computation: numpy_financial.irr on level flows (−1, (1+f)/n × n).
    for parts, fee in DEFAULT_FEE_RATES.items():
        irr, apr, ear = list_price_rates(parts, fee)
        theirs = npf.irr([-1.0] + [(1 + float(fee)) / parts] * parts)
        assert abs(float(irr) - theirs) < 1e-9
        assert abs(float(apr) - 12 * theirs) < 1e-9
        assert abs(float(ear) - ((1 + theirs) ** 12 - 1)) < 1e-9


def test_list_prices_disclosed_values() -> None:
    # Values written in the module docstring (4 decimals of a percent).
    expected = {
        3: ("14.9384", "16.0048"),
        6: ("15.2677", "16.3828"),
        9: ("15.3402", "16.4661"),
        12: ("15.8643", "17.0702"),
    }
    for parts, (apr_pct, ear_pct) in expected.items():
        _, apr, ear = list_price_rates(parts, DEFAULT_FEE_RATES[parts])
        assert (apr * 100).quantize(D("0.0001")) == D(apr_pct)
        assert (ear * 100).quantize(D("0.0001")) == D(ear_pct)
        assert ear > apr  # compounding


def test_irr_solves_the_npv_exactly_enough() -> None:
    plan = plan_installment(D("1000.00"), 12)
    i = Fraction(plan.monthly_irr)
    npv = -Fraction(plan.amount) + sum(Fraction(p.payment) / (1 + i) ** p.part for p in plan.parts)
    assert abs(npv) < Fraction(1, 10**18)
    assert plan.nominal_apr == plan.monthly_irr * 12


def test_fee_table_is_data() -> None:
    table = {24: D("0.15"), 3: D("0")}
    plan = plan_installment(D("2400.00"), 24, fee_rates=table)
    assert plan.total_fee == D("360.00")
    assert all(p.fee == D("15.00") for p in plan.parts)
    free = plan_installment(D("300.00"), 3, fee_rates=table)
    assert free.total_fee == 0 and free.monthly_irr == 0 and free.effective_annual_rate == 0
    with pytest.raises(ValueError, match=r"^parts:.*3/24"):
        plan_installment(D("300.00"), 6, fee_rates=table)


@pytest.mark.parametrize(
    ("amount", "parts", "field"),
    [
        (D("0.00"), 3, "amount"),
        (D("-5.00"), 3, "amount"),
        (D("1.005"), 3, "amount"),
        (D("100.00"), 4, "parts"),
    ],
)
def test_bad_input(amount: Decimal, parts: int, field: str) -> None:
    with pytest.raises(ValueError, match=f"^{field}:"):
        plan_installment(amount, parts)


def test_monthly_irr_refuses_negative_rates() -> None:
    with pytest.raises(ValueError, match=r"^payments:"):
        monthly_irr(D("100"), [D("30"), D("30"), D("30")])


def test_due_items() -> None:
    plan = plan_installment(D("3000.00"), 3)
    items = installment_due_items(plan, date(2024, 1, 31), "B7")
    assert [i.id for i in items] == ["B7-1", "B7-2", "B7-3"]
    assert [i.due_date for i in items] == [date(2024, 1, 31), date(2024, 2, 29), date(2024, 3, 31)]
    assert [(i.principal, i.fee, i.interest) for i in items] == [
        (D("1000.00"), D("25.00"), D("0.00"))
    ] * 3


amounts = st.integers(min_value=1, max_value=50_000_000).map(lambda n: D(n) / 100)


@given(total=amounts, count=st.integers(min_value=1, max_value=120))
def test_split_evenly_sums_exactly(total: Decimal, count: int) -> None:
    parts = split_evenly(total, count)
    assert len(parts) == count
    assert sum(parts) == total
    assert all(p >= 0 for p in parts)


@settings(max_examples=150, deadline=None)
@given(
    amount=st.integers(min_value=10_000, max_value=50_000_000).map(lambda n: D(n) / 100),
    parts=st.sampled_from(sorted(DEFAULT_FEE_RATES)),
)
def test_plan_properties(amount: Decimal, parts: int) -> None:
    plan = plan_installment(amount, parts)
    assert sum(p.principal for p in plan.parts) == amount
    assert sum(p.fee for p in plan.parts) == plan.total_fee
    assert abs(plan.total_fee - amount * DEFAULT_FEE_RATES[parts]) <= D("0.005")
    assert all(p.payment == p.principal + p.fee for p in plan.parts)
    theirs = npf.irr([-float(amount)] + [float(p.payment) for p in plan.parts])
    assert abs(float(plan.monthly_irr) - theirs) < 1e-9
    assert abs(float(plan.effective_annual_rate) - ((1 + theirs) ** 12 - 1)) < 1e-9
    # For realistic amounts the rounding of parts barely moves the disclosed rate.
    _, list_apr, _ = list_price_rates(parts, DEFAULT_FEE_RATES[parts])
    assert abs(plan.nominal_apr - list_apr) < D("0.001")
