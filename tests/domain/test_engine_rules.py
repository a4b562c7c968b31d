"""One hand-computed test per rule of the per-account overdue engine.

The rules are domain.md §2 and the account-state contract of the foundation issue (with its
"Precisions"). Every expected figure below is computed by hand in a comment, never copied from
the engine. Installment examples use a penalty rate of 0.1 %/day so that 1,000.00 of principal
costs exactly 1.00 a day; revolving examples use the default 0.05 %/day (0.50 a day on 1,000.00).
Calendar facts used: February 2026 has 28 days; 2026-01-01 + 120 days = 2026-05-01,
+ 180 days = 2026-06-30.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest

from overdue.domain.buckets import BucketTransition
from overdue.domain.engine import (
    Account,
    AccountState,
    DueItem,
    Payment,
    Reversal,
    Waiver,
    account_state,
)
from overdue.domain.policy import (
    Component,
    PenaltyBase,
    Policy,
    PolicyError,
    Product,
    resolve_policy,
)

RATE = Decimal("0.001")  # 0.1 %/day: 1.00 a day on 1,000.00


def d(text: str) -> date:
    return date.fromisoformat(text)


def item(
    item_id: str,
    due: str,
    principal: str,
    interest: str = "0.00",
    fee: str = "0.00",
    minimum: str | None = None,
) -> DueItem:
    return DueItem(
        id=item_id,
        due_date=d(due),
        principal=Decimal(principal),
        interest=Decimal(interest),
        fee=Decimal(fee),
        minimum=None if minimum is None else Decimal(minimum),
    )


def pay(payment_id: str, day: str, amount: str) -> Payment:
    return Payment(id=payment_id, date=d(day), amount=Decimal(amount))


def waive(day: str, component: Component, amount: str) -> Waiver:
    return Waiver(date=d(day), component=component, amount=Decimal(amount), approver="lead")


def account(
    *items: DueItem,
    product: Product = Product.INSTALLMENT,
    payments: tuple[Payment, ...] = (),
    waivers: tuple[Waiver, ...] = (),
    reversals: tuple[Reversal, ...] = (),
) -> Account:
    return Account("ACC-1", product, tuple(items), payments, waivers, reversals)


def loan_policy(**overrides: Any) -> Policy:
    overrides.setdefault("penalty_daily_rate", RATE)
    return resolve_policy(Product.INSTALLMENT, **overrides)


def state(acc: Account, as_of: str, policy: Policy | None = None) -> AccountState:
    """The engine's state; every rule is checked on both paths (fast-forward and literal)."""
    if policy is None:
        policy = loan_policy() if acc.product is Product.INSTALLMENT else bill_policy()
    fast = account_state(acc, policy, d(as_of))
    assert fast == account_state(acc, policy, d(as_of), day_by_day=True)
    return fast


def bill_policy(**overrides: Any) -> Policy:
    return resolve_policy(Product.REVOLVING, **overrides)


def figures(acc: Account, as_of: str, policy: Policy | None = None) -> dict[str, object]:
    return state(acc, as_of, policy).to_json_dict()


def assert_figures(actual: dict[str, object], **expected: object) -> None:
    shown = {key: actual[key] for key in expected}
    assert shown == expected


# --- DPD -------------------------------------------------------------------------------------


def test_dpd_counts_from_the_oldest_open_item_not_the_first_in_file() -> None:
    # The file lists the March installment first; the February one is older.
    acc = account(item("L-02", "2026-03-10", "1000.00"), item("L-01", "2026-02-10", "1000.00"))
    # DPD = 2026-03-15 − 2026-02-10 = 18 (to Feb 28) + 15 = 33.
    # Penalty: L-01 Feb 11 … Mar 15 = 33 days × 1.00; L-02 Mar 11 … Mar 15 = 5 × 1.00 → 38.00.
    assert_figures(
        figures(acc, "2026-03-15"),
        dpd=33,
        oldest_past_due_date="2026-02-10",
        overdue_principal="2000.00",
        penalty_accrued="38.00",
        total_overdue="2038.00",
        bucket_cn="M2",
        bucket_us="30",
    )
    # 1,033.00 paid on Mar 15 goes to the OLDEST item first: L-01's 33.00 penalty + 1,000.00.
    paid = replace(acc, payments=(pay("P1", "2026-03-15", "1033.00"),))
    assert_figures(
        figures(paid, "2026-03-15"),
        dpd=5,  # now L-02 (due Mar 10) is the oldest open item
        oldest_past_due_date="2026-03-10",
        overdue_principal="1000.00",
        penalty_outstanding="5.00",
        total_overdue="1005.00",
    )


