"""The end-of-day kernel: one account's nested input row in, one snapshot row out.

The kernel runs the per-account reference engine (``overdue.domain.engine``) itself, so the batch
cannot drift from the definition of overdue; what this module adds is the columnar plumbing
(integer fen ↔ ``Decimal``), resuming a ledger from the previous snapshot, and the output schema.
It is applied per Arrow record batch, the same function on DuckDB and inside Spark's
``mapInArrow``.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pyarrow as pa

from overdue.domain.buckets import BucketTransition
from overdue.domain.engine import (
    Account,
    AccountLedger,
    DueItem,
    ItemLedger,
    Payment,
    Waiver,
    ledger_state,
    new_item_ledger,
)
from overdue.domain.money import from_fen, to_fen
from overdue.domain.policy import Component, Policy, Product
from overdue.portfolio.item_summary import SUMMARY_FIELDS

MAX_ITEMS_PER_ACCOUNT = 10_000
MAX_EVENTS_PER_ACCOUNT = 100_000

ITEM_STATE_TYPE = pa.struct(
    [
        ("item_id", pa.string()),
        ("due_date", pa.date32()),
        ("seq", pa.int64()),
        ("principal_fen", pa.int64()),
        ("interest_fen", pa.int64()),
        ("fee_fen", pa.int64()),
        ("minimum_fen", pa.int64()),
        ("unpaid_principal_fen", pa.int64()),
        ("unpaid_interest_fen", pa.int64()),
        ("unpaid_fee_fen", pa.int64()),
        ("unpaid_penalty_fen", pa.int64()),
        ("provisional_penalty_fen", pa.int64()),
        ("penalty_accrued_fen", pa.int64()),
        ("penalty_days", pa.int32()),
        ("paid_fen", pa.int64()),
        ("waived_fen", pa.int64()),
        ("late_fee_charged_fen", pa.int64()),
        ("closed_by_minimum", pa.bool_()),
        ("revolved_fen", pa.int64()),
    ]
)

TRANSITION_TYPE = pa.struct(
    [
        ("on", pa.date32()),
        ("scheme", pa.string()),
        ("from_bucket", pa.string()),
        ("to_bucket", pa.string()),
        ("dpd", pa.int32()),
    ]
)

# The account-state contract's fields, amounts in fen (the snapshot's public part).
CONTRACT_FIELDS: tuple[tuple[str, pa.DataType], ...] = (
    ("status", pa.string()),
    ("dpd", pa.int32()),
    ("bucket_cn", pa.string()),
    ("bucket_us", pa.string()),
    ("oldest_past_due_date", pa.date32()),
    ("overdue_principal_fen", pa.int64()),
    ("overdue_interest_fen", pa.int64()),
    ("overdue_fee_fen", pa.int64()),
    ("penalty_outstanding_fen", pa.int64()),
    ("total_overdue_fen", pa.int64()),
    ("penalty_accrued_fen", pa.int64()),
    ("credit_balance_fen", pa.int64()),
    ("revolved_amount_fen", pa.int64()),
    ("paid_total_fen", pa.int64()),
    ("waived_total_fen", pa.int64()),
    ("delinquent_since", pa.date32()),
    ("max_dpd", pa.int32()),
    ("charged_off_on", pa.date32()),
    ("recovered_after_charge_off_fen", pa.int64()),
)

# The kernel's output row: one account's state with its item ledgers nested in ``items``. This is
# also what ``eod.read_snapshot`` gives back; on disk the items are a flat side table.
SNAPSHOT_SCHEMA = pa.schema(
    [
        ("account_id", pa.string()),
        ("customer_id", pa.string()),
        ("product", pa.string()),
        ("policy", pa.string()),
        ("as_of", pa.date32()),
        *CONTRACT_FIELDS,
        ("run_start", pa.date32()),
        ("items", pa.list_(ITEM_STATE_TYPE)),
        ("transitions", pa.list_(TRANSITION_TYPE)),
    ]
)
# The account columns of every snapshot format: the kernel's row without its lists (``items``
# are in ``items/``, ``transitions`` in ``transitions/``; format 2 also kept ``transitions``
# here). What the incremental run resumes from.
ACCOUNT_BASE_SCHEMA = pa.schema(
    [f for f in SNAPSHOT_SCHEMA if f.name not in ("items", "transitions")]
)
# A snapshot's ``accounts/`` files (format 3): those, then the as-of summary of the account's
# item ledgers (``item_summary.SUMMARY_FIELDS``).
ACCOUNT_STATE_SCHEMA = pa.schema([*ACCOUNT_BASE_SCHEMA, *SUMMARY_FIELDS])
# A snapshot's ``items/`` files: one row per item ledger (no repetition levels to write or read),
# in the kernel's order (by account, then the ledger's own order).
ITEM_ROW_SCHEMA = pa.schema(
    [
        ("account_id", pa.string()),
        ("as_of", pa.date32()),
        *[(f.name, f.type) for f in ITEM_STATE_TYPE],
    ]
)


@dataclass(frozen=True)
class KernelConfig:
    """What every kernel call needs besides the rows: the date, the window and the policies.

    ``previous`` is the date of the snapshot being resumed (None for a rebuild); only the
    transitions after it are reported. ``policies`` maps (policy name, product) to a policy.
    """

    as_of: date
    previous: date | None
    policies: Mapping[tuple[str, str], Policy]


def run_batch(batch: pa.RecordBatch, config: KernelConfig) -> pa.RecordBatch:
    """Apply the kernel to every account row of ``batch``; rows come out sorted by account."""
    rows = [run_account(row, config) for row in batch.to_pylist()]
    rows.sort(key=lambda r: r["account_id"])
    return pa.RecordBatch.from_pylist(rows, schema=SNAPSHOT_SCHEMA)


KERNEL_ENV = "OVERDUE_KERNEL"  # "fast" (the default: compiled) or "python" (the reference)


def batch_kernel() -> Callable[[pa.RecordBatch, KernelConfig], pa.RecordBatch]:
    """The batch function ``OVERDUE_KERNEL`` selects: the compiled kernel unless "python".

    Both give identical rows (``tests/portfolio/test_fast_kernel.py``); the Python one is the
    oracle. Read where the batches run, so Spark executors follow their own environment.
    """
    choice = os.environ.get(KERNEL_ENV, "fast").strip().lower() or "fast"
    if choice == "python":
        return run_batch
    if choice != "fast":
        raise ValueError(f"{KERNEL_ENV}={choice!r}: must be fast or python")
    from overdue.portfolio.fast_kernel import run_batch_fast  # imports this module

    return run_batch_fast


def run_batches(
    batches: Iterable[pa.RecordBatch], config: KernelConfig
) -> Iterator[pa.RecordBatch]:
    run = batch_kernel()
    for batch in batches:
        if batch.num_rows:
            yield run(batch, config)


def run_account(row: Mapping[str, Any], config: KernelConfig) -> dict[str, Any]:
    """One account: resume its ledger (or start one), run to ``as_of``, read the snapshot row."""
    policy = config.policies[(row["policy"], row["product"])]
    items = sorted(row["items"] or [], key=lambda i: (i["due_date"], i["entry_seq"]))
    payments = sorted(row["payments"] or [], key=lambda p: (p["value_date"], p["entry_seq"]))
    waivers = sorted(row["waivers"] or [], key=lambda w: (w["value_date"], w["entry_seq"]))
    assert len(items) <= MAX_ITEMS_PER_ACCOUNT, f"{row['account_id']}: too many items"
    assert len(payments) + len(waivers) <= MAX_EVENTS_PER_ACCOUNT, (
        f"{row['account_id']}: too many events"
    )
    reversed_ids = {
        r["payment_id"] for r in row.get("reversals") or [] if r["value_date"] <= config.as_of
    }
    if row.get("prev_status") is not None and config.previous is not None:
        ledger = _resume(row, row.get("prev_items") or [], policy)  # no item ledger: no row
        first = config.previous + timedelta(days=1)
    else:
        ledger = AccountLedger(policy=policy, items=[])
        first = None
    ledger.add_items(new_item_ledger(_due_item(i), i["entry_seq"]) for i in items)
    kept = [_payment(p) for p in payments if p["payment_id"] not in reversed_ids]
    kept_waivers = [_waiver(w) for w in waivers]
    if first is None:
        starts = [led.due_date for led in ledger.items] + [p.date for p in kept]
        starts += [w.date for w in kept_waivers]
        first = min(starts, default=None)
    if first is not None and first <= config.as_of:
        ledger.advance(first, config.as_of, kept, kept_waivers)
    else:
        ledger.close_day(config.as_of)
    return _snapshot_row(row, ledger, config)


def _due_item(raw: Mapping[str, Any]) -> DueItem:
    minimum = raw["minimum_fen"]
    return DueItem(
        id=raw["item_id"],
        due_date=raw["due_date"],
        principal=from_fen(raw["principal_fen"]),
        interest=from_fen(raw["interest_fen"]),
        fee=from_fen(raw["fee_fen"]),
        minimum=None if minimum is None else from_fen(minimum),
    )


def _payment(raw: Mapping[str, Any]) -> Payment:
    return Payment(id=raw["payment_id"], date=raw["value_date"], amount=from_fen(raw["amount_fen"]))


def _waiver(raw: Mapping[str, Any]) -> Waiver:
    component: Component = raw["component"]
    return Waiver(
        date=raw["value_date"],
        component=component,
        amount=from_fen(raw["amount_fen"]),
        approver=raw["approver"],
    )


def _resume(
    row: Mapping[str, Any], prev_items: list[dict[str, Any]], policy: Policy
) -> AccountLedger:
    """Rebuild the ledger from the previous snapshot's stored state."""
    ledger = AccountLedger(
        policy=policy,
        items=[],
        credit_balance=from_fen(row["prev_credit_balance_fen"]),
        paid_total=from_fen(row["prev_paid_total_fen"]),
        waived_total=from_fen(row["prev_waived_total_fen"]),
        revolved_amount=from_fen(row["prev_revolved_amount_fen"]),
        recovered_after_charge_off=from_fen(row["prev_recovered_after_charge_off_fen"]),
        dpd=row["prev_dpd"],
        status=row["prev_status"],
        max_dpd=row["prev_max_dpd"],
        run_start=row["prev_run_start"],
        charged_off_on=row["prev_charged_off_on"],
        buckets=(row["prev_bucket_cn"], row["prev_bucket_us"]),
    )
    ledger.add_items(_resume_item(raw) for raw in prev_items)
    return ledger


