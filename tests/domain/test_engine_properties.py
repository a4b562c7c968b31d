"""Property-based tests of the per-account overdue engine (the invariants of the foundation issue).

Random accounts: 1–6 items, 0–8 payments, some waivers and reversals, random policies (grace 0–5,
tolerance 0–2.00, both penalty bases, any allocation order, a late fee, write-off 40–200 DPD so
that charge-off is reached). Dates are bounded to a few hundred days so that one example runs in
milliseconds.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import date, timedelta
from decimal import Decimal
from typing import TypeVar

from hypothesis import assume, given, settings
from hypothesis import strategies as st

from overdue.domain.engine import (
    Account,
    AccountState,
    DueItem,
    ItemState,
    Payment,
    Reversal,
    Waiver,
    account_state,
)
from overdue.domain.policy import COMPONENTS, PenaltyBase, Policy, Product, resolve_policy

START = date(2026, 1, 1)
ZERO = Decimal("0.00")
T = TypeVar("T")
SETTINGS = settings(max_examples=150, deadline=None)


def fen(low: int, high: int) -> st.SearchStrategy[Decimal]:
    """Amounts with two decimals, from ``low`` to ``high`` fen."""
    return st.integers(min_value=low, max_value=high).map(lambda n: Decimal(n) / 100)


def day(low: int, high: int) -> st.SearchStrategy[date]:
    return st.integers(min_value=low, max_value=high).map(lambda n: START + timedelta(days=n))


@dataclass(frozen=True)
class Case:
    account: Account
    policy: Policy
    as_of: date


@st.composite
def policies(draw: st.DrawFn, product: Product) -> Policy:
    grace = draw(st.integers(0, 5))
    rate = draw(st.sampled_from([None, Decimal("0.0005"), Decimal("0.001"), Decimal("0.00123")]))
    contract = None
    if rate is None and (product is Product.INSTALLMENT or draw(st.booleans())):
        contract = draw(st.sampled_from([Decimal("0.0004"), Decimal("0.00055")]))
    return resolve_policy(
        product,
        grace_days=grace,
        tolerance=draw(fen(0, 200)),
        penalty_daily_rate=rate,
        contract_daily_rate=contract,
        penalty_base=draw(st.sampled_from(list(PenaltyBase))),
        allocation_order=tuple(draw(st.permutations(COMPONENTS))),
        write_off_dpd=draw(st.integers(max(40, grace + 1), 200)),
        accrue_after_write_off=draw(st.booleans()),
        late_fee=draw(st.sampled_from([ZERO, Decimal("25.00"), Decimal("50.00")])),
    )


@st.composite
def due_items(draw: st.DrawFn, product: Product) -> tuple[DueItem, ...]:
    items = []
    for k in range(draw(st.integers(1, 6))):
        principal = draw(fen(0, 300_000))
        minimum = None
        if product is Product.REVOLVING and draw(st.booleans()):
            minimum = draw(fen(0, int(principal * 100)))
        items.append(
            DueItem(
                id=f"I{k}",
                due_date=draw(day(0, 120)),
                principal=principal,
                interest=draw(fen(0, 30_000)),
                fee=draw(st.sampled_from([ZERO, Decimal("5.00"), Decimal("12.34")])),
                minimum=minimum,
            )
        )
    return tuple(items)


@st.composite
def cases(draw: st.DrawFn, duplicates: bool = False) -> Case:
    product = draw(st.sampled_from(list(Product)))
    items = draw(due_items(product))
    payments = [
        Payment(f"P{k}", draw(day(0, 200)), draw(fen(1, 300_000)))
        for k in range(draw(st.integers(0, 8)))
    ]
    if duplicates and payments:
        for original in draw(st.lists(st.sampled_from(payments), max_size=2)):
            payments.append(Payment(original.id, draw(day(0, 200)), draw(fen(1, 300_000))))
    waivers = [
        Waiver(draw(day(0, 200)), draw(st.sampled_from(COMPONENTS)), draw(fen(1, 50_000)), "lead")
        for _ in range(draw(st.integers(0, 3)))
    ]
    reversed_ids = draw(st.sets(st.sampled_from([p.id for p in payments]))) if payments else set()
    reversals = [Reversal(pid, draw(day(0, 220))) for pid in sorted(reversed_ids)]
    account = Account("ACC-P", product, items, tuple(payments), tuple(waivers), tuple(reversals))
    # Half of the business dates fall just after a due date, where grace windows and minimums
    # are decided.
    near_due = st.sampled_from(items).flatmap(
        lambda i: st.integers(0, 8).map(lambda k: i.due_date + timedelta(days=k))
    )
    return Case(account, draw(policies(product)), draw(day(0, 260) | near_due))


def run(case: Case, account: Account | None = None, as_of: date | None = None) -> AccountState:
    return account_state(
        case.account if account is None else account,
        case.policy,
        case.as_of if as_of is None else as_of,
    )


def effective(account: Account, as_of: date) -> Account:
    """The same account without what does not exist at ``as_of``: events dated later, payments
    reversed by then (with their reversals) and second occurrences of a payment id."""
    reversed_ids = {r.payment_id for r in account.reversals if r.date <= as_of}
    seen: set[str] = set()
    payments = []
    for p in account.payments:
        if p.id not in seen and p.date <= as_of and p.id not in reversed_ids:
            payments.append(p)
        seen.add(p.id)
    waivers = tuple(w for w in account.waivers if w.date <= as_of)
    return replace(account, payments=tuple(payments), waivers=waivers, reversals=())


def shuffled_keeping_same_day_order(
    records: tuple[T, ...], key: Callable[[T], date], rng: random.Random
) -> tuple[T, ...]:
    """A random file order of ``records`` in which records with the same date keep their
    relative order (``key`` gives the date)."""
    slots = list(range(len(records)))
    rng.shuffle(slots)
    by_day: dict[date, list[T]] = {}
    for record in records:
        by_day.setdefault(key(record), []).append(record)
    out: list[T | None] = [None] * len(records)
    # Assign the shuffled slots day by day, each day's slots in increasing order.
    position = 0
    for day_records in by_day.values():
        chosen = sorted(slots[position : position + len(day_records)])
        position += len(day_records)
        for slot, record in zip(chosen, day_records, strict=True):
            out[slot] = record
    return tuple(r for r in out if r is not None)


# --- money invariants ------------------------------------------------------------------------


@SETTINGS
@given(cases(duplicates=True))
def test_allocations_sum_to_the_payments(case: Case) -> None:
    s = run(case)
    assert s.paid_total == sum((i.paid for i in s.items), ZERO) + s.credit_balance
    originals = {i.id: i for i in case.account.items}
    for i in s.items:
        o = originals[i.id]
        ceiling = o.principal + o.interest + o.fee + i.penalty_accrued + i.late_fee_charged
        assert i.paid <= ceiling
        # What was owed is either paid, waived, still unpaid, or revolved.
        assert i.paid + i.waived + i.revolved + sum_unpaid(i) == ceiling


def sum_unpaid(i: ItemState) -> Decimal:
    return i.unpaid_principal + i.unpaid_interest + i.unpaid_fee + i.unpaid_penalty


@SETTINGS
@given(cases(duplicates=True))
def test_no_component_is_ever_negative(case: Case) -> None:
    s = run(case)
    for i in s.items:
        for value in (
            i.unpaid_principal,
            i.unpaid_interest,
            i.unpaid_fee,
            i.unpaid_penalty,
            i.provisional_penalty,
            i.penalty_accrued,
            i.paid,
            i.waived,
            i.revolved,
        ):
            assert value >= 0
    for value in (
        s.overdue_principal,
        s.overdue_interest,
        s.overdue_fee,
        s.penalty_outstanding,
        s.total_overdue,
        s.penalty_accrued,
        s.credit_balance,
        s.revolved_amount,
        s.paid_total,
        s.waived_total,
        s.recovered_after_charge_off,
    ):
        assert value >= 0
    assert s.dpd >= 0


@SETTINGS
@given(cases())
def test_paying_total_overdue_on_as_of_brings_dpd_to_zero_the_next_day(case: Case) -> None:
    due_days = {i.due_date for i in case.account.items}
    assume(case.as_of not in due_days and case.as_of + timedelta(days=1) not in due_days)
    # A waiver dated as_of is applied AFTER that day's payments (domain.md §2, steps 2–3), while
    # total_overdue already reflects it: a payoff of total_overdue may then pay what the waiver
    # would have removed, and leave a remainder. Not "nothing else happening": excluded.
    assume(all(w.date != case.as_of for w in case.account.waivers))
    account = effective(case.account, case.as_of)  # nothing else happens tomorrow
    s = run(case, account)
    assume(s.total_overdue > 0)
    payoff = Payment("PAYOFF", case.as_of, s.total_overdue)
    paid = replace(account, payments=(*account.payments, payoff))
    assert run(case, paid, case.as_of + timedelta(days=1)).dpd == 0


# --- the state is a pure function of the inputs ------------------------------------------------


@SETTINGS
@given(cases(), st.randoms(use_true_random=False))
def test_state_does_not_depend_on_the_file_order_across_dates(
    case: Case, rng: random.Random
) -> None:
    acc = case.account
    shuffled = replace(
        acc, payments=shuffled_keeping_same_day_order(acc.payments, lambda p: p.date, rng)
    )
    assert run(case, shuffled) == run(case)


@SETTINGS
@given(cases(), st.randoms(use_true_random=False))
def test_backdated_entry_any_file_order_by_date_gives_the_same_state(
    case: Case, rng: random.Random
) -> None:
    # A live system enters events on their value dates; a backdated entry arrives later in the
    # file. Both orders (and any other, same-day order kept) must give the same state.
    acc = case.account
    in_date_order = replace(
        acc,
        items=tuple(sorted(acc.items, key=lambda i: i.due_date)),
        payments=tuple(sorted(acc.payments, key=lambda p: p.date)),
        waivers=tuple(sorted(acc.waivers, key=lambda w: w.date)),
        reversals=tuple(sorted(acc.reversals, key=lambda r: r.date)),
    )
    any_order = replace(
        acc,
        items=shuffled_keeping_same_day_order(acc.items, lambda i: i.due_date, rng),
        payments=shuffled_keeping_same_day_order(acc.payments, lambda p: p.date, rng),
        waivers=shuffled_keeping_same_day_order(acc.waivers, lambda w: w.date, rng),
        reversals=tuple(rng.sample(acc.reversals, len(acc.reversals))),
    )
    assert run(case, any_order) == run(case, in_date_order)


@SETTINGS
@given(cases(), st.data())
def test_a_reversal_equals_the_payment_never_made(case: Case, data: st.DataObject) -> None:
    acc = case.account
    assume(acc.payments)
    victim = data.draw(st.sampled_from(acc.payments))
    reversal = Reversal(victim.id, data.draw(day(0, (case.as_of - START).days)))
    others = tuple(r for r in acc.reversals if r.payment_id != victim.id)
    with_reversal = replace(acc, reversals=(*others, reversal))
    never_made = replace(
        acc, payments=tuple(p for p in acc.payments if p.id != victim.id), reversals=others
    )
    assert run(case, with_reversal) == run(case, never_made)


@SETTINGS
@given(cases(), st.lists(st.integers(0, 260), min_size=2, max_size=8))
def test_without_payments_penalty_accrued_never_decreases(case: Case, offsets: list[int]) -> None:
    acc = replace(case.account, payments=(), reversals=())
    accrued = [
        run(case, acc, START + timedelta(days=n)).penalty_accrued for n in sorted(set(offsets))
    ]
    assert accrued == sorted(accrued)


# --- consistency of the reported figures -----------------------------------------------------

US_FLOORS = ((180, "180+"), (150, "150"), (120, "120"), (90, "90"), (60, "60"), (30, "30"))


@SETTINGS
@given(cases(duplicates=True))
def test_status_and_buckets_are_consistent(case: Case) -> None:
    s = run(case)
    grace = case.policy.grace_days
    delinquent = s.status in ("overdue", "charged_off")
    assert (s.bucket_cn == "M0") == (not delinquent or s.dpd == 0)
    assert s.bucket_us == next((name for floor, name in US_FLOORS if s.dpd >= floor), "current")
    assert (s.status == "charged_off") == (s.charged_off_on is not None)
    if s.status != "charged_off":
        assert (s.status == "in_grace") == (1 <= s.dpd <= grace)
        assert (s.status == "current") == (s.dpd == 0 and s.status != "settled")
    if s.status == "settled":
        assert not any(i.is_open for i in s.items)
        assert s.revolved_amount == 0
        assert all(i.due_date <= case.as_of for i in s.items)
    assert (s.delinquent_since is not None) == (delinquent and s.dpd >= 1)


@SETTINGS
@given(cases(duplicates=True))
def test_dpd_comes_from_the_oldest_open_past_due_item(case: Case) -> None:
    s = run(case)
    past_due = [i for i in s.items if i.is_open and i.due_date < case.as_of]
    oldest = min((i.due_date for i in past_due), default=None)
    assert s.oldest_past_due_date == oldest
    assert s.dpd == (0 if oldest is None else (case.as_of - oldest).days)
    assert s.max_dpd >= s.dpd
    assert (s.charged_off_on is not None) == (s.max_dpd >= case.policy.write_off_dpd)


@SETTINGS
@given(cases(duplicates=True))
def test_total_overdue_is_the_sum_of_its_parts(case: Case) -> None:
    s = run(case)
    past_due = [i for i in s.items if i.is_open and i.due_date < case.as_of]
    penalty = sum((i.unpaid_penalty for i in past_due), ZERO)
    assert s.total_overdue == s.overdue_principal + s.overdue_interest + s.overdue_fee + penalty
    assert s.overdue_principal == sum((i.unpaid_principal for i in past_due), ZERO)
    assert s.penalty_outstanding == sum((i.unpaid_penalty for i in s.items), ZERO)


@SETTINGS
@given(cases(duplicates=True))
def test_delinquent_since_starts_an_unbroken_run_ending_at_as_of(case: Case) -> None:
    s = run(case)
    assume(s.delinquent_since is not None)
    assert s.delinquent_since is not None
    # Replay the history as it is known at as_of (reversed payments never made).
    acc = effective(case.account, case.as_of)
    start = s.delinquent_since
    assert run(case, acc, start - timedelta(days=1)).dpd == 0
    assert run(case, acc, start).dpd >= 1
    # Days of the run have DPD ≥ 1 (checked on a few of them).
    span = (case.as_of - start).days
    for k in sorted({0, span // 3, span // 2, span}):
        assert run(case, acc, start + timedelta(days=k)).dpd >= 1
    assert s.oldest_past_due_date is not None
    assert start <= s.oldest_past_due_date + timedelta(days=1)


@SETTINGS
@given(cases())
def test_recoveries_are_payments_dated_after_the_charge_off_day(case: Case) -> None:
    s = run(case)
    acc = effective(case.account, case.as_of)
    after = [p.amount for p in acc.payments if s.charged_off_on and p.date > s.charged_off_on]
    assert s.recovered_after_charge_off == sum(after, ZERO)
    assert s.paid_total == sum((p.amount for p in acc.payments), ZERO)
