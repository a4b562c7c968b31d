"""Each account's item ledgers summed up as of the snapshot's date, written into its account row.

The batch has every account's item ledgers in memory when it writes a snapshot (the kernel's
``items`` lists); ``summarise`` reduces them to a few per-account columns with numpy segment
sums over the flat item rows, so a reader that wants "how many items are past due, how much is
unpaid, when is the next due date" reads one account row instead of the item side table. Both
engines write their account rows through ``account_rows`` (DuckDB in ``split_items``, Spark
inside ``mapInArrow``), so both write the same columns.

All ``items_*`` columns are as of the row's ``as_of`` (item ``due_date`` < ``as_of``: past):

- ``items_count``: item ledgers of the account;
- ``items_past_count``, ``items_late_count``: past items, and those with ``penalty_days`` > 0;
- ``items_past_due_fen``, ``items_past_paid_fen``: principal + interest + fee asked by the past
  items, and what was paid on them;
- ``items_unpaid_fen``: unpaid principal + interest + fee of all items (penalty excluded);
- ``items_next_due_date``: the first due date after ``as_of`` with an unpaid item (null: none);
- ``items_next_due_ask_fen``: what that date's items still ask (the minimum if set, else
  principal + interest + fee, less paid, at least 0; null without a next due date);
- ``items_late_days_3m``/``6m``/``12m``: penalty days of the past items due in the last 91, 183,
  365 days (``due_date`` ≥ ``as_of`` - window);
- ``items_due_3m_fen``, ``items_paid_3m_fen``: asked and paid of the past items due in the last
  91 days.

Counts and sums are 0 for an account without items. The scoring's item features are these
columns (``FEATURE_COLUMNS`` names them); ``features._item_features`` is the same definition in
Ibis over the item rows, and a test checks that the two agree.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

WINDOWS_DAYS = {"3m": 91, "6m": 183, "12m": 365}  # the look-back windows of the item features
NO_DATE = np.iinfo(np.int32).max

SUMMARY_FIELDS: tuple[tuple[str, pa.DataType], ...] = (
    ("items_count", pa.int64()),
    ("items_past_count", pa.int64()),
    ("items_late_count", pa.int64()),
    ("items_past_due_fen", pa.int64()),
    ("items_past_paid_fen", pa.int64()),
    ("items_unpaid_fen", pa.int64()),
    ("items_next_due_date", pa.date32()),
    ("items_next_due_ask_fen", pa.int64()),
    ("items_late_days_3m", pa.int64()),
    ("items_late_days_6m", pa.int64()),
    ("items_late_days_12m", pa.int64()),
    ("items_due_3m_fen", pa.int64()),
    ("items_paid_3m_fen", pa.int64()),
)
SUMMARY_NAMES = tuple(name for name, _ in SUMMARY_FIELDS)
# The scoring's names of the item features → the account row's column.
FEATURE_COLUMNS: dict[str, str] = {
    "n_items_past": "items_past_count",
    "n_items_late": "items_late_count",
    "due_past_fen": "items_past_due_fen",
    "paid_past_fen": "items_past_paid_fen",
    "outstanding_fen": "items_unpaid_fen",
    "next_due_date": "items_next_due_date",
    "days_late_3m": "items_late_days_3m",
    "due_3m_fen": "items_due_3m_fen",
    "paid_3m_items_fen": "items_paid_3m_fen",
    "days_late_6m": "items_late_days_6m",
    "days_late_12m": "items_late_days_12m",
    "next_due_amount_fen": "items_next_due_ask_fen",
}
AGGREGATES = tuple(FEATURE_COLUMNS)  # the item features, in the scoring's order


def _ints(items: pa.StructArray, name: str) -> np.ndarray:
    column = items.field(name)
    assert column.null_count == 0, f"item field {name} holds nulls"
    return np.asarray(column.to_numpy(zero_copy_only=False), dtype=np.int64)


def _segment_sums(values: np.ndarray, bounds: np.ndarray) -> np.ndarray:
    """Per segment [bounds[k], bounds[k + 1]) of ``values``: the sum (0 for an empty one)."""
    running = np.zeros(len(values) + 1, np.int64)
    np.cumsum(values, out=running[1:])
    return running[bounds[1:]] - running[bounds[:-1]]


def _segment_mins(values: np.ndarray, bounds: np.ndarray) -> np.ndarray:
    """Per segment: the minimum (``NO_DATE`` for an empty one)."""
    out = np.full(len(bounds) - 1, NO_DATE, np.int64)
    sizes = np.diff(bounds)
    filled = sizes > 0
    if filled.any():
        out[filled] = np.minimum.reduceat(values, bounds[:-1][filled])
    return out


def summarise(lists: pa.ListArray, as_of: pa.Array) -> dict[str, pa.Array]:
    """``SUMMARY_FIELDS`` of each row's item list (``kernel.ITEM_STATE_TYPE`` structs), as of
    that row's ``as_of`` (date32)."""
    assert lists.null_count == 0, "null item lists"
    offsets = np.asarray(lists.offsets, dtype=np.int64)
    bounds = offsets - offsets[0]  # a slice's offsets start where the slice does
    sizes = np.diff(bounds)
    items = pc.list_flatten(lists)
    assert len(items) == bounds[-1], "null item structs"
    days = np.asarray(pc.cast(as_of, pa.int32()).to_numpy(zero_copy_only=False), np.int64)
    day = np.repeat(days, sizes)
    due = np.asarray(pc.cast(items.field("due_date"), pa.int32()).to_numpy(), np.int64)
    required = _ints(items, "principal_fen") + _ints(items, "interest_fen")
    required += _ints(items, "fee_fen")
    paid = _ints(items, "paid_fen")
    unpaid = _ints(items, "unpaid_principal_fen") + _ints(items, "unpaid_interest_fen")
    unpaid += _ints(items, "unpaid_fee_fen")
    late = _ints(items, "penalty_days")
    minimum = items.field("minimum_fen")
    if minimum.null_count:  # a null minimum asks for the whole item
        has_minimum = pc.is_valid(minimum).to_numpy(zero_copy_only=False)
        minimum_fen = np.asarray(pc.fill_null(minimum, 0).to_numpy(), np.int64)
        asked = np.where(has_minimum, minimum_fen, required)
    else:
        asked = np.asarray(minimum.to_numpy(), np.int64)
    ask = np.maximum(asked - paid, 0)
    past = due < day
    next_due = _segment_mins(np.where((due > day) & (unpaid > 0), due, NO_DATE), bounds)
    no_next = next_due == NO_DATE
    at_next = due == np.repeat(next_due, sizes)
    sums = {
        "items_count": sizes,
        "items_past_count": _segment_sums(past.astype(np.int64), bounds),
        "items_late_count": _segment_sums((past & (late > 0)).astype(np.int64), bounds),
        "items_past_due_fen": _segment_sums(np.where(past, required, 0), bounds),
        "items_past_paid_fen": _segment_sums(np.where(past, paid, 0), bounds),
        "items_unpaid_fen": _segment_sums(unpaid, bounds),
        "items_next_due_ask_fen": _segment_sums(np.where(at_next, ask, 0), bounds),
    }
    for name, window in WINDOWS_DAYS.items():
        inside = past & (due >= day - window)
        sums[f"items_late_days_{name}"] = _segment_sums(np.where(inside, late, 0), bounds)
        if name == "3m":
            sums["items_due_3m_fen"] = _segment_sums(np.where(inside, required, 0), bounds)
            sums["items_paid_3m_fen"] = _segment_sums(np.where(inside, paid, 0), bounds)
    out: dict[str, pa.Array] = {}
    for name, kind in SUMMARY_FIELDS:
        if name == "items_next_due_date":
            dates = np.where(no_next, 0, next_due).astype(np.int32)
            out[name] = pa.array(dates, pa.int32(), mask=no_next).cast(pa.date32())
        elif name == "items_next_due_ask_fen":
            out[name] = pa.array(sums[name], kind, mask=no_next)
        else:
            out[name] = pa.array(sums[name], kind)
    return out
