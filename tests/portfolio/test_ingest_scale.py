"""One million payments: validation is columnar, so this takes seconds, not minutes."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pa_csv
import pytest

from overdue.portfolio.ingest import ingest

PAYMENTS = 1_000_000
ACCOUNTS = 20_000


def _text(values: np.ndarray) -> pa.Array:
    return pa.array(values.astype(str))


@pytest.mark.slow
def test_one_million_payments(tmp_path: Path) -> None:
    rng = np.random.default_rng(7)
    src = tmp_path / "src"
    src.mkdir()
    ids = np.char.add("A", np.arange(ACCOUNTS).astype(str))
    customers = np.char.add("C", np.arange(ACCOUNTS).astype(str))
    options = pa_csv.WriteOptions(quoting_style="none")
    pa_csv.write_csv(
        pa.table({
            "customer_id": customers, "language": np.full(ACCOUNTS, "zh-CN"),
            "time_zone": np.full(ACCOUNTS, "Asia/Shanghai"),
        }),
        src / "customers.csv", options,
    )  # fmt: skip
    pa_csv.write_csv(
        pa.table({
            "account_id": ids, "customer_id": customers,
            "product": np.full(ACCOUNTS, "revolving"), "policy": np.full(ACCOUNTS, "huabei-like"),
            "currency": np.full(ACCOUNTS, "CNY"), "opened_on": np.full(ACCOUNTS, "2024-01-01"),
            "credit_limit_fen": np.full(ACCOUNTS, 1_000_000),
        }),
        src / "accounts.csv", options,
    )  # fmt: skip
    (src / "due_items.csv").write_text(
        "item_id,account_id,due_date,principal_fen,interest_fen,fee_fen,entry_date,entry_seq\n",
        encoding="utf-8",
    )
    value = np.datetime64("2024-01-01") + rng.integers(0, 730, PAYMENTS)
    entry = value + rng.integers(0, 3, PAYMENTS)
    amount = rng.integers(1, 10**7, PAYMENTS)
    bad = rng.random(PAYMENTS) < 0.01
    amount[bad] = -amount[bad]
    payment_ids = np.arange(PAYMENTS)
    repeat = rng.random(PAYMENTS) < 0.01
    repeat[0] = False
    repeat &= ~np.roll(repeat, 1)  # never two repeats in a row
    payment_ids[repeat] = payment_ids[np.flatnonzero(repeat) - 1]  # same id as the row before
    # A repeat is a duplicate when both it and the row before are good; when the row before is
    # bad, the repeat is the first valid row of its id and is accepted.
    duplicates = int((repeat & ~bad & ~np.roll(bad, 1)).sum())
    pa_csv.write_csv(
        pa.table({
            "payment_id": _text(np.char.add("P", payment_ids.astype(str))),
            "account_id": _text(ids[rng.integers(0, ACCOUNTS, PAYMENTS)]),
            "value_date": _text(value), "entry_date": _text(entry),
            "amount_fen": amount, "entry_seq": np.arange(PAYMENTS),
        }),
        src / "payments.csv", options,
    )  # fmt: skip

    started = time.perf_counter()
    report = ingest(src, tmp_path / "book")
    seconds = time.perf_counter() - started
    payments = report.tables["payments"]
    counts = {k: v for k, v in payments.to_json().items() if k != "examples"}
    print(f"\ningest of {PAYMENTS:,} payments: {seconds:.1f} s {counts}")
    assert payments.rows_read == PAYMENTS
    assert payments.rejected == int(bad.sum())
    assert payments.duplicates == duplicates
    assert payments.accepted == PAYMENTS - payments.rejected - duplicates
