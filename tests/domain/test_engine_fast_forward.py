"""Differential test: the engine's fast-forward over quiet days equals the literal day loop."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from overdue.domain.engine import Account, DueItem, Payment, Reversal, Waiver, account_state
from overdue.domain.policy import COMPONENTS, PenaltyBase, Product, resolve_policy

START = date(2025, 1, 1)
money = st.integers(min_value=0, max_value=500_000).map(lambda fen: Decimal(fen) / 100)
positive = st.integers(min_value=1, max_value=300_000).map(lambda fen: Decimal(fen) / 100)
offset = st.integers(min_value=0, max_value=400)


@st.composite
def accounts(draw: st.DrawFn) -> tuple[Account, object, date]:
    product = draw(st.sampled_from(list(Product)))
    n_items = draw(st.integers(1, 6))
    items = []
    for k in range(n_items):
        minimum = draw(st.none() | money) if product is Product.REVOLVING else None
        items.append(
            DueItem(
                id=f"i{k}",
                due_date=START + timedelta(days=draw(offset)),
                principal=draw(money),
                interest=draw(money),
                fee=draw(st.sampled_from([Decimal("0.00"), Decimal("5.00")])),
                minimum=minimum,
            )
        )
    payments = [
        Payment(f"p{k}", START + timedelta(days=draw(offset)), draw(positive))
        for k in range(draw(st.integers(0, 6)))
    ]
    waivers = [
        Waiver(
            START + timedelta(days=draw(offset)),
            draw(st.sampled_from(COMPONENTS)),
            draw(positive),
            "a",
        )
        for _ in range(draw(st.integers(0, 2)))
    ]
    reversals = []
    if payments and draw(st.booleans()):
        reversals.append(Reversal(payments[0].id, payments[0].date + timedelta(days=3)))
    grace = draw(st.integers(0, 5))
    policy = resolve_policy(
        product,
        grace_days=grace,
        tolerance=draw(st.sampled_from([Decimal("0.00"), Decimal("1.00")])),
        penalty_daily_rate=draw(
            st.sampled_from([Decimal("0.0005"), Decimal("0.0006"), Decimal("0.00082137")])
        ),
        penalty_base=draw(st.sampled_from(list(PenaltyBase))),
        allocation_order=tuple(draw(st.permutations(COMPONENTS))),
        write_off_dpd=draw(st.integers(grace + 1, 200)),
        accrue_after_write_off=draw(st.booleans()),
        late_fee=draw(st.sampled_from([Decimal("0.00"), Decimal("30.00")])),
    )
    account = Account("A", product, tuple(items), tuple(payments), tuple(waivers), tuple(reversals))
    as_of = START + timedelta(days=draw(st.integers(0, 700)))
    return account, policy, as_of


@settings(max_examples=300, deadline=None)
@given(accounts())
def test_fast_forward_equals_day_by_day(case: tuple[Account, object, date]) -> None:
    account, policy, as_of = case
    fast = account_state(account, policy, as_of)  # type: ignore[arg-type]
    slow = account_state(account, policy, as_of, day_by_day=True)  # type: ignore[arg-type]
    assert fast == slow
