"""Promise-to-pay history as features, where the book has an (optional) ``promises`` table.

``BOOK/promises/entry_date=D/part-0.parquet``: ``promise_id``, ``account_id``, ``promised_on``
(the day by which the customer promised to pay), ``amount_fen`` (docs/data-contract.md,
"promises"). The booking date ``entry_date`` is the day the promise was made and recorded.

A promise's outcome is derived from the payments, not stored: a promise is **decided** at
``as_of`` once its ``promised_on`` is over (``promised_on < as_of``), and **kept** when the
payments valued from its booking date to its ``promised_on`` (not reversed, booked on or before
``as_of``) add up to at least its amount; otherwise it is **broken**. Point in time: only
promises booked on or before ``as_of`` count, an outcome only once decided by ``as_of``, and
only payments booked by then.

Features (``finish``):

- ``promises_6m``: promises booked in the last 183 days;
- ``broken_promises_6m``: promises broken whose promised day fell in the last 183 days;
- ``days_since_promise``: days since the latest promise was booked (missing: never);
- ``kept_share_12m``: kept ÷ decided among promises whose promised day fell in the last 365
  days (missing: none decided).

Without a ``promises`` table every one of them is missing (NaN) for every account; with one, an
account without promises has 0 promises and 0 broken ones.
"""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path
from typing import Any

import ibis
import ibis.expr.types as ir
import numpy as np
import pandas as pd
import pyarrow as pa

from overdue.portfolio.eod import event_files

TABLE = "promises"
SCHEMA = pa.schema([
    ("promise_id", pa.string()), ("account_id", pa.string()), ("promised_on", pa.date32()),
    ("amount_fen", pa.int64()), ("entry_date", pa.date32()),
])  # fmt: skip
RECENT_DAYS = 183
YEAR_DAYS = 365
KEY = "mid"
# the raw columns of the part (besides its key) and their types when the table is absent
RAW: dict[str, str] = {
    "promises_6m": "int64",
    "last_promise_date": "date",
    "broken_promises_6m": "int64",
    "kept_12m": "int64",
    "decided_12m": "int64",
}
PRESENT = "has_promise_table"
FEATURE_DIRECTIONS = {
    "promises_6m": 0,
    "broken_promises_6m": 1,
    "days_since_promise": 0,
    "kept_share_12m": -1,
}


def present(book_dir: Path) -> bool:
    return (book_dir / TABLE).is_dir()


def _lit(day: date) -> ir.Value:
    return ibis.literal(day, type="date")


def promise_part(
    backend: Any, book_dir: Path, as_of: date, payments: ir.Table, only: ir.Table | None
) -> ir.Table | None:
    """Per account with a promise booked by ``as_of``: the ``RAW`` columns, keyed by ``KEY``;
    ``payments`` are the account payments valued and booked by ``as_of``, not reversed
    (``features._payments``). None when the book has no promises table."""
    if not present(book_dir):
        return None
    files = event_files(book_dir, TABLE, None, as_of)
    p = backend.read_table(files, SCHEMA, book_dir / TABLE)
    p = p.filter(p.entry_date <= _lit(as_of))
    if only is not None:
        ids = only.select(keep_id=only.account_id)
        p = p.semi_join(ids, p.account_id == ids.keep_id)
    decided = p.filter(p.promised_on < _lit(as_of))
    pay = payments.select(pay_id=payments.account_id, pay_on=payments.value_date,
                          pay_fen=payments.amount_fen)  # fmt: skip
    toward = decided.left_join(
        pay,
        (decided.account_id == pay.pay_id)
        & (pay.pay_on >= decided.entry_date)
        & (pay.pay_on <= decided.promised_on),
    )
    zero = ibis.literal(0, type="int64")
    per_promise = toward.group_by(
        ["promise_id", "account_id", "promised_on", "amount_fen"]
    ).aggregate(paid_fen=toward.pay_fen.sum().fill_null(zero))
    kept = per_promise.paid_fen >= per_promise.amount_fen
    recent = per_promise.promised_on > _lit(as_of - timedelta(days=RECENT_DAYS))
    year = per_promise.promised_on > _lit(as_of - timedelta(days=YEAR_DAYS))
    outcomes = per_promise.group_by(per_promise.account_id.name("oid")).aggregate(
        broken_promises_6m=(recent & ~kept).cast("int64").sum(),
        kept_12m=(year & kept).cast("int64").sum(),
        decided_12m=year.cast("int64").sum(),
    )
    booked = p.group_by(p.account_id.name(KEY)).aggregate(
        promises_6m=(p.entry_date > _lit(as_of - timedelta(days=RECENT_DAYS))).cast("int64").sum(),
        last_promise_date=p.entry_date.max(),
    )
    out = booked.left_join(outcomes, booked[KEY] == outcomes.oid).drop("oid")
    return out.select(
        KEY,
        "promises_6m",
        "last_promise_date",
        broken_promises_6m=out.broken_promises_6m.fill_null(zero),
        kept_12m=out.kept_12m.fill_null(zero),
        decided_12m=out.decided_12m.fill_null(zero),
    )


def absent_columns() -> dict[str, ir.Value]:
    """The part's columns as nulls (no promises table)."""
    return {name: ibis.null(kind) for name, kind in RAW.items()}


def absent_arrow(n_rows: int) -> dict[str, pa.Array]:
    types = {"int64": pa.int64(), "date": pa.date32()}
    return {name: pa.nulls(n_rows, types[kind]) for name, kind in RAW.items()}


def finish_promises(raw: pd.DataFrame, as_of: date) -> dict[str, np.ndarray]:
    """The four features from the raw columns (``RAW`` and ``PRESENT``)."""
    table = raw[PRESENT].fillna(False).to_numpy(dtype=bool)
    out: dict[str, np.ndarray] = {}
    for name in ("promises_6m", "broken_promises_6m"):
        counts = pd.to_numeric(raw[name]).astype("float64").fillna(0.0).to_numpy()
        out[name] = np.where(table, counts, np.nan)
    last = pd.to_datetime(raw["last_promise_date"]).to_numpy(dtype="datetime64[D]")
    since = (np.datetime64(as_of, "D") - last).astype("timedelta64[D]")
    days = since.astype("float64")
    days[np.isnat(since)] = np.nan
    out["days_since_promise"] = days
    kept = pd.to_numeric(raw["kept_12m"]).astype("float64").to_numpy()
    decided = pd.to_numeric(raw["decided_12m"]).astype("float64").to_numpy()
    with np.errstate(divide="ignore", invalid="ignore"):
        out["kept_share_12m"] = np.where(
            decided > 0, kept / np.where(decided > 0, decided, 1), np.nan
        )
    return out