def test_an_item_due_on_as_of_is_due_not_past_due() -> None:
    acc = account(item("L-01", "2026-03-10", "1000.00"))
    assert_figures(
        figures(acc, "2026-03-10"),
        status="current",
        dpd=0,
        oldest_past_due_date=None,
        overdue_principal="0.00",
        total_overdue="0.00",
    )
    # The next day it is 1 day past due and has accrued one day of penalty (1.00).
    assert_figures(
        figures(acc, "2026-03-11"),
        status="overdue",
        dpd=1,
        oldest_past_due_date="2026-03-10",
        overdue_principal="1000.00",
        penalty_outstanding="1.00",
        total_overdue="1001.00",
        bucket_cn="M1",
    )


# --- grace and the late fee ------------------------------------------------------------------


def test_grace_settled_within_the_window_is_never_overdue_and_its_penalty_is_dropped() -> None:
    policy = loan_policy(grace_days=3, late_fee=Decimal("50.00"))
    acc = account(
        item("L-01", "2026-03-10", "1000.00"), payments=(pay("P1", "2026-03-12", "1000.00"),)
    )
    # Mar 11: in the window (Mar 11 … Mar 13). The 1.00 of provisional penalty is not reported.
    assert_figures(
        figures(acc, "2026-03-11", policy),
        status="in_grace",
        dpd=1,
        bucket_cn="M0",
        bucket_us="current",
        total_overdue="1000.00",
        penalty_accrued="0.00",
        penalty_outstanding="0.00",
        delinquent_since=None,
    )
    # Mar 12: provisional penalty (2.00) is not payable, so all 1,000.00 goes to principal and
    # the item closes. Mar 14 (after the window): penalty dropped, no late fee.
    final = state(acc, "2026-03-20", policy)
    assert_figures(
        final.to_json_dict(),
        status="settled",
        dpd=0,
        penalty_accrued="0.00",
        overdue_fee="0.00",
        credit_balance="0.00",
        paid_total="1000.00",
        max_dpd=1,  # Mar 11 was DPD 1 (in grace); the item closed on Mar 12
    )
    assert final.items[0].late_fee_charged == Decimal("0.00")
    assert [t for t in final.transitions if t.scheme == "cn"] == []  # never left M0


def test_grace_still_open_owes_penalty_from_due_plus_one_and_the_late_fee_once() -> None:
    policy = loan_policy(grace_days=3, late_fee=Decimal("50.00"))
    acc = account(
        item("L-01", "2026-03-10", "1000.00"), payments=(pay("P1", "2026-03-12", "500.00"),)
    )
    # Provisional penalty: Mar 11 1.00 (base 1000), Mar 12 1.00 (base 1000 at the start of
    # the day), Mar 13 0.50 (base 500). The payment cannot touch it: 500 → principal.
    assert_figures(
        figures(acc, "2026-03-13", policy),
        status="in_grace",
        dpd=3,
        total_overdue="500.00",
        penalty_accrued="0.00",
        overdue_fee="0.00",
    )
    # Start of Mar 14: still open → the 2.50 becomes owed and the 50.00 late fee is added;
    # then Mar 14 accrues 0.50 → penalty 3.00; total 500 + 50 + 3 = 553.00.
    assert_figures(
        figures(acc, "2026-03-14", policy),
        status="overdue",
        dpd=4,
        bucket_cn="M1",
        overdue_principal="500.00",
        overdue_fee="50.00",
        penalty_outstanding="3.00",
        penalty_accrued="3.00",
        total_overdue="553.00",
        delinquent_since="2026-03-11",  # overdue from the due date: the run starts at due + 1
    )
    # Mar 15 … Mar 20: 6 × 0.50 more → 6.00; the late fee is still charged once (50.00).
    assert_figures(
        figures(acc, "2026-03-20", policy),
        overdue_fee="50.00",
        penalty_accrued="6.00",
        total_overdue="556.00",
    )


def test_late_fee_without_grace_is_added_the_day_after_the_due_date() -> None:
    policy = loan_policy(late_fee=Decimal("30.00"))
    acc = account(item("L-01", "2026-03-10", "1000.00"))
    assert figures(acc, "2026-03-10", policy)["overdue_fee"] == "0.00"
    # Mar 11: fee 30.00 + penalty 1.00 + principal 1000.00.
    assert_figures(figures(acc, "2026-03-11", policy), overdue_fee="30.00", total_overdue="1031.00")
    assert figures(acc, "2026-03-31", policy)["overdue_fee"] == "30.00"  # once, not daily
    on_time = replace(acc, payments=(pay("P1", "2026-03-10", "1000.00"),))
    assert_figures(figures(on_time, "2026-03-11", policy), status="settled", overdue_fee="0.00")


# --- tolerance -------------------------------------------------------------------------------


