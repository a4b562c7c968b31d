"""The promise-to-pay rule, property-tested against payments: partial, early, late within grace,
after grace, and reversed."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from overdue.cases.config import PromiseRule
from overdue.cases.promises import (
    PaidFact,
    PromiseTerms,
    allowance_fen,
    decide,
    kpis,
    reminder_date,
    required_fen,
)

MADE = date(2024, 6, 1)

rules = st.builds(
    PromiseRule,
    tolerance_fen=st.integers(0, 500),
    tolerance_pct=st.sampled_from([Decimal("0"), Decimal("0.01"), Decimal("0.05")]),
    grace_days=st.integers(0, 5),
    reminder_days=st.integers(0, 3),
)
terms = st.builds(
    PromiseTerms,
    amount_fen=st.integers(1, 1_000_000),
    promised_on=st.just(MADE),
    promised_date=st.integers(0, 20).map(lambda d: MADE + timedelta(days=d)),
)


def payment(amount: int, day: int, reversed_day: int | None = None) -> PaidFact:
    reversed_on = None if reversed_day is None else MADE + timedelta(days=reversed_day)
    return PaidFact(amount, MADE + timedelta(days=day), reversed_on)


payments = st.lists(
    st.builds(
        payment,
        amount=st.integers(1, 600_000),
        day=st.integers(-5, 40),
        reversed_day=st.none() | st.integers(0, 45),
    ),
    max_size=6,
)
days = st.integers(0, 50).map(lambda d: MADE + timedelta(days=d))


@given(terms, rules)
def test_split_payments_before_the_date_keep_it(t: PromiseTerms, rule: PromiseRule) -> None:
    half = t.amount_fen // 2
    parts = [payment(half, 0)] if half else []
    parts.append(PaidFact(t.amount_fen - half, t.promised_date))
    decision = decide(t, parts, t.promised_date, rule)
    assert decision.status == "kept"
    assert decision.kept_amount_fen == t.amount_fen
    assert decision.decided_on is not None and decision.decided_on <= t.promised_date


@given(terms, rules, st.integers(0, 5))
def test_late_within_grace_keeps_after_grace_breaks(
    t: PromiseTerms, rule: PromiseRule, late_days: int
) -> None:
    paid_on = t.promised_date + timedelta(days=late_days)
    decision = decide(t, [PaidFact(t.amount_fen, paid_on)], paid_on + timedelta(days=30), rule)
    assert decision.status == ("kept" if late_days <= rule.grace_days else "broken")


@given(terms, rules)
def test_payments_before_the_promise_was_made_do_not_count(
    t: PromiseTerms, rule: PromiseRule
) -> None:
    early = PaidFact(t.amount_fen, t.promised_on - timedelta(days=1))
    assert decide(t, [early], t.promised_date, rule).status == "pending"


@given(terms, rules, st.integers(0, 3))
def test_short_by_at_most_the_allowance_keeps(
    t: PromiseTerms, rule: PromiseRule, extra_short: int
) -> None:
    allowance = allowance_fen(t.amount_fen, rule)
    assert allowance >= rule.tolerance_fen
    paid = required_fen(t.amount_fen, rule)
    assert decide(t, [PaidFact(paid, t.promised_date)], t.promised_date, rule).status == "kept"
    less = paid - 1 - extra_short
    if less > 0:
        status = decide(t, [PaidFact(less, t.promised_date)], t.promised_date, rule).status
        assert status == "pending"


@given(terms, rules, payments, days)
def test_reversing_a_counted_payment_never_keeps_more(
    t: PromiseTerms, rule: PromiseRule, paid: list[PaidFact], as_of: date
) -> None:
    before = decide(t, paid, as_of, rule)
    for i, p in enumerate(paid):
        if p.reversed_on is None or p.reversed_on > as_of:
            reversed_now = [*paid[:i], PaidFact(p.amount_fen, p.value_date, as_of), *paid[i + 1 :]]
            after = decide(t, reversed_now, as_of, rule)
            assert after.kept_amount_fen <= before.kept_amount_fen
            if before.status != "kept":
                assert after.status != "kept"


@given(terms, rules, payments, days)
def test_decision_is_consistent(
    t: PromiseTerms, rule: PromiseRule, paid: list[PaidFact], as_of: date
) -> None:
    decision = decide(t, paid, as_of, rule)
    window_end = min(t.promised_date + timedelta(days=rule.grace_days), as_of)
    counted = sum(
        p.amount_fen
        for p in paid
        if t.promised_on <= p.value_date <= window_end
        and (p.reversed_on is None or p.reversed_on > as_of)
    )
    assert decision.kept_amount_fen == counted
    if decision.status == "kept":
        assert counted >= required_fen(t.amount_fen, rule)
    else:
        assert counted < required_fen(t.amount_fen, rule)
    grace_end = t.promised_date + timedelta(days=rule.grace_days)
    assert (decision.status == "broken") == (
        counted < required_fen(t.amount_fen, rule) and as_of > grace_end
    )


@given(terms, rules, payments, days, st.integers(1, 600_000), st.integers(0, 40))
@settings(max_examples=200)
def test_another_payment_never_unkeeps(
    t: PromiseTerms,
    rule: PromiseRule,
    paid: list[PaidFact],
    as_of: date,
    amount: int,
    day: int,
) -> None:
    before = decide(t, paid, as_of, rule)
    after = decide(t, [*paid, payment(amount, day)], as_of, rule)
    assert after.kept_amount_fen >= before.kept_amount_fen
    if before.status == "kept":
        assert after.status == "kept"


@given(terms, rules)
def test_reminder_is_before_the_date_and_not_before_the_promise(
    t: PromiseTerms, rule: PromiseRule
) -> None:
    reminder = reminder_date(t, rule)
    assert t.promised_on <= reminder <= t.promised_date
    assert t.promised_date - reminder <= timedelta(days=rule.reminder_days)


def test_kpis() -> None:
    result = kpis([("kept", 100, 100), ("broken", 50, 10), ("pending", 70, 0)], 6)
    assert result.promise_rate == Decimal("0.5")
    assert result.kept_rate == Decimal("0.5")
    assert (result.falling_due, result.kept_amount_fen, result.promised_fen) == (2, 100, 220)
    assert kpis([], 0).kept_rate == Decimal(0)
