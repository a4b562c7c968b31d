"""The reference side of the batch's differential tests: the per-account engine on raw rows."""

from __future__ import annotations

from collections import defaultdict
from datetime import date
from typing import Any

from overdue.config.policies import build_policy, load_preset
from overdue.domain.engine import (
    Account,
    AccountState,
    DueItem,
    Payment,
    Reversal,
    Waiver,
    account_state,
)
from overdue.domain.money import from_fen, to_fen
from overdue.domain.policy import Product
from overdue.portfolio.kernel import CONTRACT_FIELDS


def reference_states(rows: dict[str, list[dict[str, Any]]], as_of: date) -> dict[str, AccountState]:
    """Each opened account's state at ``as_of`` from the events booked on or before ``as_of``."""
    known: dict[str, dict[str, list[dict[str, Any]]]] = defaultdict(lambda: defaultdict(list))
    for table in ("due_items", "payments", "waivers", "reversals"):
        for row in sorted(rows.get(table, []), key=lambda r: r["entry_seq"]):
            if row["entry_date"] <= as_of:
                known[row["account_id"]][table].append(row)
    states = {}
    for acc in rows["accounts"]:
        if acc["opened_on"] > as_of:
            continue
        ev = known[acc["account_id"]]
        account = Account(
            account_id=acc["account_id"],
            product=Product(acc["product"]),
            items=tuple(
                DueItem(
                    r["item_id"],
                    r["due_date"],
                    from_fen(r["principal_fen"]),
                    from_fen(r["interest_fen"]),
                    from_fen(r["fee_fen"]),
                    None if r["minimum_fen"] is None else from_fen(r["minimum_fen"]),
                )
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
            reversals=tuple(Reversal(r["payment_id"], r["value_date"]) for r in ev["reversals"]),
        )
        policy = build_policy(account.product, load_preset(acc["policy"]))
        states[acc["account_id"]] = account_state(account, policy, as_of)
    return states


def contract_row(state: AccountState) -> dict[str, Any]:
    """The reference state in the snapshot's form (amounts in fen)."""
    out: dict[str, Any] = {}
    for name, _ in CONTRACT_FIELDS:
        value = getattr(state, name.removesuffix("_fen"))
        out[name] = to_fen(value) if name.endswith("_fen") else value
    return out