def test_tolerance_an_item_owing_no_more_than_the_tolerance_is_closed() -> None:
    policy = loan_policy(tolerance=Decimal("1.00"))
    # 999.00 paid on the due date leaves exactly 1.00, which does not EXCEED 1.00 → closed:
    # no DPD, no penalty ever, nothing reported overdue.
    closed = account(
        item("L-01", "2026-03-10", "1000.00"), payments=(pay("P1", "2026-03-10", "999.00"),)
    )
    assert_figures(
        figures(closed, "2026-03-20", policy),
        status="settled",
        dpd=0,
        max_dpd=0,
        total_overdue="0.00",
        penalty_accrued="0.00",
    )
    # 998.99 leaves 1.01 > 1.00 → open: DPD 1 on Mar 11, penalty round(1.01 × 0.001) = 0.00.
    open_ = account(
        item("L-01", "2026-03-10", "1000.00"), payments=(pay("P1", "2026-03-10", "998.99"),)
    )
    assert_figures(
        figures(open_, "2026-03-11", policy),
        status="overdue",
        dpd=1,
        overdue_principal="1.01",
        total_overdue="1.01",
    )


# --- penalty ---------------------------------------------------------------------------------


def test_penalty_base_principal_versus_principal_and_interest() -> None:
    acc = account(item("L-01", "2026-03-10", "1000.00", interest="200.00"))
    # Mar 11, 12, 13: principal base 1000 × 0.001 = 1.00 a day → 3.00.
    assert figures(acc, "2026-03-13")["penalty_accrued"] == "3.00"
    # Compounding base 1000 + 200 = 1200 × 0.001 = 1.20 a day → 3.60.
    compound = loan_policy(penalty_base=PenaltyBase.PRINCIPAL_AND_INTEREST)
    assert figures(acc, "2026-03-13", compound)["penalty_accrued"] == "3.60"


def test_penalty_days_equal_payment_date_minus_due_date() -> None:
    # Paid on Mar 15: penalty days Mar 11 … Mar 15 = 5 = 15 − 10 → 5.00, then 1000.00.
    full = account(
        item("L-01", "2026-03-10", "1000.00"), payments=(pay("P1", "2026-03-15", "1005.00"),)
    )
    final = state(full, "2026-03-20")
    assert_figures(final.to_json_dict(), status="settled", penalty_accrued="5.00")
    assert final.items[0].penalty_days == 5
    # Paying only 1000.00 on Mar 15 still owes Mar 15's penalty: 5.00 penalty goes first, so
    # 995.00 reaches principal and 5.00 remains. Mar 16 accrues round(5.00 × 0.001 = 0.005)
    # = 0.01 (half-up) → total 5.01.
    short = account(
        item("L-01", "2026-03-10", "1000.00"), payments=(pay("P1", "2026-03-15", "1000.00"),)
    )
    assert_figures(
        figures(short, "2026-03-16"),
        dpd=6,
        overdue_principal="5.00",
        penalty_outstanding="0.01",
        penalty_accrued="5.01",
        total_overdue="5.01",
    )


def test_default_penalty_rates_by_product() -> None:
    # Ten days (Mar 11 … Mar 20) on 1,000.00 of principal.
    bill = account(item("B-01", "2026-03-10", "1000.00"), product=Product.REVOLVING)
    # Revolving default 0.05 %/day → 0.50 a day → 5.00.
    assert figures(bill, "2026-03-20", bill_policy())["penalty_accrued"] == "5.00"
    loan = account(item("L-01", "2026-03-10", "1000.00"))
    # Installment: contract 0.04 %/day × 1.5 = 0.06 %/day → 0.60 a day → 6.00.
    contract = resolve_policy(Product.INSTALLMENT, contract_daily_rate=Decimal("0.0004"))
    assert figures(loan, "2026-03-20", contract)["penalty_accrued"] == "6.00"
    # × 1.3 → 0.052 %/day → 0.52 a day → 5.20.
    multiplied = resolve_policy(
        Product.INSTALLMENT,
        contract_daily_rate=Decimal("0.0004"),
        penalty_multiplier=Decimal("1.3"),
    )
    assert figures(loan, "2026-03-20", multiplied)["penalty_accrued"] == "5.20"
    # An explicit penalty_daily_rate wins over the contract rate: 0.1 %/day → 10.00.
    explicit = resolve_policy(
        Product.INSTALLMENT, penalty_daily_rate=RATE, contract_daily_rate=Decimal("0.0004")
    )
    assert figures(loan, "2026-03-20", explicit)["penalty_accrued"] == "10.00"
    with pytest.raises(PolicyError):
        resolve_policy(Product.INSTALLMENT)  # a loan with no rate at all is bad input


