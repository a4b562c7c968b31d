"""The day's rows of the daily scoring in Arrow and numpy: every account of the snapshot with its
base columns, its item aggregates and the flags of the fresh-score rule.

The account rows of the snapshot and of the previous one are read whole; the item aggregates
come from ``item_state``: kept beside the previous snapshot and recomputed (numpy segment sums
over each account's consecutive item rows) only for the accounts whose items may have moved. The definitions are ``features._item_features`` and ``score_eod.selection_expr``; the
SQL form ``daily_features.day_rows_sql`` (used when an item column holds nulls) and a test
check that all three agree.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from overdue.portfolio.eod import snapshot_files, snapshot_path
from overdue.portfolio.kernel import ACCOUNT_STATE_SCHEMA
from overdue.scoring import item_state

# What a change of state is, for the fresh-score rule: status, bucket, paid and waived totals and
# the overdue amount before penalty. DPD aging and penalty accrual move every day for every
# overdue account and are not events; ``MAX_SCORE_AGE_DAYS`` bounds how stale they may get.
CHANGE_COLUMNS = ("status", "bucket_cn", "total_overdue_fen", "penalty_accrued_fen",
                  "paid_total_fen", "waived_total_fen")  # fmt: skip
STRING_CHANGE = ("status", "bucket_cn")
EVENT_NUMBERS = ("paid_total_fen", "waived_total_fen")


def event_values(table: pa.Table) -> dict[str, pa.Array]:
    """The values whose change is an event (nulls as "" or -1), from ``CHANGE_COLUMNS``."""
    out: dict[str, pa.Array] = {}
    for name in STRING_CHANGE:
        out[name] = pc.fill_null(table[name].combine_chunks(), "")
    for name in EVENT_NUMBERS:
        out[name] = pc.fill_null(table[name].combine_chunks(), -1)
    before_penalty = pc.subtract(table["total_overdue_fen"].combine_chunks(),
                                 table["penalty_accrued_fen"].combine_chunks())  # fmt: skip
    out["overdue_before_penalty_fen"] = pc.fill_null(before_penalty, -1)
    return out


BASE_COLUMNS = ("account_id", "as_of", "product", "status", "bucket_cn", "delinquent_since",
                "dpd", "max_dpd", "total_overdue_fen", "penalty_accrued_fen",
                "revolved_amount_fen", "paid_total_fen")  # fmt: skip
ITEM_COLUMNS = item_state.AGGREGATES
ITEM_INPUTS = item_state.ITEM_INPUTS
ACCOUNT_INPUTS = tuple(dict.fromkeys([*BASE_COLUMNS, *CHANGE_COLUMNS, *item_state.WATCHED]))
PREVIOUS_INPUTS = tuple(dict.fromkeys([*CHANGE_COLUMNS, *item_state.WATCHED]))
FLAG_COLUMNS = ("due_soon", "new_delinquent", "changed")


NullItems = item_state.NullItems  # an item column holds nulls: use the SQL form


def read(files: Sequence[Path], schema: pa.Schema, columns: Sequence[str]) -> pa.Table:
    """``columns`` of Parquet ``files`` as one table (typed and empty when there are none)."""
    wanted = pa.schema([schema.field(c) for c in columns])
    if not files:
        return wanted.empty_table()
    parts = []
    for file in files:  # file by file: faster than a dataset over the list
        part = pq.read_table(file, columns=list(columns), use_threads=False)
        parts.append(part.select(list(columns)).cast(wanted))
    return pa.concat_tables(parts)  # chunked: combining 7M item rows costs seconds


def day_rows(
    snapshot_dir: Path, as_of: date, previous: date | None, warning_days: int,
    book_dir: Path | None = None,
) -> pa.Table:  # fmt: skip
    """``daily_features.day_rows_sql``'s table (in the files' order, not sorted): every
    account of the snapshot of ``as_of`` with ``BASE_COLUMNS``, ``ITEM_COLUMNS`` and
    ``FLAG_COLUMNS``. The item columns are kept from the previous snapshot's state for the
    accounts whose items cannot have moved (``item_state``; needs ``book_dir``)."""
    return day_rows_and_stats(snapshot_dir, as_of, previous, warning_days, book_dir)[0]


def day_rows_and_stats(
    snapshot_dir: Path, as_of: date, previous: date | None, warning_days: int,
    book_dir: Path | None = None,
) -> tuple[pa.Table, item_state.ItemStats]:  # fmt: skip
    """``day_rows`` and what the item state did."""
    files = snapshot_files(snapshot_dir, as_of)
    accounts = read(files, ACCOUNT_STATE_SCHEMA, ACCOUNT_INPUTS)
    ids = accounts["account_id"].combine_chunks()
    before, state, at, from_state = None, None, None, False
    if previous is not None:
        state = item_state.read_state(snapshot_dir, previous, book_dir)
        kept = ["account_id", *PREVIOUS_INPUTS]
        from_state = state is not None and set(kept) <= set(state.column_names)
        if state is not None and from_state:
            rows = state.select(kept)  # the previous account rows, kept with the state
        else:
            rows = read(snapshot_files(snapshot_dir, previous), ACCOUNT_STATE_SCHEMA, kept)
        before, at = _aligned_rows(rows, ids)
    per_account, stats = item_state.item_columns(
        snapshot_path(snapshot_dir, as_of), files, accounts, before, as_of, previous, book_dir,
        state=state, at=(at, from_state), keep=accounts.select(list(PREVIOUS_INPUTS)),
    )
    out = {name: accounts[name].combine_chunks() for name in BASE_COLUMNS}
    out.update(per_account)
    next_due = per_account["next_due_date"]
    soon = pa.scalar(as_of + timedelta(days=warning_days), pa.date32())
    out["due_soon"] = pc.fill_null(pc.less_equal(next_due, soon), False)
    since = accounts["delinquent_since"].combine_chunks()
    if previous is None or before is None:
        out["new_delinquent"] = pc.is_valid(since)
        out["changed"] = pa.array(np.ones(len(ids), dtype=bool))
    else:
        after = pc.greater(since, pa.scalar(previous, pa.date32()))
        out["new_delinquent"] = pc.fill_null(after, False)
        out["changed"] = _changed(accounts, before)
    return pa.table(out), stats


def _aligned_rows(before: pa.Table, ids: pa.Array) -> tuple[pa.Table, pa.Array | None]:
    """(``before``'s rows in the order of ``ids``, a null row where an account is missing;
    the positions taken, None when already in that order)."""
    if ids.equals(before["account_id"].combine_chunks()):
        return before.combine_chunks(), None
    at = pc.index_in(ids, value_set=before["account_id"].combine_chunks())
    return before.take(at), at


def _changed(now: pa.Table, before: pa.Table) -> pa.Array:
    """Per row: an event (``CHANGE_COLUMNS``) since ``before`` (aligned to ``now``)."""
    missing = pc.is_null(before["account_id"]).to_numpy(zero_copy_only=False)
    a, b = event_values(now), event_values(before)
    changed = missing.copy()
    for name in a:
        changed = changed | pc.not_equal(a[name], b[name]).to_numpy(zero_copy_only=False)
    return pa.array(changed)
