"""Early warning inputs: each account's next due item, its scores, and the event triggers.

Pre-due steps count their day offset from the account's next due date, which the snapshot's
``items`` list gives (due date and what is still unpaid). Scores come from the MODELS helper's
tables (``account_id, model, score``); events (``account_id, kind, on_date``) from operations:
``autodebit_failed`` (a failed automatic debit) and ``promise_broken`` (a promise to pay that
fell due unpaid).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Final

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

EVENT_KINDS: Final = ("autodebit_failed", "promise_broken")
SCORE_MODELS: Final = ("early_warning", "collection")
NO_DATE: Final = np.iinfo(np.int32).min
MAX_EVENTS_PER_DAY: Final = 10_000_000

_UNPAID: Final = (
    "unpaid_principal_fen",
    "unpaid_interest_fen",
    "unpaid_fee_fen",
    "unpaid_penalty_fen",
)


def day_number(d: date) -> int:
    """Days since 1970-01-01 (the date32 encoding)."""
    return (d - date(1970, 1, 1)).days


@dataclass(frozen=True)
class NextDue:
    """Per snapshot row: the next due date (as a day number, ``NO_DATE`` when none) and the
    unpaid amount of the items due on it, in fen."""

    due_day: npt.NDArray[np.int32]
    amount_due_fen: npt.NDArray[np.int64]

    @property
    def has_due(self) -> npt.NDArray[np.bool_]:
        return self.due_day != NO_DATE


def next_due(snapshot: pa.Table, as_of: date) -> NextDue:
    """The first open item due on or after ``as_of`` of every account (vectorised).

    "Open" means something of principal, interest, fee or penalty is still unpaid.
    """
    n = snapshot.num_rows
    due_day = np.full(n, NO_DATE, dtype=np.int32)
    amount = np.zeros(n, dtype=np.int64)
    items = snapshot.column("items").combine_chunks()
    if n == 0 or len(items.values) == 0:
        return NextDue(due_day, amount)
    flat = pc.list_flatten(items)
    parent = pc.list_parent_indices(items).to_numpy()
    days = pc.cast(flat.field("due_date"), pa.int32()).to_numpy(zero_copy_only=False)
    unpaid = np.zeros(len(flat), dtype=np.int64)
    for name in _UNPAID:
        unpaid += pc.fill_null(flat.field(name), 0).to_numpy(zero_copy_only=False)
    keep = (unpaid > 0) & (days >= day_number(as_of))
    parent, days, unpaid = parent[keep], days[keep], unpaid[keep]
    if parent.size == 0:
        return NextDue(due_day, amount)
    order = np.lexsort((days, parent))
    parent, days, unpaid = parent[order], days[order], unpaid[order]
    first = np.r_[True, parent[1:] != parent[:-1]]
    first_day = np.repeat(days[first], np.diff(np.r_[np.flatnonzero(first), parent.size]))
    on_first = days == first_day
    due_day[parent[first]] = days[first]
    np.add.at(amount, parent[on_first], unpaid[on_first])
    assert (amount >= 0).all()
    return NextDue(due_day, amount)


def score_columns(
    scores: pa.Table | None, account_ids: pa.Array
) -> dict[str, npt.NDArray[np.float64]]:
    """``early_warning`` and ``collection`` score per account (NaN when unscored).

    If an account has several scores of one model, the one with the latest ``score_as_of``
    (then the last row) counts.
    """
    n = len(account_ids)
    out = {model: np.full(n, np.nan) for model in SCORE_MODELS}
    if scores is None or scores.num_rows == 0:
        return out
    if "score_as_of" in scores.column_names:
        scores = scores.sort_by([("score_as_of", "ascending")])
    for model in SCORE_MODELS:
        rows = scores.filter(pc.equal(scores.column("model"), model))
        if rows.num_rows == 0:
            continue
        # index_in gives the first match; reversing the rows makes that the last row.
        rev = rows.take(pa.array(np.arange(rows.num_rows - 1, -1, -1)))
        position = pc.index_in(account_ids, value_set=rev.column("account_id"))
        values = pc.cast(rev.column("score"), pa.float64()).to_numpy(zero_copy_only=False)
        pos = pc.fill_null(position, -1).to_numpy(zero_copy_only=False)
        found = pos >= 0
        out[model][found] = values[pos[found]]
    return out


def events_today(
    events: pa.Table | None, account_ids: pa.Array, kind: str, as_of: date, offsets: list[int]
) -> npt.NDArray[np.int32]:
    """Per account, the offset d (from ``offsets``) such that an event of ``kind`` happened on
    as_of − d, the smallest one; −1 when none."""
    assert kind in EVENT_KINDS, kind
    result = np.full(len(account_ids), -1, dtype=np.int32)
    if events is None or events.num_rows == 0:
        return result
    assert events.num_rows <= MAX_EVENTS_PER_DAY, "events table too large for one day"
    of_kind = events.filter(pc.equal(events.column("kind"), kind))
    if of_kind.num_rows == 0:
        return result
    today = day_number(as_of)
    ev_days = pc.cast(of_kind.column("on_date"), pa.int32()).to_numpy(zero_copy_only=False)
    since = today - ev_days.astype(np.int64)
    hit = np.isin(since, np.array(sorted(set(offsets)), dtype=np.int64))
    if not hit.any():
        return result
    found = (
        pa.table(
            {"account_id": of_kind.column("account_id").filter(pa.array(hit)), "since": since[hit]}
        )
        .group_by("account_id")
        .aggregate([("since", "min")])
    )
    pos = pc.index_in(account_ids, value_set=found.column("account_id").combine_chunks())
    pos_np = pc.fill_null(pos, -1).to_numpy(zero_copy_only=False)
    smallest = found.column("since_min").to_numpy()
    result[pos_np >= 0] = smallest[pos_np[pos_np >= 0]]
    return result