def test_policy_defaults() -> None:
    revolving = resolve_policy(Product.REVOLVING)
    installment = resolve_policy(Product.INSTALLMENT, contract_daily_rate=Decimal("0.0004"))
    assert (revolving.write_off_dpd, installment.write_off_dpd) == (180, 120)
    for policy in (revolving, installment):
        assert policy.grace_days == 0
        assert policy.tolerance == Decimal("0.00")
        assert policy.penalty_base is PenaltyBase.PRINCIPAL
        assert policy.allocation_order == ("fee", "penalty", "interest", "principal")
        assert policy.accrue_after_write_off is False
        assert policy.late_fee == Decimal("0.00")


# --- allocation, credit balance --------------------------------------------------------------


def test_allocation_order_is_a_policy_list() -> None:
    acc = account(
        item("L-01", "2026-03-10", "1000.00", interest="100.00", fee="20.00"),
        payments=(pay("P1", "2026-03-15", "50.00"),),
    )
    # By Mar 15: penalty Mar 11 … Mar 15 = 5.00 (accrued before the payment).
    # Default fee → penalty → interest → principal: fee 20, penalty 5, interest 25 of 100.
    assert_figures(
        figures(acc, "2026-03-15"),
        overdue_fee="0.00",
        penalty_outstanding="0.00",
        overdue_interest="75.00",
        overdue_principal="1000.00",
        total_overdue="1075.00",
    )
    # principal → interest → fee → penalty: all 50.00 to principal.
    order: tuple[Component, ...] = ("principal", "interest", "fee", "penalty")
    assert_figures(
        figures(acc, "2026-03-15", loan_policy(allocation_order=order)),
        overdue_fee="20.00",
        penalty_outstanding="5.00",
        overdue_interest="100.00",
        overdue_principal="950.00",
        total_overdue="1075.00",
    )


def test_a_payment_goes_only_to_items_due_on_or_before_its_date_rest_is_credit() -> None:
    acc = account(
        item("L-01", "2026-03-10", "500.00"),
        item("L-02", "2026-04-10", "500.00"),
        payments=(pay("P1", "2026-03-15", "800.00"),),
    )
    # L-01 by Mar 15: 5 days × round(500 × 0.001 = 0.50) = 2.50 → takes 502.50.
    # 800 − 502.50 = 297.50 stays as credit: L-02 is not due yet.
    mar15 = state(acc, "2026-03-15")
    assert_figures(
        mar15.to_json_dict(), status="current", dpd=0, credit_balance="297.50", paid_total="800.00"
    )
    assert mar15.items[1].unpaid_principal == Decimal("500.00")
    # Apr 10, start of day: the credit goes to L-02 → 202.50 left; due today, not past due.
    assert_figures(figures(acc, "2026-04-10"), dpd=0, credit_balance="0.00")
    # Apr 11: 1 DPD; penalty round(202.50 × 0.001 = 0.2025) = 0.20 → total 202.70.
    assert_figures(
        figures(acc, "2026-04-11"),
        dpd=1,
        overdue_principal="202.50",
        penalty_outstanding="0.20",
        total_overdue="202.70",
    )


def test_a_payment_before_the_due_date_waits_as_credit_until_the_due_date() -> None:
    acc = account(
        item("L-01", "2026-03-10", "500.00"), payments=(pay("P1", "2026-03-09", "100.00"),)
    )
    mar9 = state(acc, "2026-03-09")
    assert mar9.credit_balance == Decimal("100.00")
    assert mar9.items[0].unpaid_principal == Decimal("500.00")  # not yet applied
    mar10 = state(acc, "2026-03-10")
    assert mar10.credit_balance == Decimal("0.00")
    assert mar10.items[0].unpaid_principal == Decimal("400.00")  # 500 − 100, on its due date


def test_items_with_the_same_due_date_are_paid_in_file_order() -> None:
    acc = account(
        item("X", "2026-03-10", "300.00"),
        item("W", "2026-03-10", "300.00"),
        payments=(pay("P1", "2026-03-10", "300.00"),),
    )
    items = {i.id: i for i in state(acc, "2026-03-11").items}
    assert items["X"].unpaid_principal == Decimal("0.00")  # first in the file
    assert items["W"].unpaid_principal == Decimal("300.00")


def test_payments_are_processed_by_date_whatever_their_order_in_the_file() -> None:
    acc = account(
        item("L-01", "2026-03-10", "1000.00"),
        payments=(pay("P2", "2026-03-20", "500.00"), pay("P1", "2026-03-12", "500.00")),
    )
    # Mar 12 (P1): penalty Mar 11 + Mar 12 = 2.00 paid, 498.00 to principal → 502.00.
    # Mar 13 … Mar 20: 8 days × round(502 × 0.001 = 0.502) = 0.50 → 4.00.
    # Mar 20 (P2): 4.00 penalty, 496.00 principal → 6.00 left.
    assert_figures(
        figures(acc, "2026-03-20"),
        overdue_principal="6.00",
        penalty_outstanding="0.00",
        penalty_accrued="6.00",
        total_overdue="6.00",
        paid_total="1000.00",
    )


