"""Point-in-time account features from the snapshot history and the book, on DuckDB or Spark.

``build_features(source, as_of)`` returns one row per account of the snapshot at ``as_of``:
the account's state, its repayment behaviour, its delinquency history and calendar effects.
Everything is an Ibis expression over the files (so DuckDB and PySpark run the same query),
followed by one engine-independent finishing step (``finish``: date differences and ratios in
numpy) that runs on the driver for DuckDB and inside ``mapInArrow`` on Spark.

Point in time: a feature for ``as_of`` reads only

- snapshots with ``as_of`` ≤ ``as_of`` (the files of later snapshots are never opened), and
  transitions with ``on`` ≤ ``as_of``;
- book events booked on or before ``as_of`` (``entry_date`` partitions ≤ ``as_of``) and, for
  payments, with ``value_date`` ≤ ``as_of``; reversals booked on or before ``as_of`` remove
  their payment.

``tests/scoring/test_book_features.py`` proves it by adding later data and seeing no change
(``pit_differences``), and shows that a deliberately leaky feature is caught.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import ibis
import ibis.expr.types as ir
import numpy as np
import pandas as pd
import pyarrow as pa

from overdue.errors import BadInput
from overdue.portfolio import contract
from overdue.portfolio.engines import Backend
from overdue.portfolio.eod import (
    event_files,
    snapshot_dates,
    snapshot_files,
    snapshot_item_files,
    snapshot_path,
)
from overdue.portfolio.item_summary import WINDOWS_DAYS  # shared with the batch's summary
from overdue.portfolio.kernel import ACCOUNT_BASE_SCHEMA, ITEM_ROW_SCHEMA
from overdue.scoring import promises
from overdue.twin.seasonality import SPRING_FESTIVAL

HISTORY_DAYS = 365  # the longest look-back window
LAG_DAYS = 91  # balance trends compare with the latest snapshot at least this old
MAX_SNAPSHOTS = 400  # snapshots read for one date's history (daily snapshots for a year fit)
LATE_BUCKETS_M3P = ("M3", "M4", "M5", "M6", "M7")
TRANSITIONS_SCHEMA = pa.schema(
    [
        ("account_id", pa.string()),
        ("as_of", pa.date32()),
        ("on", pa.date32()),
        ("scheme", pa.string()),
        ("from_bucket", pa.string()),
        ("to_bucket", pa.string()),
        ("dpd", pa.int32()),
    ]
)

# The model inputs, with the direction of risk where it makes business sense (+1: more → riskier,
# -1: more → safer); used as LightGBM monotone constraints.
FEATURE_DIRECTIONS: dict[str, int] = {
    "dpd": 1,
    "max_dpd": 1,
    "total_overdue_fen": 0,
    "penalty_accrued_fen": 0,
    "revolved_amount_fen": 1,
    "outstanding_fen": 0,
    "n_items_past": 0,
    "n_items_late": 1,
    "share_items_late": 1,
    "days_late_3m": 1,
    "days_late_6m": 1,
    "days_late_12m": 1,
    "repay_ratio": -1,
    "repay_ratio_3m": -1,
    "worst_dpd_3m": 1,
    "worst_dpd_6m": 1,
    "worst_dpd_12m": 1,
    "months_m1_12m": 1,
    "months_m2_12m": 1,
    "months_m3p_12m": 1,
    "m1_entries_12m": 1,
    "cures_12m": 0,
    "overdue_change_3m_fen": 0,
    "paid_change_3m_fen": 0,
    "days_since_last_payment": 1,
    "n_payments_3m": -1,
    "paid_3m_fen": 0,
    "utilisation": 1,
    "months_on_book": 0,
    "next_due_amount_fen": 0,
    "next_due_to_paid_3m": 1,
    "days_to_next_due": 0,
    "next_due_day": 0,
    "days_to_month_end": 0,
    "days_to_spring_festival": 0,
    "is_revolving": 0,
    **promises.FEATURE_DIRECTIONS,  # missing (NaN) for a book without a promises table
}
FEATURES: tuple[str, ...] = tuple(FEATURE_DIRECTIONS)
# Columns kept beside the features: who, when, and what the targets and the daily run need.
META: tuple[str, ...] = (
    "account_id",
    "as_of",
    "product",
    "status",
    "bucket_cn",
    "delinquent_since",
    "next_due_date",
)


@dataclass
class FeatureSource:
    """Where the features come from: a backend (DuckDB or Spark), the snapshots and the book."""

    backend: Backend
    snapshot_dir: Path
    book_dir: Path

    def snapshot_dates(self, as_of: date) -> list[date]:
        days = [d for d in snapshot_dates(self.snapshot_dir) if d <= as_of]
        return days[-MAX_SNAPSHOTS:]


def _lit(day: date) -> ir.Value:
    return ibis.literal(day, type="date")


def _keep(table: ir.Table, only: ir.Table | None) -> ir.Table:
    """The rows of the accounts in ``only`` (a table with ``account_id``), or all of them."""
    if only is None:
        return table
    ids = only.select(keep_id=only.account_id)
    return table.semi_join(ids, table.account_id == ids.keep_id)


def _snapshot(source: FeatureSource, days: Sequence[date], only: ir.Table | None) -> ir.Table:
    files = [f for d in days for f in snapshot_files(source.snapshot_dir, d)]
    # the columns every snapshot format has: the history may hold format 2 snapshots
    return _keep(source.backend.read_table(files, ACCOUNT_BASE_SCHEMA, None), only)


def _item_states(source: FeatureSource, day: date, only: ir.Table | None) -> ir.Table:
    """The item rows of the snapshot of ``day`` (its ``items/`` side table)."""
    files = snapshot_item_files(source.snapshot_dir, day)
    return _keep(source.backend.read_table(files, ITEM_ROW_SCHEMA, None), only)


def _transitions(
    source: FeatureSource, days: Sequence[date], as_of: date, only: ir.Table | None
) -> ir.Table:
    files = []
    for d in days:
        folder = snapshot_path(source.snapshot_dir, d) / "transitions"
        files += sorted(p for p in folder.rglob("*.parquet") if not p.name.startswith((".", "_")))
    t = _keep(source.backend.read_table(files, TRANSITIONS_SCHEMA, None), only)
    t = t.filter(t.on <= _lit(as_of)).select("account_id", "on", "scheme", "to_bucket", "dpd")
    return t.distinct()  # a rebuilt snapshot repeats the transitions of earlier ones


def _payments(source: FeatureSource, as_of: date, only: ir.Table | None) -> ir.Table:
    book = source.book_dir
    spec = contract.TABLES["payments"]
    pay = source.backend.read_table(
        event_files(book, "payments", None, as_of), spec.arrow_schema(), book / "payments"
    )
    rev_spec = contract.TABLES["reversals"]
    rev = source.backend.read_table(
        event_files(book, "reversals", None, as_of), rev_spec.arrow_schema(), book / "reversals"
    )
    rev = rev.filter(rev.entry_date <= _lit(as_of)).select(rev_id=rev.payment_id)
    pay = pay.filter((pay.entry_date <= _lit(as_of)) & (pay.value_date <= _lit(as_of)))
    pay = _keep(pay, only).anti_join(rev, pay.payment_id == rev.rev_id)
    return pay.select("account_id", "value_date", "amount_fen")


def account_payments(source: FeatureSource, as_of: date, only: ir.Table | None) -> ir.Table:
    """Payments valued and booked by ``as_of``, not reversed by then: ``account_id``,
    ``value_date``, ``amount_fen`` (what the payment and promise features read)."""
    return _payments(source, as_of, only)


def _accounts(source: FeatureSource) -> ir.Table:
    file = source.book_dir / "accounts.parquet"
    if not file.is_file():
        raise BadInput(f"{file}: no accounts table (is {source.book_dir} a book?)")
    a = source.backend.read_table([file], contract.ACCOUNTS.arrow_schema(), None)
    return a.select("account_id", "credit_limit_fen", "principal_fen", "opened_on")


def _item_features(it: ir.Table, as_of: date) -> ir.Table:
    i = it
    t = it.select(
        "account_id",
        due_date=i["due_date"],
        required=i["principal_fen"] + i["interest_fen"] + i["fee_fen"],
        minimum=i["minimum_fen"],
        paid=i["paid_fen"],
        unpaid=i["unpaid_principal_fen"] + i["unpaid_interest_fen"] + i["unpaid_fee_fen"],
        late_days=i["penalty_days"].cast("int64"),
    )
    past = t.due_date < _lit(as_of)
    zero = ibis.literal(0, type="int64")
    aggs: dict[str, Any] = {
        "n_items_past": past.cast("int64").sum(),
        "n_items_late": (past & (t.late_days > 0)).cast("int64").sum(),
        "due_past_fen": ibis.ifelse(past, t.required, zero).sum(),
        "paid_past_fen": ibis.ifelse(past, t.paid, zero).sum(),
        "outstanding_fen": t.unpaid.sum(),
        "next_due_date": ibis.ifelse(
            (t.due_date > _lit(as_of)) & (t.unpaid > 0), t.due_date, ibis.null("date")
        ).min(),
    }
    for name, days in WINDOWS_DAYS.items():
        inside = past & (t.due_date >= _lit(as_of - timedelta(days=days)))
        aggs[f"days_late_{name}"] = ibis.ifelse(inside, t.late_days, zero).sum()
        if name == "3m":
            aggs["due_3m_fen"] = ibis.ifelse(inside, t.required, zero).sum()
            aggs["paid_3m_items_fen"] = ibis.ifelse(inside, t.paid, zero).sum()
    per_account = t.group_by("account_id").aggregate(**aggs)
    # the amount the next due date asks for: the minimum (revolving) or the whole item, less paid
    keys = per_account.select(nid=per_account.account_id, ndd=per_account.next_due_date)
    nxt = t.inner_join(keys, (t.account_id == keys.nid) & (t.due_date == keys.ndd))
    ask = nxt.minimum.fill_null(nxt.required) - nxt.paid
    nxt = nxt.group_by(nxt.account_id.name("nid2")).aggregate(
        next_due_amount_fen=ibis.greatest(ask, zero).sum()
    )
    out = per_account.left_join(nxt, per_account.account_id == nxt.nid2)
    return out.drop("nid2")


def month_ends(days: Sequence[date], as_of: date) -> list[date]:
    """The last snapshot of each calendar month up to ``as_of``, and ``as_of`` itself: the
    history reads one state per month whether the batch ran daily or monthly."""
    last: dict[tuple[int, int], date] = {}
    for d in sorted(days):
        if d <= as_of:
            last[(d.year, d.month)] = d
    return sorted(set(last.values()) | {as_of})


def _history_features(
    source: FeatureSource, days: Sequence[date], as_of: date, only: ir.Table | None
) -> ir.Table:
    since = as_of - timedelta(days=HISTORY_DAYS)
    kept = [d for d in month_ends(days, as_of) if d > since]
    h = _snapshot(source, kept, only)
    h = h.filter((h.as_of <= _lit(as_of)) & (h.as_of > _lit(since)))
    aggs: dict[str, Any] = {}
    for name, window in WINDOWS_DAYS.items():
        inside = h.as_of > _lit(as_of - timedelta(days=window))
        aggs[f"snap_worst_{name}"] = ibis.ifelse(inside, h.dpd, ibis.null("int32")).max()
    aggs["months_m1_12m"] = (h.bucket_cn == "M1").cast("int64").sum()
    aggs["months_m2_12m"] = (h.bucket_cn == "M2").cast("int64").sum()
    aggs["months_m3p_12m"] = h.bucket_cn.isin(LATE_BUCKETS_M3P).cast("int64").sum()
    return h.group_by(h.account_id.name("hid")).aggregate(**aggs)


def _transition_features(
    source: FeatureSource, days: Sequence[date], as_of: date, only: ir.Table | None
) -> ir.Table:
    t = _transitions(source, days, as_of, only)
    t = t.filter(t.on > _lit(as_of - timedelta(days=HISTORY_DAYS)))
    cn = t.scheme == "cn"
    aggs: dict[str, Any] = {
        "m1_entries_12m": (cn & (t.to_bucket == "M1")).cast("int64").sum(),
        "cures_12m": (cn & (t.to_bucket == "M0")).cast("int64").sum(),
    }
    for name, window in WINDOWS_DAYS.items():
        inside = t.on > _lit(as_of - timedelta(days=window))
        aggs[f"tr_worst_{name}"] = ibis.ifelse(inside, t.dpd, ibis.null("int32")).max()
    return t.group_by(t.account_id.name("tid")).aggregate(**aggs)


def _lag_features(
    source: FeatureSource, days: Sequence[date], as_of: date, only: ir.Table | None
) -> ir.Table | None:
    old = [d for d in days if d <= as_of - timedelta(days=LAG_DAYS)]
    if not old:
        return None
    lag = _snapshot(source, [old[-1]], only)
    return lag.select(
        lid=lag.account_id,
        overdue_lag_fen=lag.total_overdue_fen,
        paid_lag_fen=lag.paid_total_fen,
    )


def _payment_features(source: FeatureSource, as_of: date, only: ir.Table | None) -> ir.Table:
    p = _payments(source, as_of, only)
    recent = p.value_date > _lit(as_of - timedelta(days=WINDOWS_DAYS["3m"]))
    return p.group_by(p.account_id.name("pid")).aggregate(
        last_payment_date=p.value_date.max(),
        n_payments_3m=recent.cast("int64").sum(),
        paid_3m_fen=ibis.ifelse(recent, p.amount_fen, ibis.literal(0, type="int64")).sum(),
    )


# The parts of the raw feature row: name → (the key column the part names its account id by).
PART_KEYS = {
    "acc": "aid",
    "items": "iid",
    "hist": "hid",
    "trans": "tid",
    "pay": "pid",
    "lag": "lid",
    "prom": promises.KEY,
}


def feature_parts(
    source: FeatureSource, as_of: date, only: ir.Table | None = None
) -> tuple[ir.Table, dict[str, ir.Table]]:
    """The snapshot's base columns and the per-account parts (accounts, items, history,
    transitions, payments, 3-month lag), each keyed by its own id column (``PART_KEYS``).

    ``feature_expr`` left-joins them in one query; the DuckDB daily run executes them one by
    one and joins them in Arrow (small queries compile much faster than one long join chain).
    """
    days = source.snapshot_dates(as_of)
    if not days or days[-1] != as_of:
        raise BadInput(
            f"{source.snapshot_dir}: no snapshot for {as_of} (run: overdue eod BOOK --as-of "
            f"{as_of} --out {source.snapshot_dir})"
        )
    snap = _snapshot(source, [as_of], only)
    base = snap.select(
        "account_id", "as_of", "product", "status", "bucket_cn", "delinquent_since", "dpd",
        "max_dpd", "total_overdue_fen", "penalty_accrued_fen", "revolved_amount_fen",
        "paid_total_fen",
    )  # fmt: skip
    acc = _accounts(source)
    parts: dict[str, ir.Table] = {
        "acc": _keep(acc, only).rename(aid="account_id"),
        "items": _item_features(_item_states(source, as_of, only), as_of).rename(iid="account_id"),
        "hist": _history_features(source, days, as_of, only),
        "trans": _transition_features(source, days, as_of, only),
        "pay": _payment_features(source, as_of, only),
    }
    lag = _lag_features(source, days, as_of, only)
    if lag is not None:
        parts["lag"] = lag
    pay = _payments(source, as_of, only)
    promised = promises.promise_part(source.backend, source.book_dir, as_of, pay, only)
    if promised is not None:
        parts["prom"] = promised
    return base, parts


def feature_expr(source: FeatureSource, as_of: date, only: ir.Table | None = None) -> ir.Table:
    """The Ibis expression of the raw per-account columns at ``as_of`` (before ``finish``),
    for every account of the snapshot or only those in ``only`` (a table with ``account_id``)."""
    base, parts = feature_parts(source, as_of, only)
    for name, part in parts.items():
        key = PART_KEYS[name]
        base = base.left_join(part, base.account_id == part[key]).drop(key)
    if "lag" not in parts:
        base = base.mutate(overdue_lag_fen=ibis.null("int64"), paid_lag_fen=ibis.null("int64"))
    if "prom" not in parts:
        base = base.mutate(**promises.absent_columns())
    base = base.mutate(**{promises.PRESENT: ibis.literal("prom" in parts)})
    return base.order_by("account_id")


def raw_features_in_parts(
    run: Callable[[ir.Table], pa.Table], source: FeatureSource, as_of: date,
    only: ir.Table | None = None,
) -> pd.DataFrame:  # fmt: skip
    """``feature_expr``'s rows, each part run by ``run`` (an Ibis table → an Arrow table) and
    left-joined to the base in Arrow, sorted by account id."""
    base_expr, parts = feature_parts(source, as_of, only)
    out = run(base_expr)
    for name, part in parts.items():
        key = PART_KEYS[name]
        out = out.join(run(part), keys="account_id", right_keys=key, join_type="left outer")
    if "lag" not in parts:
        nulls = pa.nulls(out.num_rows, pa.int64())
        out = out.append_column("overdue_lag_fen", nulls).append_column("paid_lag_fen", nulls)
    if "prom" not in parts:
        for name, column in promises.absent_arrow(out.num_rows).items():
            out = out.append_column(name, column)
    out = out.append_column(promises.PRESENT, pa.array(["prom" in parts] * out.num_rows))
    out = out.sort_by("account_id")
    return out.to_pandas()


# -- the engine-independent finishing step --------------------------------------------------------


def _days(later: pd.Series, earlier: pd.Series | date) -> np.ndarray:
    a = pd.to_datetime(later).to_numpy(dtype="datetime64[D]")
    if isinstance(earlier, date):
        b = np.datetime64(earlier, "D")
    else:
        b = pd.to_datetime(earlier).to_numpy(dtype="datetime64[D]")
    diff = (a - b).astype("timedelta64[D]")
    out = diff.astype("float64")
    out[np.isnat(diff)] = np.nan
    return out


def _days_since(day: date, earlier: pd.Series) -> np.ndarray:
    """``_days`` from each of ``earlier`` to ``day`` (the same values as ``_days`` of a
    column holding ``day`` on every row, without building that column)."""
    b = pd.to_datetime(earlier).to_numpy(dtype="datetime64[D]")
    diff = (np.datetime64(day, "D") - b).astype("timedelta64[D]")
    out = diff.astype("float64")
    out[np.isnat(diff)] = np.nan
    return out


def _ratio(num: pd.Series | np.ndarray, den: pd.Series | np.ndarray) -> np.ndarray:
    n = np.asarray(num, dtype="float64")
    d = np.asarray(den, dtype="float64")
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(np.isfinite(d) & (d > 0), n / np.where(d > 0, d, 1.0), np.nan)


def days_to_spring_festival(day: date) -> int:
    """Days from ``day`` to the next Spring Festival (0 on the day itself)."""
    for year in (day.year, day.year + 1):
        festival = SPRING_FESTIVAL.get(year)
        if festival is not None and festival >= day:
            return (festival - day).days
    raise BadInput(f"{day}: outside the Spring Festival table ({min(SPRING_FESTIVAL)}–)")


def _month_end(day: date) -> date:
    first_next = date(day.year + (day.month == 12), day.month % 12 + 1, 1)
    return first_next - timedelta(days=1)


def finish(raw: pd.DataFrame, as_of: date) -> pd.DataFrame:
    """Raw per-account columns (``feature_expr``) → the feature table: META + FEATURES."""
    r = raw
    out = pd.DataFrame({name: r[name] for name in META if name != "as_of"})
    for name in ("delinquent_since", "next_due_date"):  # same type from every engine
        out[name] = pd.to_datetime(r[name]).astype("datetime64[s]")
    out.insert(1, "as_of", pd.Series([as_of] * len(r), dtype="object"))
    for name in ("dpd", "max_dpd", "total_overdue_fen", "penalty_accrued_fen",
                 "revolved_amount_fen", "outstanding_fen", "n_items_past", "n_items_late",
                 "months_m1_12m", "months_m2_12m", "months_m3p_12m", "m1_entries_12m",
                 "cures_12m", "n_payments_3m", "paid_3m_fen", "next_due_amount_fen",
                 "days_late_3m", "days_late_6m", "days_late_12m"):  # fmt: skip
        out[name] = pd.to_numeric(r[name]).astype("float64").fillna(0.0)
    out["share_items_late"] = _ratio(out["n_items_late"], out["n_items_past"])
    out["repay_ratio"] = _ratio(r["paid_past_fen"], r["due_past_fen"])
    out["repay_ratio_3m"] = _ratio(r["paid_3m_items_fen"], r["due_3m_fen"])
    for name in WINDOWS_DAYS:
        snap = pd.to_numeric(r[f"snap_worst_{name}"]).astype("float64").fillna(0.0)
        trans = pd.to_numeric(r[f"tr_worst_{name}"]).astype("float64").fillna(0.0)
        out[f"worst_dpd_{name}"] = np.maximum(snap.to_numpy(), trans.to_numpy())
    overdue_lag = pd.to_numeric(r["overdue_lag_fen"]).astype("float64")
    paid_lag = pd.to_numeric(r["paid_lag_fen"]).astype("float64")
    out["overdue_change_3m_fen"] = out["total_overdue_fen"] - overdue_lag.fillna(0.0)
    out["paid_change_3m_fen"] = pd.to_numeric(r["paid_total_fen"]).astype("float64") - paid_lag
    out["days_since_last_payment"] = _days_since(as_of, r["last_payment_date"])
    limit = pd.to_numeric(r["credit_limit_fen"]).astype("float64")
    principal = pd.to_numeric(r["principal_fen"]).astype("float64")
    out["utilisation"] = _ratio(out["outstanding_fen"], limit.fillna(principal))
    out["months_on_book"] = np.floor(_days_since(as_of, r["opened_on"]) / 30.4)
    out["next_due_to_paid_3m"] = _ratio(out["next_due_amount_fen"], out["paid_3m_fen"] / 3.0)
    out["days_to_next_due"] = _days(r["next_due_date"], as_of)
    out["next_due_day"] = pd.to_datetime(r["next_due_date"]).dt.day.astype("float64")
    out["days_to_month_end"] = float((_month_end(as_of) - as_of).days)
    out["days_to_spring_festival"] = float(days_to_spring_festival(as_of))
    out["is_revolving"] = (r["product"] == "revolving").astype("float64")
    for name, values in promises.finish_promises(r, as_of).items():
        out[name] = values
    assert set(out.columns) == {*META, *FEATURES}, "feature columns differ from META + FEATURES"
    return out[[*META, *FEATURES]].reset_index(drop=True)


def build_features(
    source: FeatureSource, as_of: date, only: ir.Table | None = None
) -> pd.DataFrame:
    """The feature table at ``as_of`` (one row per account of that snapshot, sorted by id)."""
    expr = feature_expr(source, as_of, only)
    raw = source.backend.con.execute(expr)  # type: ignore[attr-defined]
    return finish(raw.reset_index(drop=True), as_of)


def raw_to_arrow_finish(batch: pa.RecordBatch, as_of: date) -> pd.DataFrame:
    """``finish`` on one Arrow batch (what a Spark executor runs)."""
    return finish(batch.to_pandas(), as_of)


def pit_differences(before: pd.DataFrame, after: pd.DataFrame) -> list[str]:
    """Columns whose values differ between two feature tables of the same date (leak check).

    Build features at T, add data after T (later snapshots, events booked after T), build again:
    a point-in-time correct builder gives identical tables, a leaky one differs here.
    """
    if list(before["account_id"]) != list(after["account_id"]):
        return ["account_id"]
    changed = []
    for name in before.columns:
        a, b = before[name], after[name]
        same = a.isna().to_numpy() == b.isna().to_numpy()
        both = ~(a.isna().to_numpy() | b.isna().to_numpy())
        if not (same.all() and (a.to_numpy()[both] == b.to_numpy()[both]).all()):
            changed.append(name)
    return changed