def _resume_item(raw: Mapping[str, Any]) -> ItemLedger:
    item = _due_item(raw)  # a stored item state carries the item's own fields too
    unpaid: dict[Component, Decimal] = {
        "fee": from_fen(raw["unpaid_fee_fen"]),
        "penalty": from_fen(raw["unpaid_penalty_fen"]),
        "interest": from_fen(raw["unpaid_interest_fen"]),
        "principal": from_fen(raw["unpaid_principal_fen"]),
    }
    return ItemLedger(
        item=item,
        seq=raw["seq"],
        unpaid=unpaid,
        provisional_penalty=from_fen(raw["provisional_penalty_fen"]),
        penalty_accrued=from_fen(raw["penalty_accrued_fen"]),
        penalty_days=raw["penalty_days"],
        paid=from_fen(raw["paid_fen"]),
        waived=from_fen(raw["waived_fen"]),
        late_fee_charged=from_fen(raw["late_fee_charged_fen"]),
        closed_by_minimum=raw["closed_by_minimum"],
        revolved=from_fen(raw["revolved_fen"]),
    )


def _snapshot_row(
    row: Mapping[str, Any], ledger: AccountLedger, config: KernelConfig
) -> dict[str, Any]:
    state = ledger_state(row["account_id"], ledger, config.as_of)
    out: dict[str, Any] = {
        "account_id": row["account_id"],
        "customer_id": row["customer_id"],
        "product": row["product"],
        "policy": row["policy"],
        "as_of": config.as_of,
    }
    for name, _ in CONTRACT_FIELDS:
        key = name.removesuffix("_fen")
        value = getattr(state, key)
        out[name] = to_fen(value) if name.endswith("_fen") else value
    out["run_start"] = ledger.run_start
    out["items"] = [_item_row(led) for led in ledger.items]
    out["transitions"] = [
        _transition_row(t)
        for t in ledger.transitions
        if config.previous is None or t.on > config.previous
    ]
    return out


