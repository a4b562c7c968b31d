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

import numba
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from overdue.portfolio import item_summary
from overdue.portfolio.account_handoff import AccountHandoff
from overdue.portfolio.eod import snapshot_files
from overdue.portfolio.fast_inputs import string_buffers
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
        out[name] = _filled(table[name].combine_chunks(), "")
    for name in EVENT_NUMBERS:
        out[name] = _filled(table[name].combine_chunks(), -1)
    before_penalty = pc.subtract(table["total_overdue_fen"].combine_chunks(),
                                 table["penalty_accrued_fen"].combine_chunks())  # fmt: skip
    out["overdue_before_penalty_fen"] = _filled(before_penalty, -1)
    return out


def _filled(column: pa.Array, value: str | int) -> pa.Array:
    """``column`` with its nulls as ``value`` (itself when it has none: no copy)."""
    return pc.fill_null(column, value) if column.null_count else column


BASE_COLUMNS = ("account_id", "as_of", "product", "status", "bucket_cn", "delinquent_since",
                "dpd", "max_dpd", "total_overdue_fen", "penalty_accrued_fen",
                "revolved_amount_fen", "paid_total_fen")  # fmt: skip
ITEM_COLUMNS = item_summary.AGGREGATES
SUMMARY_INPUTS = tuple(item_summary.FEATURE_COLUMNS[name] for name in ITEM_COLUMNS)
ACCOUNT_INPUTS = tuple(dict.fromkeys([*BASE_COLUMNS, *CHANGE_COLUMNS, "items_count",
                                      *SUMMARY_INPUTS]))  # fmt: skip
INPUT_SCHEMA = pa.schema([ACCOUNT_STATE_SCHEMA.field(c) for c in ACCOUNT_INPUTS])
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
    kept: pa.Table | None = None, *, lean: bool = False, handoff: AccountHandoff | None = None,
) -> tuple[pa.Table, np.ndarray | None, pa.Table]:  # fmt: skip
    """``day_rows_aligned`` and the day's event values (``EVENT_SCHEMA``, in the rows'
    order: what the next day compares with). ``kept``: the previous snapshot's event values
    (kept by the daily run beside it), read instead of its account files. ``handoff``: the
    account rows the batch of this process wrote, taken instead of reading them back when
    they are this snapshot's files (the same rows).

    ``lean``: the base and item columns as read (chunked: no copy of a million rows), the item
    columns other than ``next_due_date`` not yet nulled for accounts without items and
    ``ITEMS_COUNT`` last, so that ``nulled_items`` finishes the few rows a caller takes (the
    daily scoring's fresh rows): ``nulled_items(lean.take(rows))`` equals ``day_rows``'s
    rows ``rows``. The flags and ``next_due_date`` are final either way."""
    files = snapshot_files(snapshot_dir, as_of)
    names = {name for f in files for name in pq.read_schema(f).names}
    if files and not set(SUMMARY_INPUTS) <= names:
        raise NoSummary(str(files[0]))
    accounts = None if handoff is None else handoff.table(files, INPUT_SCHEMA)
    if accounts is None:
        accounts = read(files, ACCOUNT_STATE_SCHEMA, ACCOUNT_INPUTS)
    ids = accounts["account_id"].combine_chunks()
    out: dict[str, pa.Array | pa.ChunkedArray] = {name: accounts[name] for name in BASE_COLUMNS}
    out["account_id"] = ids
    for name, column in zip(ITEM_COLUMNS, SUMMARY_INPUTS, strict=True):
        out[name] = accounts[column]
    none = pc.equal(accounts[ITEMS_COUNT], 0)
    due = accounts[item_summary.FEATURE_COLUMNS["next_due_date"]]
    out["next_due_date"] = pc.if_else(none, pa.scalar(None, due.type), due)
    soon = pa.scalar(as_of + timedelta(days=warning_days), pa.date32())
    out["due_soon"] = pc.fill_null(pc.less_equal(out["next_due_date"], soon), False)
    since = accounts["delinquent_since"]
    now = event_table(accounts, ids)
    at = None
    if previous is None:
        out["new_delinquent"] = pc.is_valid(since)
        out["changed"] = pa.array(np.ones(len(ids), dtype=bool))
    else:
        if kept is None:
            kept = event_table(read(snapshot_files(snapshot_dir, previous), ACCOUNT_STATE_SCHEMA,
                                    ["account_id", *PREVIOUS_INPUTS]))  # fmt: skip
        at = _positions(kept, ids)
        after = pc.greater(since, pa.scalar(previous, pa.date32()))
        out["new_delinquent"] = pc.fill_null(after, False)
        out["changed"] = pa.array(changed_since(now, kept, at))
    out[ITEMS_COUNT] = accounts[ITEMS_COUNT]
    rows = pa.table(out)
    if not lean:
        rows = nulled_items(rows).combine_chunks()
    return rows, at, now


