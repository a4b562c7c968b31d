"""Snapshot histories for the monitoring tests, and tests that they look like the batch's own.

- ``write_snapshot`` writes one hand-made snapshot in the exact ``SNAPSHOT_SCHEMA`` (defaults for
  every field a test does not care about);
- ``write_history_from_book`` runs the end-of-day kernel (rebuild path) for each date of a random
  book and writes the snapshots directly: the same rows as ``run_eod`` at a fraction of the cost
  (a test below checks that on one date);
- ``hand_history`` is the six-account, three-date history the hand-computed tests use.
"""

from __future__ import annotations

import json
from collections import defaultdict
from datetime import date
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from book_factory import random_book, write_book

from overdue.config.policies import build_policy, load_preset
from overdue.domain.policy import Product
from overdue.portfolio import contract
from overdue.portfolio.engines import SnapshotPart
from overdue.portfolio.engines import write_snapshot as write_snapshot_parts
from overdue.portfolio.eod import SNAPSHOT_FORMAT, read_snapshot, run_eod, snapshot_path
from overdue.portfolio.eod_inputs import ITEM_FIELDS, PAYMENT_FIELDS, REVERSAL_FIELDS, WAIVER_FIELDS
from overdue.portfolio.kernel import ITEM_STATE_TYPE, SNAPSHOT_SCHEMA, KernelConfig, run_batch

POLICY = {"installment": "jiebei-like", "revolving": "huabei-like"}


def item(
    item_id: str,
    due: date,
    principal: int,
    *,
    interest: int = 0,
    fee: int = 0,
    unpaid: int | None = None,
    unpaid_interest: int | None = None,
    unpaid_penalty: int = 0,
    penalty_days: int = 0,
    closed_by_minimum: bool = False,
) -> dict[str, Any]:
    """An item state; unpaid principal and interest default to the whole amount."""
    unpaid_p = principal if unpaid is None else unpaid
    unpaid_i = (interest if unpaid_p else 0) if unpaid_interest is None else unpaid_interest
    row = {name: 0 for name in ITEM_STATE_TYPE.names}
    row.update(
        item_id=item_id,
        due_date=due,
        seq=0,
        principal_fen=principal,
        interest_fen=interest,
        fee_fen=fee,
        minimum_fen=None,
        unpaid_principal_fen=unpaid_p,
        unpaid_interest_fen=unpaid_i,
        unpaid_fee_fen=fee if unpaid_p else 0,
        unpaid_penalty_fen=unpaid_penalty,
        penalty_days=penalty_days,
        closed_by_minimum=closed_by_minimum,
    )
    return row


