"""Small random books in the data-contract layout, for the end-of-day batch's tests."""

from __future__ import annotations

import json
import random
from collections import defaultdict
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from overdue.portfolio import contract
from overdue.portfolio.book_layout import ACCOUNT_NO, keyed_file_schema

START = date(2025, 1, 1)


def random_book(seed: int, accounts: int = 30, days: int = 200) -> dict[str, list[dict[str, Any]]]:
    """A random book: items, payments (some backdated), waivers, reversals, both products."""
    rng = random.Random(seed)
    rows: dict[str, list[dict[str, Any]]] = defaultdict(list)
    seq = 0

    def next_seq() -> int:
        nonlocal seq
        seq += 1
        return seq

    for a in range(accounts):
        product = rng.choice(["revolving", "installment"])
        account_id = f"A{a:04d}"
        opened = START + timedelta(days=rng.randint(0, days // 3))
        rows["customers"].append(
            {
                "customer_id": f"C{a:04d}",
                "language": "zh-CN",
                "time_zone": "Asia/Shanghai",
                "region": None,
                "segment": None,
            }
        )
        rows["accounts"].append(
            {
                "account_id": account_id,
                "customer_id": f"C{a:04d}",
                "product": product,
                "policy": "huabei-like" if product == "revolving" else "jiebei-like",
                "currency": "CNY",
                "opened_on": opened,
                "credit_limit_fen": 1_000_000 if product == "revolving" else None,
                "principal_fen": None if product == "revolving" else 600_000,
                "term_months": None if product == "revolving" else 6,
                "repayment_method": None if product == "revolving" else "equal_principal",
                "annual_rate": None if product == "revolving" else "0.146",
            }
        )
        item_ids = []
        for k in range(rng.randint(1, 5)):
            due = opened + timedelta(days=10 + 30 * k + rng.randint(0, 3))
            entry = max(opened, due - timedelta(days=rng.choice([0, 9, 25])))
            principal = rng.randint(0, 300_000)
            item_ids.append(f"{account_id}-I{k}")
            rows["due_items"].append(
                {
                    "item_id": item_ids[-1],
                    "account_id": account_id,
                    "due_date": due,
                    "principal_fen": principal,
                    "interest_fen": rng.randint(0, 5_000),
                    "fee_fen": rng.choice([0, 0, 500]),
                    "minimum_fen": principal // 10 if product == "revolving" else None,
                    "entry_date": entry,
                    "entry_seq": next_seq(),
                }
            )
        payment_ids = []
        for k in range(rng.randint(0, 6)):
            value = opened + timedelta(days=rng.randint(0, days))
            entry = value + timedelta(days=rng.choice([0, 0, 0, 1, 3]))
            payment_ids.append((f"{account_id}-P{k}", value, entry))
            rows["payments"].append(
                {
                    "payment_id": payment_ids[-1][0],
                    "account_id": account_id,
                    "value_date": value,
                    "entry_date": entry,
                    "amount_fen": rng.randint(1, 200_000),
                    "entry_seq": next_seq(),
                }
            )
        if rng.random() < 0.3:
            value = opened + timedelta(days=rng.randint(20, days))
            rows["waivers"].append(
                {
                    "waiver_id": f"{account_id}-W0",
                    "account_id": account_id,
                    "value_date": value,
                    "entry_date": value + timedelta(days=rng.choice([0, 2])),
                    "component": rng.choice(["penalty", "fee", "interest", "principal"]),
                    "amount_fen": rng.randint(1, 50_000),
                    "approver": "lead",
                    "entry_seq": next_seq(),
                }
            )
        if payment_ids and rng.random() < 0.2:
            pid, value, entry = payment_ids[0]
            rev_entry = entry + timedelta(days=rng.randint(0, 5))
            rows["reversals"].append(
                {
                    "reversal_id": f"{pid}-R",
                    "payment_id": pid,
                    "account_id": account_id,
                    "value_date": rev_entry,
                    "entry_date": rev_entry,
                    "entry_seq": next_seq(),
                }
            )
    return rows


def write_book(
    rows: dict[str, list[dict[str, Any]]], data_dir: Path, keyed: str = "no"
) -> Path:
    """Write ``rows`` in the contract layout: two plain tables, event tables by entry date.

    ``keyed``: "no" (no manifest), "yes" (every event file holds ``account_no``, the row of its
    account, and the manifest says so, as the book's own writers do) or "partial" (as "yes" but
    the second day's payment file lacks the column, as if another writer had added it).
    """
    assert keyed in ("no", "yes", "partial")
    data_dir.mkdir(parents=True, exist_ok=True)
    account_row = {a["account_id"]: row for row, a in enumerate(rows["accounts"])}
    for name in ("customers", "accounts"):
        spec = contract.TABLES[name]
        pq.write_table(
            pa.Table.from_pylist(rows[name], schema=spec.arrow_schema()),
            data_dir / f"{name}.parquet",
        )
    for name in ("due_items", "payments", "waivers", "reversals"):
        spec = contract.TABLES[name]
        by_day: dict[date, list[dict[str, Any]]] = defaultdict(list)
        for row in rows.get(name, []):
            by_day[row["entry_date"]].append({k: v for k, v in row.items() if k != "entry_date"})
        second_day = sorted(by_day)[1] if len(by_day) > 1 else None
        for day, day_rows in by_day.items():
            folder = data_dir / name / f"entry_date={day.isoformat()}"
            folder.mkdir(parents=True, exist_ok=True)
            table = pa.Table.from_pylist(day_rows, schema=spec.file_schema())
            unkeyed = keyed == "partial" and name == "payments" and day == second_day
            if keyed != "no" and not unkeyed:
                rows_of = [account_row[r["account_id"]] for r in day_rows]
                table = table.append_column(
                    keyed_file_schema(spec).field(ACCOUNT_NO), pa.array(rows_of, pa.int64())
                )
            pq.write_table(table, folder / "part-0.parquet")
    if keyed != "no":
        (data_dir / "manifest.json").write_text(json.dumps({ACCOUNT_NO: True}), encoding="utf-8")
    return data_dir