ITEMS_COUNT = "items_count"  # a lean day's last column: what ``nulled_items`` reads


def nulled_items(rows: pa.Table) -> pa.Table:
    """Rows of a lean day (``day_rows_with_events(..., lean=True)``) as ``day_rows`` gives
    them: the item columns null for an account without items, ``ITEMS_COUNT`` dropped; other
    tables as they are."""
    if ITEMS_COUNT not in rows.column_names:
        return rows
    none = pc.equal(rows[ITEMS_COUNT], 0)
    for name in ITEM_COLUMNS:
        k = rows.schema.get_field_index(name)
        values = rows.column(k)
        rows = rows.set_column(k, name, pc.if_else(none, pa.scalar(None, values.type), values))
    return rows.drop_columns([ITEMS_COUNT])


def event_table(accounts: pa.Table, ids: pa.Array | None = None) -> pa.Table:
    """``EVENT_SCHEMA``: the account ids (``ids`` when given: ``accounts``'s, combined) and
    their ``event_values`` (nulls filled)."""
    values = event_values(accounts)
    ids = accounts["account_id"].combine_chunks() if ids is None else ids
    assert len(ids) == accounts.num_rows
    return pa.table([ids, *values.values()], schema=EVENT_SCHEMA)


def _positions(before: pa.Table, ids: pa.Array) -> np.ndarray:
    """Each id's position in ``before``'s ``account_id`` (-1: missing)."""
    theirs = before["account_id"].combine_chunks()
    if ids.equals(theirs):
        return np.arange(len(ids), dtype=np.int64)
    return positions_in(ids, theirs)


def changed_since(now: pa.Table, before: pa.Table, at: np.ndarray) -> np.ndarray:
    """Per row of ``now``: an event since ``before`` (``EVENT_SCHEMA`` tables; ``at``: each
    row's position in ``before``, -1 where the account was not there), as ``_changed_events``
    on ``before`` aligned by ``at``, compiled and without aligning a copy of ``before``."""
    at = np.asarray(at, np.int64)
    assert len(at) == now.num_rows and (at < before.num_rows).all()
    changed = at < 0
    for name in EVENT_SCHEMA.names[1:]:
        a, b = now[name].combine_chunks(), before[name].combine_chunks()
        if a.null_count or b.null_count:  # event values are filled: not from event_table
            return np.asarray(_changed_events(now, _taken(before, at)).to_numpy(
                zero_copy_only=False), bool)  # fmt: skip
        if pa.types.is_string(a.type):
            (a_offsets, a_data), (b_offsets, b_data) = string_buffers(a), string_buffers(b)
            _strings_differ(a_offsets, a_data, b_offsets, b_data, at, changed)
        else:
            _numbers_differ(np.asarray(a.to_numpy(zero_copy_only=False), np.int64),
                            np.asarray(b.to_numpy(zero_copy_only=False), np.int64), at,
                            changed)  # fmt: skip
    return changed


@numba.njit(cache=True, nogil=True)
def _numbers_differ(now: np.ndarray, before: np.ndarray, at: np.ndarray, out: np.ndarray) -> None:
    for i in range(len(at)):
        if at[i] >= 0 and now[i] != before[at[i]]:
            out[i] = True