def account(
    account_id: str,
    as_of: date,
    *,
    product: str = "installment",
    status: str = "current",
    dpd: int = 0,
    bucket_cn: str = "M0",
    bucket_us: str = "current",
    max_dpd: int | None = None,
    total_overdue: int = 0,
    charged_off_on: date | None = None,
    recovered: int = 0,
    items: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """A snapshot row; fields a test does not name get neutral values."""
    row: dict[str, Any] = {name: None for name in SNAPSHOT_SCHEMA.names}
    for name, dtype in zip(SNAPSHOT_SCHEMA.names, SNAPSHOT_SCHEMA.types, strict=True):
        if pa.types.is_integer(dtype):
            row[name] = 0
    row.update(
        account_id=account_id,
        customer_id=f"C-{account_id}",
        product=product,
        policy=POLICY[product],
        as_of=as_of,
        status=status,
        dpd=dpd,
        bucket_cn=bucket_cn,
        bucket_us=bucket_us,
        max_dpd=dpd if max_dpd is None else max_dpd,
        total_overdue_fen=total_overdue,
        charged_off_on=charged_off_on,
        recovered_after_charge_off_fen=recovered,
        items=items or [],
        transitions=[],
    )
    return row


def write_manifest(snapshot_dir: Path, as_of: date, accounts: int) -> None:
    manifest = {"format": SNAPSHOT_FORMAT, "as_of": as_of.isoformat(), "accounts": accounts}
    (snapshot_path(snapshot_dir, as_of) / "manifest.json").write_text(json.dumps(manifest))


def write_snapshot(snapshot_dir: Path, as_of: date, rows: list[dict[str, Any]]) -> None:
    """The kernel rows ``rows`` as the snapshot of ``as_of`` (accounts and the items side table,
    by the batch's own writer)."""
    assert all(r["as_of"] == as_of for r in rows)
    batch = pa.RecordBatch.from_pylist(rows, schema=SNAPSHOT_SCHEMA)
    write_snapshot_parts(iter([batch]), SnapshotPart.of(snapshot_path(snapshot_dir, as_of)))
    write_manifest(snapshot_dir, as_of, len(rows))


def write_book_accounts(book: Path, accounts: list[dict[str, Any]]) -> None:
    """accounts.parquet of a book: account_id, product, opened_on, and the amount it needs."""
    book.mkdir(parents=True, exist_ok=True)
    rows = []
    for a in accounts:
        installment = a["product"] == "installment"
        rows.append(
            {
                "account_id": a["account_id"],
                "customer_id": f"C-{a['account_id']}",
                "product": a["product"],
                "policy": POLICY[a["product"]],
                "currency": "CNY",
                "opened_on": a["opened_on"],
                "credit_limit_fen": None if installment else a["amount"],
                "principal_fen": a["amount"] if installment else None,
                "term_months": 6 if installment else None,
                "repayment_method": "equal_principal" if installment else None,
                "annual_rate": "0.146" if installment else None,
            }
        )
    schema = contract.ACCOUNTS.arrow_schema()
    pq.write_table(pa.Table.from_pylist(rows, schema=schema), book / "accounts.parquet")


# -- snapshots of a random book through the kernel ------------------------------------------------


def kernel_rows(rows: dict[str, list[dict[str, Any]]], as_of: date) -> list[dict[str, Any]]:
    """The kernel's rebuild input: every opened account with the events booked by ``as_of``."""
    fields = {
        "due_items": ("items", ITEM_FIELDS),
        "payments": ("payments", PAYMENT_FIELDS),
        "waivers": ("waivers", WAIVER_FIELDS),
        "reversals": ("reversals", REVERSAL_FIELDS),
    }
    events: dict[str, dict[str, list[dict[str, Any]]]] = defaultdict(lambda: defaultdict(list))
    for table, (name, keep) in fields.items():
        for row in rows.get(table, []):
            if row["entry_date"] <= as_of:
                events[row["account_id"]][name].append({k: row[k] for k in keep})
    out = []
    for acc in rows["accounts"]:
        if acc["opened_on"] > as_of:
            continue
        known = events[acc["account_id"]]
        out.append(
            {
                "account_id": acc["account_id"],
                "customer_id": acc["customer_id"],
                "product": acc["product"],
                "policy": acc["policy"],
                **{name: known.get(name) or None for name, _ in fields.values()},
            }
        )
    return out


def write_history_from_book(
    rows: dict[str, list[dict[str, Any]]], snapshot_dir: Path, dates: list[date]
) -> None:
    policies = {
        (name, product): build_policy(Product(product), load_preset(name))
        for product, name in POLICY.items()
    }
    for as_of in dates:
        config = KernelConfig(as_of=as_of, previous=None, policies=policies)
        batch = run_batch(pa.RecordBatch.from_pylist(kernel_rows(rows, as_of)), config)
        write_snapshot_parts(iter([batch]), SnapshotPart.of(snapshot_path(snapshot_dir, as_of)))
        write_manifest(snapshot_dir, as_of, batch.num_rows)


# -- the hand-made history ------------------------------------------------------------------------

D0, D1, D2 = date(2025, 1, 31), date(2025, 2, 28), date(2025, 3, 31)
MID = date(2025, 2, 15)  # a mid-month snapshot: used by --period day, skipped by --period month


def hand_rows() -> dict[date, list[dict[str, Any]]]:
    """Six accounts over 2025-01-31, 2025-02-28, 2025-03-31 (plus 2025-02-15, all current).

    A  installment, I1 (due 02-10) and I2 (due 03-10) unpaid: M0 -> M1 (18 DPD) -> M2 (49 DPD).
    B  installment, J1 paid on time, J2 (due 03-05) paid 2 days late, J3 owes nothing: settled.
    C  revolving, K0 (due 01-11) unpaid until paid on 03-15; K1 (due 03-10) closed by its minimum.
    D  installment charged off on 2025-01-21 (M5 -> M6 -> M7), recovers 1000 fen in February.
    E  installment booked in February: E1 (due 03-20) unpaid, E2 (due 03-31) due on the last day.
    F  installment at 100 DPD, charged off on 2025-02-20 (M4 -> M5 -> M6).
    """
    i1 = date(2025, 2, 10)
    i2 = date(2025, 3, 10)
    d_due, f_due = date(2024, 9, 23), date(2024, 10, 23)
    co_d, co_f = date(2025, 1, 21), date(2025, 2, 20)
    return {
        D0: [
            account("A", D0, items=[item("I1", i1, 1000, interest=50), item("I2", i2, 1000, interest=50)]),
            account("B", D0, items=[item("J1", date(2025, 2, 5), 1500, interest=75),
                                    item("J2", date(2025, 3, 5), 1500, interest=75)]),
            account("C", D0, product="revolving", status="overdue", dpd=20, bucket_cn="M1",
                    total_overdue=4040, items=[item("K0", date(2025, 1, 11), 4000, penalty_days=20,
                                                    unpaid_penalty=40)]),
            account("D", D0, status="charged_off", dpd=130, bucket_cn="M5", bucket_us="120",
                    total_overdue=5600, charged_off_on=co_d,
                    items=[item("L0", d_due, 5000, unpaid_penalty=600, penalty_days=120)]),
            account("F", D0, status="overdue", dpd=100, bucket_cn="M4", bucket_us="90",
                    total_overdue=880,
                    items=[item("F0", f_due, 800, unpaid_penalty=80, penalty_days=100)]),
        ],
        D1: [
            account("A", D1, status="overdue", dpd=18, bucket_cn="M1", total_overdue=1059,
                    items=[item("I1", i1, 1000, interest=50, penalty_days=18, unpaid_penalty=9),
                           item("I2", i2, 1000, interest=50)]),
            account("B", D1, items=[item("J1", date(2025, 2, 5), 1500, interest=75, unpaid=0),
                                    item("J2", date(2025, 3, 5), 1500, interest=75)]),
            account("C", D1, product="revolving", status="overdue", dpd=48, bucket_cn="M2",
                    bucket_us="30", total_overdue=4096,
                    items=[item("K0", date(2025, 1, 11), 4000, penalty_days=48, unpaid_penalty=96)]),
            account("D", D1, status="charged_off", dpd=158, bucket_cn="M6", bucket_us="150",
                    total_overdue=4600, charged_off_on=co_d, recovered=1000,
                    items=[item("L0", d_due, 5000, unpaid=4600, penalty_days=120)]),
            account("E", D1, items=[item("E1", date(2025, 3, 20), 2000, interest=100)]),
            account("F", D1, status="charged_off", dpd=128, bucket_cn="M5", bucket_us="120",
                    total_overdue=896, charged_off_on=co_f,
                    items=[item("F0", f_due, 800, unpaid_penalty=96, penalty_days=120)]),
        ],
        D2: [
            account("A", D2, status="overdue", dpd=49, bucket_cn="M2", bucket_us="30",
                    total_overdue=2050,
                    items=[item("I1", i1, 1000, interest=50, penalty_days=49, unpaid_penalty=25),
                           item("I2", i2, 1000, interest=50, penalty_days=21, unpaid_penalty=10)]),
            account("B", D2, status="settled", max_dpd=2,
                    items=[item("J1", date(2025, 2, 5), 1500, interest=75, unpaid=0),
                           item("J2", date(2025, 3, 5), 1500, interest=75, unpaid=0,
                                penalty_days=2),
                           item("J3", date(2025, 3, 20), 0)]),
            account("C", D2, product="revolving", max_dpd=63,
                    items=[item("K0", date(2025, 1, 11), 4000, unpaid=0, penalty_days=63),
                           item("K1", date(2025, 3, 10), 500, unpaid=0, closed_by_minimum=True)]),
            account("D", D2, status="charged_off", dpd=189, bucket_cn="M7", bucket_us="180+",
                    total_overdue=4600, charged_off_on=co_d, recovered=1000,
                    items=[item("L0", d_due, 5000, unpaid=4600, penalty_days=120)]),
            account("E", D2, status="overdue", dpd=11, bucket_cn="M1", total_overdue=2111,
                    items=[item("E1", date(2025, 3, 20), 2000, interest=100, penalty_days=11,
                                unpaid_penalty=11),
                           item("E2", D2, 700)]),
            account("F", D2, status="charged_off", dpd=159, bucket_cn="M6", bucket_us="150",
                    total_overdue=896, charged_off_on=co_f,
                    items=[item("F0", f_due, 800, unpaid_penalty=96, penalty_days=120)]),
        ],
    }  # fmt: skip


def hand_history(snapshot_dir: Path, *, with_mid: bool = False) -> dict[date, list[dict[str, Any]]]:
    """Write the hand-made history (optionally with the mid-month snapshot); return its rows."""
    rows = hand_rows()
    if with_mid:
        rows[MID] = [account(a, MID) for a in ("A", "B", "C", "D", "F")]
    for day, day_rows in rows.items():
        write_snapshot(snapshot_dir, day, day_rows)
    return rows


# -- tests of the helpers -------------------------------------------------------------------------


def test_hand_made_snapshots_have_the_batch_schema(tmp_path: Path) -> None:
    hand_history(tmp_path)
    table = read_snapshot(tmp_path, D1)
    assert table.schema == SNAPSHOT_SCHEMA
    assert table["account_id"].to_pylist() == ["A", "B", "C", "D", "E", "F"]


@pytest.mark.slow  # run_eod pays its engine's start-up
def test_kernel_writer_equals_run_eod(tmp_path: Path) -> None:
    rows = random_book(11, accounts=12, days=90)
    book = write_book(rows, tmp_path / "book")
    day = date(2025, 3, 1)
    run_eod(book, day, tmp_path / "eod")
    write_history_from_book(rows, tmp_path / "kernel", [day])
    expected = read_snapshot(tmp_path / "eod", day).drop(["transitions"])
    got = read_snapshot(tmp_path / "kernel", day).drop(["transitions"])
    assert got.equals(expected)