# --- minimum payment and revolved amount -----------------------------------------------------


def bill_with_minimum(*payments: Payment) -> Account:
    return account(
        item("B-03", "2026-03-10", "1000.00", minimum="100.00"),
        product=Product.REVOLVING,
        payments=payments,
    )


def test_minimum_paid_closes_the_bill_and_the_rest_revolves() -> None:
    acc = bill_with_minimum(pay("P1", "2026-03-10", "100.00"))
    # Judged at the end of Mar 10 (grace 0): paid 100.00 ≥ 100.00 → closed, 900.00 revolves.
    assert_figures(
        figures(acc, "2026-03-20"),
        status="current",  # not settled: something revolved
        dpd=0,
        revolved_amount="900.00",
        total_overdue="0.00",
        penalty_accrued="0.00",
    )
    # A later payment does not reduce the revolved amount; with no open item it is credit.
    later = bill_with_minimum(pay("P1", "2026-03-10", "100.00"), pay("P2", "2026-03-15", "900.00"))
    assert_figures(figures(later, "2026-03-20"), revolved_amount="900.00", credit_balance="900.00")


def test_minimum_not_paid_the_whole_bill_stays_overdue() -> None:
    acc = bill_with_minimum(pay("P1", "2026-03-10", "99.99"))
    # 99.99 < 100.00 → stays open with 900.01; Mar 11 penalty round(900.01 × 0.0005 =
    # 0.450005) = 0.45 → total 900.46.
    assert_figures(
        figures(acc, "2026-03-11"),
        status="overdue",
        dpd=1,
        revolved_amount="0.00",
        overdue_principal="900.01",
        total_overdue="900.46",
    )


def test_minimum_counts_credit_applied_on_the_due_date() -> None:
    # 60.00 paid early waits as credit, applied on Mar 10 before the 40.00 → 100.00 paid.
    acc = bill_with_minimum(pay("P1", "2026-03-05", "60.00"), pay("P2", "2026-03-10", "40.00"))
    assert_figures(figures(acc, "2026-03-11"), dpd=0, revolved_amount="900.00")


def test_minimum_is_judged_at_the_end_of_the_grace_window() -> None:
    policy = bill_policy(grace_days=3)
    acc = bill_with_minimum(pay("P1", "2026-03-12", "100.00"))
    # Mar 12, in the window: an ordinary item, 900.00 open, not yet judged.
    assert_figures(
        figures(acc, "2026-03-12", policy),
        status="in_grace",
        dpd=2,
        total_overdue="900.00",
        revolved_amount="0.00",
    )
    # End of Mar 13 (due + grace): judged before that day's DPD → closed, 900.00 revolved.
    assert_figures(
        figures(acc, "2026-03-13", policy), status="current", dpd=0, revolved_amount="900.00"
    )
    # The provisional penalty (0.50 + 0.50 + 0.45) is dropped.
    assert_figures(figures(acc, "2026-03-20", policy), penalty_accrued="0.00", max_dpd=2)
    # The minimum paid after the window does not count: Mar 14 the 1.50 of window penalty
    # (3 × 0.50) becomes owed, Mar 14 accrues 0.50 → 2.00; the 100.00 pays 2.00 penalty and
    # 98.00 principal → 902.00 overdue.
    late = bill_with_minimum(pay("P1", "2026-03-14", "100.00"))
    assert_figures(
        figures(late, "2026-03-14", policy),
        status="overdue",
        dpd=4,
        revolved_amount="0.00",
        overdue_principal="902.00",
        penalty_accrued="2.00",
        total_overdue="902.00",
    )


# --- waivers ---------------------------------------------------------------------------------


def three_installments(*waivers: Waiver) -> Account:
    return account(
        item("L-01", "2026-02-10", "1000.00", interest="30.00"),
        item("L-02", "2026-03-10", "1000.00", interest="30.00"),
        item("L-03", "2026-04-10", "1000.00", interest="30.00"),
        waivers=waivers,
    )


def test_waivers_reduce_the_oldest_items_first() -> None:
    s = state(three_installments(waive("2026-03-15", "interest", "50.00")), "2026-03-15")
    # L-01 30.00 → 0, L-02 30.00 → 10.00 (50 − 30 = 20 waived there), L-03 not due yet.
    assert [i.unpaid_interest for i in s.items] == [Decimal("0.00"), Decimal("10.00"), Decimal(30)]
    assert_figures(s.to_json_dict(), waived_total="50.00", overdue_interest="10.00")


