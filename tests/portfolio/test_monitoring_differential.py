"""Entry rate and FPD from snapshots equal the engine's own definition, on random books.

The snapshot rules (penalty days and openness of an item in the last snapshot T) are checked
against the per-account engine run to the very day that decides: an item entered overdue when it
was open at the end of its due date + grace (0 days in the presets), and the first item is FPD-X
when it was open at the end of due + X — both with every event booked by T (``as history reads at
T``: reversed payments never happened).
"""

from __future__ import annotations

import itertools
from collections import defaultdict
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from book_factory import random_book
from test_monitoring_support import write_book_accounts, write_history_from_book

from overdue.config.policies import build_policy, load_preset
from overdue.domain.engine import Account, AccountState, DueItem, Payment, Waiver, account_state
from overdue.domain.money import from_fen
from overdue.domain.policy import Product
from overdue.portfolio.monitoring import monitor

MONTH_ENDS = [date(2025, m, d) for m, d in ((1, 31), (2, 28), (3, 31), (4, 30), (5, 31))]
FPD_DAYS = 30


def known_accounts(rows: dict[str, list[dict[str, Any]]], last: date) -> dict[str, Account]:
    """Each account opened by ``last`` with the events booked by then, reversed payments removed."""
    events = ("due_items", "payments", "waivers", "reversals")
    booked = {t: [r for r in rows.get(t, []) if r["entry_date"] <= last] for t in events}
    reversed_ids = {r["payment_id"] for r in booked.get("reversals", []) if r["value_date"] <= last}
    by_account: dict[str, dict[str, list[dict[str, Any]]]] = defaultdict(lambda: defaultdict(list))
    for table in ("due_items", "payments", "waivers"):
        for r in sorted(booked.get(table, []), key=lambda r: r["entry_seq"]):
            if table == "payments" and r["payment_id"] in reversed_ids:
                continue
            by_account[r["account_id"]][table].append(r)
    out = {}
    for acc in rows["accounts"]:
        if acc["opened_on"] > last:
            continue
        ev = by_account[acc["account_id"]]
        out[acc["account_id"]] = Account(
            account_id=acc["account_id"],
            product=Product(acc["product"]),
            items=tuple(
                DueItem(r["item_id"], r["due_date"], from_fen(r["principal_fen"]),
                        from_fen(r["interest_fen"]), from_fen(r["fee_fen"]),
                        None if r["minimum_fen"] is None else from_fen(r["minimum_fen"]))
                for r in ev["due_items"]
            ),
            payments=tuple(
                Payment(r["payment_id"], r["value_date"], from_fen(r["amount_fen"]))
                for r in ev["payments"]
            ),
            waivers=tuple(
                Waiver(r["value_date"], r["component"], from_fen(r["amount_fen"]), r["approver"])
                for r in ev["waivers"]
            ),
        )  # fmt: skip
    return out


def open_at(account: Account, policy_name: str, item_id: str, day: date) -> bool:
    policy = build_policy(account.product, load_preset(policy_name))
    state: AccountState = account_state(account, policy, day)
    return next(i for i in state.items if i.id == item_id).is_open


def due_fen(item: DueItem) -> int:
    return int((item.principal + item.interest + item.fee) * 100)


def expected_entry(rows: dict[str, list[dict[str, Any]]]) -> list[tuple[int, int, int, int, int]]:
    """(items due, entered, amount due, amount entered, pending) per period between month ends."""
    last = MONTH_ENDS[-1]
    policies = {a["account_id"]: a["policy"] for a in rows["accounts"]}
    out = []
    for start, end in itertools.pairwise(MONTH_ENDS):
        due = entered = amount = amount_in = pending = 0
        for account in known_accounts(rows, last).values():
            for item in account.items:
                if not (start < item.due_date <= end) or due_fen(item) == 0:
                    continue
                if item.due_date + timedelta(days=1) > last:  # grace 0: judged the day after
                    pending += 1
                    continue
                due, amount = due + 1, amount + due_fen(item)
                if open_at(account, policies[account.account_id], item.id, item.due_date):
                    entered, amount_in = entered + 1, amount_in + due_fen(item)
        out.append((due, entered, amount, amount_in, pending))
    return out


def expected_fpd(rows: dict[str, list[dict[str, Any]]]) -> dict[str, tuple[int, int, int]]:
    """cohort -> (observable accounts, FPD accounts, pending accounts)."""
    last = MONTH_ENDS[-1]
    book = {a["account_id"]: a for a in rows["accounts"]}
    out: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])
    for account_id, account in known_accounts(rows, last).items():
        firsts = sorted(
            (i for i in account.items if due_fen(i) > 0),
            key=lambda i: (i.due_date, account.items.index(i)),
        )
        if not firsts:
            continue
        first = firsts[0]
        cohort = book[account_id]["opened_on"].strftime("%Y-%m")
        decisive = first.due_date + timedelta(days=FPD_DAYS)
        if decisive > last:
            out[cohort][2] += 1
            continue
        out[cohort][0] += 1
        if open_at(account, book[account_id]["policy"], first.id, decisive):
            out[cohort][1] += 1
    return {k: (v[0], v[1], v[2]) for k, v in out.items()}


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_entry_rate_and_fpd_equal_the_engine(tmp_path: Path, seed: int) -> None:
    rows = random_book(seed, accounts=24, days=120)
    folder = tmp_path / f"s{seed}"
    write_history_from_book(rows, folder / "snapshots", MONTH_ENDS)
    write_book_accounts(
        folder / "book",
        [
            {
                "account_id": a["account_id"],
                "product": a["product"],
                "opened_on": a["opened_on"],
                "amount": a["principal_fen"] or a["credit_limit_fen"],
            }
            for a in rows["accounts"]
        ],
    )
    m = monitor(folder / "snapshots", book=folder / "book", fpd_days=FPD_DAYS)
    got = [
        (e.items_due, e.items_entered, e.amount_due_fen, e.amount_entered_fen, e.items_pending)
        for e in m.entry
    ]
    assert got == expected_entry(rows)
    assert m.vintage is not None
    fpd = {c.cohort: (c.accounts, c.fpd, c.pending) for c in m.vintage.fpd}
    assert fpd == expected_fpd(rows)
