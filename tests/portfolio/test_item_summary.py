"""The item summary the batch writes into each account row (``item_summary.summarise``) equals
a plain per-account computation of its definition, for any item lists (empty ones, unpaid or
paid items, minimums or none, every side of the window edges), and both engines' account rows
carry it (``split_items`` for DuckDB, ``with_summary`` for Spark: the same function)."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st

from overdue.portfolio.item_summary import SUMMARY_FIELDS, WINDOWS_DAYS, summarise
from overdue.portfolio.kernel import ACCOUNT_STATE_SCHEMA, ITEM_STATE_TYPE, SNAPSHOT_SCHEMA
from overdue.portfolio.snapshot_items import SUMMARISED_SCHEMA, split_items, with_summary

DAY = date(2025, 6, 15)
# due dates around every edge: the windows' first days, as_of itself, the days after it
OFFSETS = sorted({0, 1, -1, 2, -2, *[-w for w in WINDOWS_DAYS.values()],
                  *[-w - 1 for w in WINDOWS_DAYS.values()], -400, 30})  # fmt: skip

item = st.fixed_dictionaries({
    "offset": st.sampled_from(OFFSETS),
    "principal_fen": st.integers(0, 5_000),
    "interest_fen": st.integers(0, 500),
    "fee_fen": st.integers(0, 100),
    "minimum_fen": st.none() | st.integers(0, 3_000),
    "paid_fen": st.integers(0, 6_000),
    "unpaid": st.integers(0, 3),  # which unpaid component holds money (3: none)
    "penalty_days": st.integers(0, 3),
})  # fmt: skip


def _item_row(raw: dict[str, Any], k: int) -> dict[str, Any]:
    row: dict[str, Any] = {f.name: 0 for f in ITEM_STATE_TYPE if pa.types.is_integer(f.type)}
    required = raw["principal_fen"] + raw["interest_fen"] + raw["fee_fen"]
    row.update(
        item_id=f"I{k}", due_date=DAY + timedelta(days=raw["offset"]), seq=k,
        principal_fen=raw["principal_fen"], interest_fen=raw["interest_fen"],
        fee_fen=raw["fee_fen"], minimum_fen=raw["minimum_fen"], paid_fen=raw["paid_fen"],
        penalty_days=raw["penalty_days"], closed_by_minimum=False,
    )  # fmt: skip
    parts = ("unpaid_principal_fen", "unpaid_interest_fen", "unpaid_fee_fen")
    if raw["unpaid"] < 3:
        row[parts[raw["unpaid"]]] = required
    return row


def _expected(items: list[dict[str, Any]], as_of: date) -> dict[str, Any]:
    """The definition, one account at a time."""
    def required(i: dict[str, Any]) -> int:
        return int(i["principal_fen"] + i["interest_fen"] + i["fee_fen"])

    def unpaid(i: dict[str, Any]) -> int:
        return int(i["unpaid_principal_fen"] + i["unpaid_interest_fen"] + i["unpaid_fee_fen"])

    past = [i for i in items if i["due_date"] < as_of]
    upcoming = [i["due_date"] for i in items if i["due_date"] > as_of and unpaid(i) > 0]
    next_due = min(upcoming, default=None)
    out: dict[str, Any] = {
        "items_count": len(items),
        "items_past_count": len(past),
        "items_late_count": sum(1 for i in past if i["penalty_days"] > 0),
        "items_past_due_fen": sum(required(i) for i in past),
        "items_past_paid_fen": sum(i["paid_fen"] for i in past),
        "items_unpaid_fen": sum(unpaid(i) for i in items),
        "items_next_due_date": next_due,
        "items_next_due_ask_fen": None if next_due is None else sum(
            max((required(i) if i["minimum_fen"] is None else i["minimum_fen"]) - i["paid_fen"], 0)
            for i in items if i["due_date"] == next_due),
    }  # fmt: skip
    for name, window in WINDOWS_DAYS.items():
        inside = [i for i in past if i["due_date"] >= as_of - timedelta(days=window)]
        out[f"items_late_days_{name}"] = sum(i["penalty_days"] for i in inside)
        if name == "3m":
            out["items_due_3m_fen"] = sum(required(i) for i in inside)
            out["items_paid_3m_fen"] = sum(i["paid_fen"] for i in inside)
    return out


def _kernel_rows(accounts: list[list[dict[str, Any]]], shift: list[int]) -> pa.RecordBatch:
    rows = []
    for a, raws in enumerate(accounts):
        row: dict[str, Any] = {name: None for name in SNAPSHOT_SCHEMA.names}
        row.update(account_id=f"A{a:03d}", as_of=DAY + timedelta(days=shift[a % len(shift)]),
                   items=[_item_row(r, k) for k, r in enumerate(raws)], transitions=[])  # fmt: skip
        rows.append(row)
    return pa.RecordBatch.from_pylist(rows, schema=SNAPSHOT_SCHEMA)


@settings(deadline=None, max_examples=200)
@given(
    accounts=st.lists(st.lists(item, max_size=6), max_size=10),
    shift=st.lists(st.integers(-2, 2), min_size=1, max_size=3),
)
def test_summary_equals_the_definition_account_by_account(accounts, shift) -> None:
    batch = _kernel_rows(accounts, shift)
    got = summarise(batch.column("items"), batch.column("as_of"))
    assert set(got) == {name for name, _ in SUMMARY_FIELDS}
    rows = batch.to_pylist()
    for k, row in enumerate(rows):
        expected = _expected(row["items"], row["as_of"])
        assert {name: got[name][k].as_py() for name in expected} == expected, row["account_id"]
    accounts_part, _ = split_items(batch)
    assert accounts_part.schema == ACCOUNT_STATE_SCHEMA
    wide = with_summary(batch)
    assert wide.schema == SUMMARISED_SCHEMA
    for name, _ in SUMMARY_FIELDS:  # both engines' writers: the same columns
        assert accounts_part.column(name).equals(got[name])
        assert wide.column(name).equals(got[name])


@settings(deadline=None, max_examples=50)
@given(
    accounts=st.lists(st.lists(item, max_size=4), min_size=1, max_size=8),
    cut=st.integers(0, 8),
)
def test_a_slice_of_the_rows_gives_the_slice_of_the_summary(accounts, cut) -> None:
    batch = _kernel_rows(accounts, [0])
    whole = summarise(batch.column("items"), batch.column("as_of"))
    part = batch.slice(min(cut, batch.num_rows))
    sliced = summarise(part.column("items"), part.column("as_of"))
    for name, column in whole.items():
        assert sliced[name].equals(column.slice(min(cut, batch.num_rows))), name