def _item_row(led: ItemLedger) -> dict[str, Any]:
    item = led.item
    return {
        "item_id": item.id,
        "due_date": item.due_date,
        "seq": led.seq,
        "principal_fen": to_fen(item.principal),
        "interest_fen": to_fen(item.interest),
        "fee_fen": to_fen(item.fee),
        "minimum_fen": None if item.minimum is None else to_fen(item.minimum),
        "unpaid_principal_fen": to_fen(led.unpaid["principal"]),
        "unpaid_interest_fen": to_fen(led.unpaid["interest"]),
        "unpaid_fee_fen": to_fen(led.unpaid["fee"]),
        "unpaid_penalty_fen": to_fen(led.unpaid["penalty"]),
        "provisional_penalty_fen": to_fen(led.provisional_penalty),
        "penalty_accrued_fen": to_fen(led.penalty_accrued),
        "penalty_days": led.penalty_days,
        "paid_fen": to_fen(led.paid),
        "waived_fen": to_fen(led.waived),
        "late_fee_charged_fen": to_fen(led.late_fee_charged),
        "closed_by_minimum": led.closed_by_minimum,
        "revolved_fen": to_fen(led.revolved),
    }


def _transition_row(t: BucketTransition) -> dict[str, Any]:
    return {
        "on": t.on,
        "scheme": t.scheme,
        "from_bucket": t.from_bucket,
        "to_bucket": t.to_bucket,
        "dpd": t.dpd,
    }


def reference_account(row: Mapping[str, Any]) -> Account:
    """The account a rebuild row describes, for the reference engine (differential tests)."""
    items = sorted(row["items"] or [], key=lambda i: i["entry_seq"])
    payments = sorted(row["payments"] or [], key=lambda p: p["entry_seq"])
    waivers = sorted(row["waivers"] or [], key=lambda w: w["entry_seq"])
    from overdue.domain.engine import Reversal

    return Account(
        account_id=row["account_id"],
        product=Product(row["product"]),
        items=tuple(_due_item(i) for i in items),
        payments=tuple(_payment(p) for p in payments),
        waivers=tuple(_waiver(w) for w in waivers),
        reversals=tuple(
            Reversal(r["payment_id"], r["value_date"]) for r in row.get("reversals") or []
        ),
    )