@numba.njit(cache=True, nogil=True)
def _strings_differ(
    a_offsets: np.ndarray, a_data: np.ndarray, b_offsets: np.ndarray, b_data: np.ndarray,
    at: np.ndarray, out: np.ndarray,
) -> None:  # fmt: skip
    for i in range(len(at)):
        j = at[i]
        if j < 0 or out[i]:
            continue
        start, size = a_offsets[i], a_offsets[i + 1] - a_offsets[i]
        there = b_offsets[j]
        if b_offsets[j + 1] - there != size:
            out[i] = True
            continue
        for k in range(size):
            if a_data[start + k] != b_data[there + k]:
                out[i] = True
                break


def _taken(before: pa.Table, at: np.ndarray) -> pa.Table:
    return before.take(pa.array(at, pa.int64(), mask=at < 0))


MAX_RUNS = 16  # sorted runs per side merged pairwise; more: a hash (``pc.index_in``)


def positions_in(ids: pa.Array, value_set: pa.Array) -> np.ndarray:
    """Each id's position in ``value_set`` (its first occurrence; -1: absent), as
    ``pc.index_in``. A snapshot's account files are a few runs sorted by id (the replayed and
    the resumed accounts), so the runs of both sides are merged pairwise as integer keys
    (``id_keys``: compiled, no hash of a million strings); when only one side is a single
    sorted run, the other's keys are looked up in it by binary search; more than ``MAX_RUNS``
    runs on both sides, nulls or ids too long for keys: ``pc.index_in``."""
    if not len(ids) or not len(value_set):
        return _index_in(ids, value_set)
    keys = id_keys.keys(ids, value_set)
    if keys is None:
        return _index_in(ids, value_set)
    a_keys, b_keys = keys
    a_starts, b_starts = id_keys.run_starts(a_keys), id_keys.run_starts(b_keys)
    way = _cheapest_way(len(a_starts) - 1, len(b_starts) - 1, len(ids), len(value_set))
    if way == "hash":
        return _index_in(ids, value_set)
    found = np.full(len(ids), -1, np.int64)
    if way == "merge":
        id_keys.merge_runs(a_keys, a_starts, b_keys, b_starts, found)
    elif way == "search":  # ``ids`` in runs or in any order, the value set one sorted run
        id_keys.search_sorted(a_keys, b_keys, found)
    else:  # ``ids`` one sorted run, the value set in runs or in any order
        id_keys.search_into_sorted(a_keys, b_keys, found)
    return found


def _cheapest_way(a_runs: int, b_runs: int, a_size: int, b_size: int) -> str:
    """How ``positions_in`` matches ids in ``a_runs`` sorted runs against ``b_runs``:
    "merge", "search" (binary search in ``b``, one run), "search_into" (in ``a``, one run) or
    "hash", by estimated steps: a merge passes over each run pair; a binary search takes
    about twice log2(n) steps per key of the other side (its steps are slower)."""
    costs: dict[str, int] = {}
    if max(a_runs, b_runs) <= MAX_RUNS:
        costs["merge"] = a_runs * b_size + b_runs * a_size
    if b_runs == 1:
        costs["search"] = 2 * a_size * b_size.bit_length()
    elif a_runs == 1:
        costs["search_into"] = 2 * b_size * a_size.bit_length()
    return min(costs, key=costs.__getitem__) if costs else "hash"


def warm_up() -> None:
    """Load the compiled kernels of the day's merges and comparisons (numba's cache) on a few
    rows: a process that preloads the scoring beside its batch (``overdue eod --models``)
    then does not load them inside the scoring."""
    ids, repeated = pa.array(["A1", "A2"]), pa.array(["A2", "A1", "A2"])
    keys = id_keys.keys(repeated, ids)
    assert keys is not None
    a, b = keys
    id_keys.merge_runs(a, id_keys.run_starts(a), b, id_keys.run_starts(b),
                       np.full(len(a), -1, np.int64))  # fmt: skip
    id_keys.search_sorted(a, b, np.full(len(a), -1, np.int64))
    id_keys.search_into_sorted(b, a, np.full(len(b), -1, np.int64))
    codes = np.zeros(len(ids), np.int64)
    merged_order(codes, ids, codes, ids)
    empty = EVENT_SCHEMA.empty_table()
    changed_since(empty, empty, np.zeros(0, np.int64))


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