def test_waivers_never_go_below_zero_and_count_only_what_they_reduced() -> None:
    s = state(three_installments(waive("2026-03-15", "interest", "100.00")), "2026-03-15")
    # 30 + 30 can be waived on the items due by Mar 15; L-03 (due Apr 10) keeps its 30.00.
    assert [i.unpaid_interest for i in s.items] == [Decimal("0.00"), Decimal("0.00"), Decimal(30)]
    assert_figures(s.to_json_dict(), waived_total="60.00", overdue_interest="0.00")


def test_waivers_reach_items_that_are_not_open() -> None:
    policy = loan_policy(tolerance=Decimal("1.00"))
    acc = account(
        item("L-01", "2026-02-10", "1000.00"),
        item("L-02", "2026-03-10", "1000.00"),
        payments=(pay("P1", "2026-02-10", "999.50"),),  # L-01 keeps 0.50 ≤ 1.00: closed
        waivers=(waive("2026-03-15", "principal", "0.30"),),
    )
    s = state(acc, "2026-03-15", policy)
    # Oldest first, open or not: L-01 0.50 → 0.20; L-02 untouched.
    assert s.items[0].unpaid_principal == Decimal("0.20")
    assert_figures(s.to_json_dict(), waived_total="0.30", overdue_principal="1000.00")


def test_same_day_payments_come_before_waivers() -> None:
    # domain.md §2: day D runs payments (step 2) before waivers (step 3).
    acc = account(
        item("L-01", "2026-03-10", "100.00", fee="10.00"),
        payments=(pay("P1", "2026-03-10", "100.00"),),
        waivers=(waive("2026-03-10", "fee", "10.00"),),
    )
    s = state(acc, "2026-03-10")
    # The payment pays the 10.00 fee first, then 90.00 principal (10.00 left); the waiver then
    # finds no fee to reduce. (Waiver first would have left nothing owed.)
    assert s.items[0].unpaid_principal == Decimal("10.00")
    assert_figures(s.to_json_dict(), waived_total="0.00", paid_total="100.00")


def test_provisional_penalty_is_not_waivable() -> None:
    policy = loan_policy(grace_days=3)
    early = account(
        item("L-01", "2026-03-10", "1000.00"), waivers=(waive("2026-03-12", "penalty", "5.00"),)
    )
    # On Mar 12 the 2.00 of penalty is provisional: nothing to waive. Mar 14: 3.00 + 1.00 owed.
    assert_figures(
        figures(early, "2026-03-14", policy),
        waived_total="0.00",
        penalty_outstanding="4.00",
        penalty_accrued="4.00",
    )
    owed = account(
        item("L-01", "2026-03-10", "1000.00"), waivers=(waive("2026-03-14", "penalty", "5.00"),)
    )
    # On Mar 14 the 4.00 is owed: the 5.00 waiver takes it to 0 and counts 4.00.
    assert_figures(
        figures(owed, "2026-03-14", policy),
        waived_total="4.00",
        penalty_outstanding="0.00",
        penalty_accrued="4.00",  # accrued is history: a waiver does not undo it
        total_overdue="1000.00",
    )


# --- reversals, duplicates, future events ---------------------------------------------------


def test_a_reversal_is_the_payment_never_made() -> None:
    base = account(item("L-01", "2026-03-10", "1000.00"))
    paid = replace(
        base,
        payments=(pay("P1", "2026-03-12", "500.00"),),
        reversals=(Reversal("P1", d("2026-03-20")),),
    )
    # Before the reversal exists (Mar 15): 2.00 penalty + 498.00 principal paid; 502.00 left;
    # Mar 13 … Mar 15 accrue 3 × 0.50 = 1.50 → total 503.50.
    assert_figures(figures(paid, "2026-03-15"), paid_total="500.00", total_overdue="503.50")
    # From Mar 20: as if never made — 10 days × 1.00 on 1,000.00.
    after = figures(paid, "2026-03-20")
    assert_figures(
        after,
        paid_total="0.00",
        overdue_principal="1000.00",
        penalty_accrued="10.00",
        total_overdue="1010.00",
    )
    assert after == figures(base, "2026-03-20")


def test_a_payment_id_seen_twice_is_applied_once() -> None:
    twice = account(
        item("L-01", "2026-03-10", "1000.00"),
        payments=(pay("P1", "2026-03-10", "500.00"), pay("P1", "2026-03-10", "500.00")),
    )
    assert_figures(figures(twice, "2026-03-10"), paid_total="500.00")
    # Different amounts: the first occurrence (300.00) counts.
    differing = account(
        item("L-01", "2026-03-10", "1000.00"),
        payments=(pay("P1", "2026-03-10", "300.00"), pay("P1", "2026-03-11", "700.00")),
    )
    assert_figures(figures(differing, "2026-03-12"), paid_total="300.00")


