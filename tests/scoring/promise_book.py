"""A hand-made promises table for a twin book (the twin does not write one): deterministic,
kept and broken promises derived from the book's own payments, and a reference computation of
the promise features in pandas (an independent implementation of the rules)."""

from __future__ import annotations

import shutil
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

PROMISE_FILE_SCHEMA = pa.schema([
    ("promise_id", pa.string()), ("account_id", pa.string()), ("promised_on", pa.date32()),
    ("amount_fen", pa.int64()), ("entry_seq", pa.int64()),
])  # fmt: skip


def _payments(book: Path) -> pd.DataFrame:
    paid = pq.read_table(book / "payments").to_pandas()
    paid["entry_date"] = pd.to_datetime(paid["entry_date"].astype(str)).dt.date
    paid["value_date"] = pd.to_datetime(paid["value_date"]).dt.date
    return paid


def add_promises(book: Path, out: Path) -> Path:
    """A copy of ``book`` with ``promises/`` (entry_date partitions): for every fourth payment
    a promise booked 3 days before it, due 2 days after it; the amount is the payment's (kept)
    or, for every third of them, 50 times it (broken)."""
    shutil.copytree(book, out)
    paid = _payments(book).sort_values("payment_id").reset_index(drop=True).iloc[::4]
    rows = []
    for k, p in enumerate(paid.itertuples()):
        booked = p.value_date - timedelta(days=3)
        amount = int(p.amount_fen) * (50 if k % 3 == 0 else 1)
        rows.append((f"PR{k}", p.account_id, p.value_date + timedelta(days=2), amount, booked, k))
    frame = pd.DataFrame(rows, columns=["promise_id", "account_id", "promised_on", "amount_fen",
                                        "entry_date", "entry_seq"])  # fmt: skip
    for day, part in frame.groupby("entry_date"):
        folder = out / "promises" / f"entry_date={day.isoformat()}"
        folder.mkdir(parents=True)
        table = pa.Table.from_pandas(part.drop(columns="entry_date"), preserve_index=False)
        pq.write_table(table.cast(PROMISE_FILE_SCHEMA), folder / "part-0.parquet")
    return out


def reference_features(book: Path, as_of: date) -> pd.DataFrame:
    """The promise features at ``as_of`` per account with a promise, by plain pandas."""
    promises = pq.read_table(book / "promises").to_pandas()
    promises["entry_date"] = pd.to_datetime(promises["entry_date"].astype(str)).dt.date
    promises["promised_on"] = pd.to_datetime(promises["promised_on"]).dt.date
    promises = promises[promises["entry_date"] <= as_of]
    paid = _payments(book)
    paid = paid[(paid["entry_date"] <= as_of) & (paid["value_date"] <= as_of)]
    if (book / "reversals").is_dir():
        rev = pq.read_table(book / "reversals").to_pandas()
        rev["entry_date"] = pd.to_datetime(rev["entry_date"].astype(str)).dt.date
        paid = paid[~paid["payment_id"].isin(rev.loc[rev["entry_date"] <= as_of, "payment_id"])]
    out = {}
    for account_id, mine in promises.groupby("account_id"):
        pays = paid[paid["account_id"] == account_id]
        recent = mine["entry_date"] > as_of - timedelta(days=183)
        broken = kept = decided = 0
        for p in mine.itertuples():
            if p.promised_on >= as_of:
                continue
            got = pays[(pays["value_date"] >= p.entry_date) & (pays["value_date"] <= p.promised_on)]
            is_kept = int(got["amount_fen"].sum()) >= p.amount_fen
            if p.promised_on > as_of - timedelta(days=183) and not is_kept:
                broken += 1
            if p.promised_on > as_of - timedelta(days=365):
                decided += 1
                kept += is_kept
        out[account_id] = {
            "promises_6m": float(recent.sum()),
            "broken_promises_6m": float(broken),
            "days_since_promise": float((as_of - mine["entry_date"].max()).days),
            "kept_share_12m": kept / decided if decided else np.nan,
        }
    return pd.DataFrame.from_dict(out, orient="index")
