"""Segments: the per-account facts a spec's conditions look at, and the conditions themselves.

:func:`account_frame` joins the snapshot, the scores, the customers and the flags into plain
numpy columns (one row per snapshot row); :func:`matches` evaluates a
:class:`~overdue.strategy.spec.Conditions` block on all rows at once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Final

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from overdue.strategy.early_warning import NO_DATE, day_number, next_due, score_columns
from overdue.strategy.spec import CHANNELS, FLAG_NAMES, Conditions, IntRange, ScoreRange

FLAG_COLUMNS: Final[tuple[str, ...]] = FLAG_NAMES + tuple(f"opt_out_{c}" for c in CHANNELS)
CONTACT_COLUMNS: Final = ("phone", "email", "emergency_phone", "postal_address", "push_token")

BoolArray = npt.NDArray[np.bool_]


@dataclass(frozen=True)
class AccountFrame:
    """One row per snapshot row; text columns are numpy object arrays."""

    as_of: date
    account_id: pa.Array
    customer_id: pa.Array
    text: dict[str, npt.NDArray[np.object_]]  # product, status, bucket_cn, bucket_us, language...
    dpd: npt.NDArray[np.int64]
    days_to_due: npt.NDArray[np.int64]  # next due date − as_of; -1 when no next due
    has_due: BoolArray
    amount_due_fen: npt.NDArray[np.int64]
    total_overdue_fen: npt.NDArray[np.int64]
    penalty_accrued_fen: npt.NDArray[np.int64]
    balance_fen: npt.NDArray[np.int64]
    scores: dict[str, npt.NDArray[np.float64]]
    flags: dict[str, BoolArray]
    promise_pending: BoolArray

    @property
    def size(self) -> int:
        return len(self.account_id)


def _lookup(keys: pa.Array, table: pa.Table | None, key: str) -> npt.NDArray[np.int64]:
    """Row of ``table`` for every key (-1 when absent)."""
    if table is None or table.num_rows == 0:
        return np.full(len(keys), -1, dtype=np.int64)
    values = pc.cast(table.column(key).combine_chunks(), pa.string())
    pos = pc.index_in(pc.cast(keys, pa.string()), value_set=values)
    return pc.fill_null(pos, -1).to_numpy(zero_copy_only=False).astype(np.int64)


def _take_text(
    table: pa.Table | None, column: str, rows: npt.NDArray[np.int64], default: str
) -> npt.NDArray[np.object_]:
    out = np.full(rows.size, default, dtype=object)
    if table is None or column not in table.column_names:
        return out
    values = np.array(table.column(column).to_pylist(), dtype=object)
    found = rows >= 0
    picked = values[rows[found]]
    picked[picked == None] = default  # noqa: E711 (numpy element-wise)
    out[found] = picked
    return out


def _take_bool(table: pa.Table | None, column: str, rows: npt.NDArray[np.int64]) -> BoolArray:
    out = np.zeros(rows.size, dtype=bool)
    if table is None or column not in table.column_names:
        return out
    column_values = pc.cast(table.column(column), pa.bool_())
    values = pc.fill_null(column_values, False).to_numpy(zero_copy_only=False)
    found = rows >= 0
    out[found] = values[rows[found]].astype(bool)
    return out


def _int_column(snapshot: pa.Table, name: str) -> npt.NDArray[np.int64]:
    return pc.fill_null(snapshot.column(name), 0).to_numpy(zero_copy_only=False).astype(np.int64)


def account_frame(
    snapshot: pa.Table,
    scores: pa.Table | None,
    customers: pa.Table,
    as_of: date,
    flags: pa.Table | None = None,
    history_state: pa.Table | None = None,
) -> AccountFrame:
    """Gather what the conditions need. Flags may come from ``flags`` (customer_id + boolean
    columns) or from the same columns on ``customers``; ``history_state`` may carry
    ``account_id, promise_pending``."""
    account_id = snapshot.column("account_id").combine_chunks()
    customer_id = snapshot.column("customer_id").combine_chunks()
    cust_rows = _lookup(customer_id, customers, "customer_id")
    missing = int((cust_rows < 0).sum())
    if missing:
        raise ValueError(f"{missing} snapshot rows name a customer missing from customers")
    text = {
        name: np.array(pc.fill_null(snapshot.column(name), "").to_pylist(), dtype=object)
        for name in ("product", "status", "bucket_cn", "bucket_us", "policy")
    }
    text["language"] = _take_text(customers, "language", cust_rows, "zh-CN")
    text["time_zone"] = _take_text(customers, "time_zone", cust_rows, "Asia/Shanghai")
    for column in CONTACT_COLUMNS:
        text[column] = _take_text(customers, column, cust_rows, "")
    flag_rows = _lookup(customer_id, flags, "customer_id")
    flag_values = {}
    for name in FLAG_COLUMNS:
        flag_values[name] = _take_bool(customers, name, cust_rows) | _take_bool(
            flags, name, flag_rows
        )
    due = next_due(snapshot, as_of)
    today = day_number(as_of)
    days_to_due = np.where(due.has_due, due.due_day.astype(np.int64) - today, -1)
    total_overdue = _int_column(snapshot, "total_overdue_fen")
    dpd = _int_column(snapshot, "dpd")
    balance = np.where(dpd > 0, total_overdue, due.amount_due_fen)
    state_rows = _lookup(account_id, history_state, "account_id")
    return AccountFrame(
        as_of=as_of,
        account_id=account_id,
        customer_id=customer_id,
        text=text,
        dpd=dpd,
        days_to_due=days_to_due,
        has_due=due.due_day != NO_DATE,
        amount_due_fen=due.amount_due_fen,
        total_overdue_fen=total_overdue,
        penalty_accrued_fen=_int_column(snapshot, "penalty_accrued_fen"),
        balance_fen=balance.astype(np.int64),
        scores=score_columns(scores, account_id),
        flags=flag_values,
        promise_pending=_take_bool(history_state, "promise_pending", state_rows),
    )


def _in_range(values: npt.NDArray[np.int64], bounds: IntRange) -> BoolArray:
    ok = np.ones(values.size, dtype=bool)
    if bounds.min is not None:
        ok &= values >= bounds.min
    if bounds.max is not None:
        ok &= values <= bounds.max
    return ok


def _in_score(values: npt.NDArray[np.float64], bounds: ScoreRange) -> BoolArray:
    present = ~np.isnan(values)
    ok = present.copy()
    if bounds.min is not None:
        ok &= np.where(present, values >= bounds.min, False)
    if bounds.max is not None:
        ok &= np.where(present, values <= bounds.max, False)
    return ok | (~present & bounds.if_missing)


def _in_list(values: npt.NDArray[np.object_], allowed: list[str]) -> BoolArray:
    return np.isin(values, np.array(allowed, dtype=object))


def matches(conditions: Conditions | None, frame: AccountFrame) -> BoolArray:
    """Rows that meet every condition of the block."""
    ok = np.ones(frame.size, dtype=bool)
    if conditions is None:
        return ok
    c = conditions
    for name in ("status", "bucket_cn", "bucket_us", "product", "language"):
        allowed = getattr(c, name)
        if allowed is not None:
            ok &= _in_list(frame.text[name], list(allowed))
    if c.dpd is not None:
        ok &= _in_range(frame.dpd, c.dpd)
    if c.days_to_due is not None:
        ok &= frame.has_due & _in_range(frame.days_to_due, c.days_to_due)
    if c.balance_fen is not None:
        ok &= _in_range(frame.balance_fen, c.balance_fen)
    if c.early_warning is not None:
        ok &= _in_score(frame.scores["early_warning"], c.early_warning)
    if c.collection_score is not None:
        ok &= _in_score(frame.scores["collection"], c.collection_score)
    for name, wanted in (c.flags or {}).items():
        ok &= frame.flags[name] == wanted
    return ok