def test_events_dated_after_as_of_do_not_exist_yet() -> None:
    acc = account(
        item("L-01", "2026-03-10", "1000.00"),
        payments=(pay("P1", "2026-03-12", "500.00"), pay("P2", "2026-03-16", "400.00")),
        waivers=(waive("2026-03-16", "penalty", "1.00"),),
        reversals=(Reversal("P1", d("2026-03-16")),),
    )
    # At Mar 15 only P1 exists (its reversal, P2 and the waiver are dated Mar 16).
    assert_figures(
        figures(acc, "2026-03-15"), paid_total="500.00", waived_total="0.00", total_overdue="503.50"
    )


# --- charge-off ------------------------------------------------------------------------------


def test_installment_charge_off_at_120_dpd_stops_the_penalty() -> None:
    acc = account(item("L-01", "2026-01-01", "1000.00"))
    assert_figures(figures(acc, "2026-04-30"), status="overdue", dpd=119, charged_off_on=None)
    # May 1 = due + 120: charged off; penalty through that day: 120 × 1.00.
    assert_figures(
        figures(acc, "2026-05-01"),
        status="charged_off",
        dpd=120,
        charged_off_on="2026-05-01",
        penalty_accrued="120.00",
    )
    # Jun 1 (DPD 151): no accrual after the charge-off day.
    assert_figures(
        figures(acc, "2026-06-01"), status="charged_off", dpd=151, penalty_accrued="120.00"
    )
    # Unless the policy keeps accruing: 151 × 1.00.
    keep = loan_policy(accrue_after_write_off=True)
    assert figures(acc, "2026-06-01", keep)["penalty_accrued"] == "151.00"


def test_revolving_charge_off_at_180_dpd() -> None:
    acc = account(item("B-01", "2026-01-01", "1000.00"), product=Product.REVOLVING)
    assert_figures(figures(acc, "2026-06-29"), status="overdue", dpd=179)
    # Jun 30 = due + 180; penalty 180 × 0.50 = 90.00 through that day, none after.
    assert_figures(
        figures(acc, "2026-06-30"),
        status="charged_off",
        charged_off_on="2026-06-30",
        penalty_accrued="90.00",
        bucket_cn="M6",
        bucket_us="180+",
    )
    assert_figures(
        figures(acc, "2026-07-31"),
        dpd=211,
        penalty_accrued="90.00",
        bucket_cn="M7",
        bucket_us="180+",
    )


def test_charged_off_is_final_and_later_payments_are_recoveries() -> None:
    acc = account(
        item("L-01", "2026-01-01", "1000.00"),
        payments=(pay("P1", "2026-05-01", "10.00"), pay("P2", "2026-05-10", "1110.00")),
    )
    # Penalty through May 1: 120.00. P1 (10.00, ON the charge-off day, not a recovery) → 110.00
    # penalty left. No accrual after May 1. P2 = 110.00 + 1,000.00 clears everything on May 10.
    assert_figures(
        figures(acc, "2026-05-20"),
        status="charged_off",  # final, even with nothing owed
        charged_off_on="2026-05-01",
        dpd=0,
        bucket_cn="M0",
        bucket_us="current",
        total_overdue="0.00",
        paid_total="1120.00",
        recovered_after_charge_off="1110.00",
        max_dpd=128,  # May 9 = due + 128; on May 10 the payment cured the account
        delinquent_since=None,
    )


# --- status ----------------------------------------------------------------------------------


def test_settled_means_nothing_open_nothing_revolved_nothing_scheduled() -> None:
    paid = account(
        item("L-01", "2026-03-10", "500.00"), payments=(pay("P1", "2026-03-10", "500.00"),)
    )
    assert figures(paid, "2026-03-10")["status"] == "settled"
    assert figures(paid, "2026-03-11")["status"] == "settled"
    scheduled = replace(paid, items=(*paid.items, item("L-02", "2026-04-10", "500.00")))
    assert figures(scheduled, "2026-03-11")["status"] == "current"
    # Once L-02 has fallen due (Apr 10) and is unpaid, it is open: still current on its due date.
    assert figures(scheduled, "2026-04-10")["status"] == "current"


def test_an_account_with_nothing_yet_is_settled_or_current() -> None:
    # No item at all: nothing open, nothing revolved, nothing scheduled → settled.
    assert figures(account(), "2026-03-15")["status"] == "settled"
    # as_of before the first event: the item is scheduled → current, DPD 0.
    early = account(item("L-01", "2026-03-10", "1000.00"))
    assert_figures(figures(early, "2026-03-01"), status="current", dpd=0, max_dpd=0)


