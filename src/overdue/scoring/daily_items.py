"""The day's rows of the daily scoring in Arrow: every account of the snapshot with its base
columns, its item aggregates and the flags of the fresh-score rule.

The account rows of the snapshot (and the few columns of the previous one the fresh-score
rule compares with: its event values, ``EVENT_SCHEMA``, which the daily run keeps beside the
previous snapshot so that its files are not read again) are read whole; the item aggregates are the as-of summary the batch wrote
into each account row (``portfolio.item_summary``), so no item file is read. The definitions
are ``features._item_features`` and ``score_eod.selection_expr``; the SQL form
``daily_features.day_rows_sql`` (over the item rows: what a format 2 snapshot, without the
summary, is scored with) and a test check that they agree.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import date, timedelta
from pathlib import Path
from typing import TypeVar

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from overdue.portfolio import item_summary
from overdue.portfolio.eod import snapshot_files
from overdue.portfolio.kernel import ACCOUNT_STATE_SCHEMA
from overdue.scoring import id_keys

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
ITEM_COLUMNS = item_summary.AGGREGATES
SUMMARY_INPUTS = tuple(item_summary.FEATURE_COLUMNS[name] for name in ITEM_COLUMNS)
ACCOUNT_INPUTS = tuple(dict.fromkeys([*BASE_COLUMNS, *CHANGE_COLUMNS, "items_count",
                                      *SUMMARY_INPUTS]))  # fmt: skip
PREVIOUS_INPUTS = CHANGE_COLUMNS
FLAG_COLUMNS = ("due_soon", "new_delinquent", "changed")

A = TypeVar("A")
B = TypeVar("B")


def beside(first: Callable[[], A], second: Callable[[], B]) -> tuple[A, B]:
    """``(first(), second())``, ``first`` on one worker thread while ``second`` runs on the
    caller's (two at once at most: the machine's two cores). Both always finish before this
    returns; an exception of either is raised here (``second``'s first when both raise).
    Worth it only where both release the GIL for most of their time (Arrow, Parquet, DuckDB,
    compiled loops with ``nogil``)."""
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="overdue-beside") as pool:
        pending = pool.submit(first)
        try:
            here = second()
        finally:  # the worker is waited for even when ``second`` raised
            there = pending.exception()
        if there is not None:
            raise there
        return pending.result(), here


class NoSummary(ValueError):
    """The snapshot's account files have no item summary (format 2): use the SQL form."""


def read(files: Sequence[Path], schema: pa.Schema, columns: Sequence[str]) -> pa.Table:
    """``columns`` of Parquet ``files`` as one table (typed and empty when there are none)."""
    wanted = pa.schema([schema.field(c) for c in columns])
    if not files:
        return wanted.empty_table()
    parts = []
    for file in files:  # file by file: faster than a dataset over the list
        part = pq.read_table(file, columns=list(columns), use_threads=False)
        parts.append(part.select(list(columns)).cast(wanted))
    return pa.concat_tables(parts)


def day_rows(
    snapshot_dir: Path, as_of: date, previous: date | None, warning_days: int
) -> pa.Table:
    """``daily_features.day_rows_sql``'s table (in the files' order, not sorted): every
    account of the snapshot of ``as_of`` with ``BASE_COLUMNS``, ``ITEM_COLUMNS`` (from the
    account rows' item summary; null for an account without items, as the SQL's join gives)
    and ``FLAG_COLUMNS``. Raises ``NoSummary`` for a snapshot written without the summary."""
    return day_rows_aligned(snapshot_dir, as_of, previous, warning_days)[0]


def day_rows_aligned(
    snapshot_dir: Path, as_of: date, previous: date | None, warning_days: int
) -> tuple[pa.Table, np.ndarray | None]:
    """``day_rows`` and each row's position among the previous snapshot's account rows (in
    its files' order; -1: not there; None without a previous snapshot)."""
    rows, at, _events = day_rows_with_events(snapshot_dir, as_of, previous, warning_days)
    return rows, at


EVENT_SCHEMA = pa.schema([("account_id", pa.string()), ("status", pa.string()),
                          ("bucket_cn", pa.string()), ("paid_total_fen", pa.int64()),
                          ("waived_total_fen", pa.int64()),
                          ("overdue_before_penalty_fen", pa.int64())])  # fmt: skip


def day_rows_with_events(
    snapshot_dir: Path, as_of: date, previous: date | None, warning_days: int,
    kept: pa.Table | None = None,
) -> tuple[pa.Table, np.ndarray | None, pa.Table]:  # fmt: skip
    """``day_rows_aligned`` and the day's event values (``EVENT_SCHEMA``, in the rows'
    order: what the next day compares with). ``kept``: the previous snapshot's event values
    (kept by the daily run beside it), read instead of its account files."""
    files = snapshot_files(snapshot_dir, as_of)
    names = {name for f in files for name in pq.read_schema(f).names}
    if files and not set(SUMMARY_INPUTS) <= names:
        raise NoSummary(str(files[0]))
    accounts = read(files, ACCOUNT_STATE_SCHEMA, ACCOUNT_INPUTS)
    ids = accounts["account_id"].combine_chunks()
    out = {name: accounts[name].combine_chunks() for name in BASE_COLUMNS}
    none = pc.equal(accounts["items_count"], 0).combine_chunks()
    for name, column in zip(ITEM_COLUMNS, SUMMARY_INPUTS, strict=True):
        values = accounts[column].combine_chunks()
        out[name] = pc.if_else(none, pa.scalar(None, values.type), values)
    soon = pa.scalar(as_of + timedelta(days=warning_days), pa.date32())
    out["due_soon"] = pc.fill_null(pc.less_equal(out["next_due_date"], soon), False)
    since = accounts["delinquent_since"].combine_chunks()
    now = event_table(accounts)
    at = None
    if previous is None:
        out["new_delinquent"] = pc.is_valid(since)
        out["changed"] = pa.array(np.ones(len(ids), dtype=bool))
    else:
        if kept is None:
            kept = event_table(read(snapshot_files(snapshot_dir, previous), ACCOUNT_STATE_SCHEMA,
                                    ["account_id", *PREVIOUS_INPUTS]))  # fmt: skip
        before, at = _aligned_rows(kept, ids)
        after = pc.greater(since, pa.scalar(previous, pa.date32()))
        out["new_delinquent"] = pc.fill_null(after, False)
        out["changed"] = _changed_events(now, before)
    return pa.table(out), at, now


def event_table(accounts: pa.Table) -> pa.Table:
    """``EVENT_SCHEMA``: the account ids and their ``event_values`` (nulls filled)."""
    values = event_values(accounts)
    ids = accounts["account_id"].combine_chunks()
    return pa.table([ids, *values.values()], schema=EVENT_SCHEMA)


def _aligned_rows(before: pa.Table, ids: pa.Array) -> tuple[pa.Table, np.ndarray]:
    """(``before``'s rows in the order of ``ids``, a null row where an account is missing;
    each id's position in ``before``, -1 where missing)."""
    if ids.equals(before["account_id"].combine_chunks()):
        return before.combine_chunks(), np.arange(len(ids), dtype=np.int64)
    at = positions_in(ids, before["account_id"].combine_chunks())
    taken = pa.array(at, pa.int64(), mask=at < 0)
    return before.take(taken), at


MAX_RUNS = 16  # sorted runs per side merged pairwise; more: a hash (``pc.index_in``)


def positions_in(ids: pa.Array, value_set: pa.Array) -> np.ndarray:
    """Each id's position in ``value_set`` (its first occurrence; -1: absent), as
    ``pc.index_in``. A snapshot's account files are a few runs sorted by id (the replayed and
    the resumed accounts), so the runs of both sides are merged pairwise as integer keys
    (``id_keys``: compiled, no hash of a million strings); more than ``MAX_RUNS`` runs on a
    side, nulls or ids too long for keys: ``pc.index_in``."""
    if not len(ids) or not len(value_set):
        return _index_in(ids, value_set)
    keys = id_keys.keys(ids, value_set)
    if keys is None:
        return _index_in(ids, value_set)
    a_keys, b_keys = keys
    a_starts, b_starts = id_keys.run_starts(a_keys), id_keys.run_starts(b_keys)
    if max(len(a_starts), len(b_starts)) - 1 > MAX_RUNS:
        return _index_in(ids, value_set)
    found = np.full(len(ids), -1, np.int64)
    id_keys.merge_runs(a_keys, a_starts, b_keys, b_starts, found)
    return found


def _index_in(ids: pa.Array, value_set: pa.Array) -> np.ndarray:
    taken = pc.index_in(ids, value_set=value_set)
    return np.asarray(taken.fill_null(-1).to_numpy(zero_copy_only=False), np.int64)


def _changed(now: pa.Table, before: pa.Table) -> pa.Array:
    """Per row: an event (``CHANGE_COLUMNS``) since ``before`` (aligned to ``now``)."""
    return _changed_events(event_table(now), event_table(before))


def _changed_events(now: pa.Table, before: pa.Table) -> pa.Array:
    """Per row: an event since ``before`` (``EVENT_SCHEMA`` tables, ``before`` aligned to
    ``now``: a null row where the account was not there)."""
    missing = pc.is_null(before["account_id"]).to_numpy(zero_copy_only=False)
    changed = missing.copy()
    for name in EVENT_SCHEMA.names[1:]:
        a = now[name].combine_chunks()
        b = pc.fill_null(before[name].combine_chunks(), "" if pa.types.is_string(a.type) else -1)
        changed = changed | pc.not_equal(a, b).to_numpy(zero_copy_only=False)
    return pa.array(changed)


def merged_order(
    a_codes: np.ndarray, a_ids: pa.Array, b_codes: np.ndarray, b_ids: pa.Array
) -> np.ndarray | None:
    """Positions into ``a`` then ``b`` (``b``'s shifted by ``len(a)``) that put the rows of both
    in (code, id) order, as a stable sort of ``a`` + ``b`` would, when each side is already in
    that order (checked); None when either is not (or holds a null id, or ids too long for
    ``id_keys``)."""
    ca, cb = np.asarray(a_codes, np.int64), np.asarray(b_codes, np.int64)
    assert len(ca) == len(a_ids) and len(cb) == len(b_ids)
    keys = id_keys.keys(a_ids, b_ids)
    if keys is None:
        return None
    a_keys, b_keys = keys
    if not (id_keys.in_code_order(ca, a_keys) and id_keys.in_code_order(cb, b_keys)):
        return None
    out = np.empty(len(ca) + len(cb), np.int64)
    id_keys.merge_code_order(ca, a_keys, cb, b_keys, out)
    return out