def test_delinquent_since_is_the_first_day_of_the_current_spell() -> None:
    acc = account(
        item("L-01", "2026-03-10", "1000.00"),
        item("L-02", "2026-04-10", "1000.00"),
        # Cures L-01 on Mar 20: 10 days × 1.00 penalty + 1,000.00.
        payments=(pay("P1", "2026-03-20", "1010.00"),),
    )
    assert_figures(figures(acc, "2026-03-19"), dpd=9, delinquent_since="2026-03-11")
    assert_figures(figures(acc, "2026-03-20"), dpd=0, status="current", delinquent_since=None)
    # A new spell: L-02 from Apr 11. max_dpd keeps the worst day ever (Mar 19: 9).
    assert_figures(figures(acc, "2026-04-15"), dpd=5, delinquent_since="2026-04-11", max_dpd=9)


def test_delinquent_since_is_not_reported_in_grace() -> None:
    policy = loan_policy(grace_days=3)
    acc = account(item("L-01", "2026-03-10", "1000.00"))
    assert_figures(
        figures(acc, "2026-03-12", policy), status="in_grace", dpd=2, delinquent_since=None
    )
    # Once overdue, the spell counts from its first day with DPD ≥ 1 (Mar 11, in grace).
    assert_figures(
        figures(acc, "2026-03-14", policy), status="overdue", delinquent_since="2026-03-11"
    )


# --- buckets ---------------------------------------------------------------------------------

# (DPD, CN M-bucket, US cycle bucket): M1 starts at 1 DPD, the US "30" bucket at 30 DPD; the
# one-day offset between the schemes is deliberate (domain.md §2).
BOUNDARIES = [
    (0, "M0", "current"),
    (1, "M1", "current"),
    (29, "M1", "current"),
    (30, "M1", "30"),
    (31, "M2", "30"),
    (59, "M2", "30"),
    (60, "M2", "60"),
    (61, "M3", "60"),
    (90, "M3", "90"),
    (91, "M4", "90"),
    (120, "M4", "120"),
    (121, "M5", "120"),
    (150, "M5", "150"),
    (151, "M6", "150"),
    (179, "M6", "150"),
    (180, "M6", "180+"),
    (181, "M7", "180+"),
]


@pytest.mark.parametrize(("dpd", "cn", "us"), BOUNDARIES)
def test_buckets_at_every_boundary(dpd: int, cn: str, us: str) -> None:
    acc = account(item("L-01", "2026-01-01", "1000.00"))
    as_of = (d("2026-01-01") + timedelta(days=dpd)).isoformat()
    s = figures(acc, as_of, loan_policy(write_off_dpd=400))
    assert (s["dpd"], s["bucket_cn"], s["bucket_us"]) == (dpd, cn, us)


def test_bucket_cn_is_m0_in_grace_but_bucket_us_follows_dpd_alone() -> None:
    policy = loan_policy(grace_days=35, write_off_dpd=400)
    acc = account(item("L-01", "2026-01-01", "1000.00"))
    # DPD 30 is within a 35-day grace: in_grace → M0; the US bucket is "30" regardless.
    assert_figures(
        figures(acc, "2026-01-31", policy),
        status="in_grace",
        dpd=30,
        bucket_cn="M0",
        bucket_us="30",
    )
    # DPD 36: overdue → M2 (31–60).
    assert_figures(figures(acc, "2026-02-06", policy), status="overdue", bucket_cn="M2")


def test_bucket_history_has_one_event_per_change_including_the_cure() -> None:
    # Cured on Feb 15: penalty Jan 2 … Feb 15 = 45 days × 1.00 + 1,000.00.
    acc = account(
        item("L-01", "2026-01-01", "1000.00"), payments=(pay("P1", "2026-02-15", "1045.00"),)
    )
    s = state(acc, "2026-03-15")
    assert s.dpd == 0
    history = sorted(s.transitions, key=lambda t: (t.on, t.scheme))
    assert history == [
        BucketTransition(d("2026-01-02"), "cn", "M0", "M1", 1),
        BucketTransition(d("2026-01-31"), "us", "current", "30", 30),
        BucketTransition(d("2026-02-01"), "cn", "M1", "M2", 31),
        BucketTransition(d("2026-02-15"), "cn", "M2", "M0", 0),
        BucketTransition(d("2026-02-15"), "us", "30", "current", 0),
    ]


def test_bucket_history_in_grace_stays_m0_until_overdue() -> None:
    acc = account(item("L-01", "2026-03-10", "1000.00"))
    s = state(acc, "2026-03-20", loan_policy(grace_days=3))
    # DPD 1–3 are in grace (M0); Mar 14 (DPD 4) is the first overdue day.
    assert list(s.transitions) == [BucketTransition(d("2026-03-14"), "cn", "M0", "M1", 4)]
