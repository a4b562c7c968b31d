"""Per-account item aggregates kept beside each snapshot, so that a day recomputes only the
accounts whose items may have moved instead of aggregating every item row of the book.

``feature_state/items.arrow`` (one row per account of the snapshot) holds
``daily_items.ITEM_COLUMNS``, ``n_items`` (the account's item rows) and ``next_edge``: the
first later day on which an aggregate of an account whose items did not change still changes
(an item falls due, becomes past, reaches a grace end or leaves a 3/6/12-month window).

An account's items change only through (the kernel, ``domain.engine``):

- an event booked since the previous snapshot: a due item, payment, waiver or reversal;
- daily accrual on an open past-due item (``penalty_days``): such an account has ``dpd`` ≥ 1;
- the date alone: credit applied on a due date, the minimum judged at the end of grace, the
  grace window settled the day after (``penalty_days`` reset), covered by ``next_edge``.

So a day recomputes the accounts that are new, have an event, have ``dpd`` ≥ 1 today or a
``WATCHED`` column that differs from the previous snapshot's, or whose ``next_edge`` has come;
the others keep yesterday's row. Only the recomputed accounts' item rows are gathered: the
batch writes an account file and its item file in the same account order, so an account's rows
start at the running sum of the item counts before it (the counts of unchanged accounts are
kept, a recomputed account's count is its kept one plus its due items booked since), checked
against each file's row count and against the account id at both ends of every gathered
range. Any doubt (no state, a rewritten previous snapshot, a check that fails, an unknown
account) falls back to aggregating every item row, which is also how the state starts.
``tests/scoring/test_item_state.py`` checks day after day that the kept aggregates equal a
computation from scratch.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from overdue.portfolio import contract
from overdue.portfolio.eod import event_files, snapshot_path
from overdue.portfolio.kernel import ITEM_ROW_SCHEMA
from overdue.scoring.features import WINDOWS_DAYS

STATE_NAME = "items.arrow"
FORMAT = "items/1"
EVENT_TABLES = ("due_items", "payments", "waivers", "reversals")
# account columns that move with an account's items (besides ``dpd``, tested separately)
WATCHED = ("status", "dpd", "total_overdue_fen", "penalty_accrued_fen", "paid_total_fen",
           "waived_total_fen", "credit_balance_fen", "revolved_amount_fen")  # fmt: skip
ITEM_INPUTS = ("account_id", "due_date", "principal_fen", "interest_fen", "fee_fen",
               "minimum_fen", "paid_fen", "unpaid_principal_fen", "unpaid_interest_fen",
               "unpaid_fee_fen", "penalty_days")  # fmt: skip
AGGREGATES = ("n_items_past", "n_items_late", "due_past_fen", "paid_past_fen",
              "outstanding_fen", "next_due_date", "days_late_3m", "due_3m_fen",
              "paid_3m_items_fen", "days_late_6m", "days_late_12m", "next_due_amount_fen")  # fmt: skip
NO_DATE = np.iinfo(np.int32).max
EPOCH = date(1970, 1, 1)
MAX_GRACE_VALUES = 64


class NullItems(ValueError):
    """An item column the segment sums need holds nulls: use the SQL form."""


@dataclass
class ItemStats:
    """What a day did: ``mode`` "kept" (recomputed a part) or "full" (every item row)."""

    mode: str = "full"
    recomputed: int = 0
    accounts: int = 0
    item_rows: int = 0
    reason: str = ""
    counts: dict[str, int] = field(default_factory=dict)


def day_number(day: date) -> int:
    return (day - EPOCH).days


def _ints(table: pa.Table, name: str) -> np.ndarray:
    column = table[name]
    if column.null_count:
        raise NullItems(name)
    return np.asarray(column.to_numpy(), dtype=np.int64)


def _days(column: pa.ChunkedArray | pa.Array) -> np.ndarray:
    return np.asarray(pc.cast(column, pa.int32()).to_numpy(zero_copy_only=False), dtype=np.int64)


def aggregate_runs(
    items: pa.Table, sizes: np.ndarray, as_of: date, graces: Sequence[int]
) -> dict[str, np.ndarray]:
    """Per run of ``items`` (consecutive rows of one account; ``sizes`` ≥ 1 rows each): the
    aggregates (``AGGREGATES``, dates as day numbers, ``NO_DATE`` for none) plus ``n_items``
    and ``next_edge``. The definitions are ``features._item_features``."""
    n = items.num_rows
    assert int(sizes.sum()) == n and (sizes >= 1).all()
    starts = np.r_[0, np.cumsum(sizes)[:-1]].astype(np.int64)
    if items["due_date"].null_count:
        raise NullItems("due_date")
    due = _days(items["due_date"])
    day = day_number(as_of)
    required = (
        _ints(items, "principal_fen") + _ints(items, "interest_fen") + _ints(items, "fee_fen")
    )
    paid = _ints(items, "paid_fen")
    unpaid = (_ints(items, "unpaid_principal_fen") + _ints(items, "unpaid_interest_fen")
              + _ints(items, "unpaid_fee_fen"))  # fmt: skip
    late = _ints(items, "penalty_days")
    minimum = items["minimum_fen"]
    no_minimum = pc.is_null(minimum).to_numpy(zero_copy_only=False)
    asked = np.where(
        no_minimum, required, np.asarray(pc.fill_null(minimum, 0).to_numpy(), np.int64)
    )
    ask = np.maximum(asked - paid, 0)
    if not n:
        empty = np.zeros(0, np.int64)
        return {name: empty for name in (*AGGREGATES, "n_items", "next_edge")}

    def total(values: np.ndarray) -> np.ndarray:
        return np.add.reduceat(values.astype(np.int64), starts)

    past = due < day
    upcoming = (due > day) & (unpaid > 0)
    next_due = np.minimum.reduceat(np.where(upcoming, due, NO_DATE), starts)
    at_next = due == np.repeat(next_due, sizes)
    out = {
        "n_items_past": total(past),
        "n_items_late": total(past & (late > 0)),
        "due_past_fen": total(np.where(past, required, 0)),
        "paid_past_fen": total(np.where(past, paid, 0)),
        "outstanding_fen": total(unpaid),
        "next_due_date": next_due,
        "next_due_amount_fen": total(np.where(at_next, ask, 0)),
        "n_items": sizes.astype(np.int64),
    }
    for name, window in WINDOWS_DAYS.items():
        inside = past & (due >= day - window)
        out[f"days_late_{name}"] = total(np.where(inside, late, 0))
        if name == "3m":
            out["due_3m_fen"] = total(np.where(inside, required, 0))
            out["paid_3m_items_fen"] = total(np.where(inside, paid, 0))
    out["next_edge"] = np.minimum.reduceat(_edges(due, day, graces), starts)
    return out


def edge_offsets(graces: Sequence[int]) -> list[int]:
    """Days after a due date on which an unchanged item's aggregates or ledger move: the due
    date itself (no longer upcoming; credit applied), the day after (past), the end of grace
    (minimum judged) and the day after it (grace settled), each window's first day outside."""
    assert len(graces) <= MAX_GRACE_VALUES
    offsets = {0, 1, *(g for g in graces), *(g + 1 for g in graces)}
    offsets |= {w + 1 for w in WINDOWS_DAYS.values()}
    return sorted(offsets)


def _edges(due: np.ndarray, day: int, graces: Sequence[int]) -> np.ndarray:
    """Per item row: the first edge day after ``day`` (``NO_DATE`` when none is left)."""
    best = np.full(len(due), NO_DATE, dtype=np.int64)
    for k in edge_offsets(graces):
        edge = due + k
        best = np.where((edge > day) & (edge < best), edge, best)
    return best


# -- reading ---------------------------------------------------------------------------------


def read_items(file: Path, columns: Sequence[str] = ITEM_INPUTS) -> pa.Table:
    wanted = pa.schema([ITEM_ROW_SCHEMA.field(c) for c in columns])
    # one thread: on the shared 2-core machine the threaded reader was slower and erratic
    table = pq.read_table(file, columns=list(columns), use_threads=False)
    return table.select(list(columns)).cast(wanted)


def runs(ids: pa.ChunkedArray | pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """(starts, sizes) of the runs of equal consecutive ids."""
    n = len(ids)
    change = np.ones(n, dtype=bool)
    if n > 1:
        change[1:] = pc.not_equal(ids[1:], ids[:-1]).to_numpy(zero_copy_only=False)
    starts = np.flatnonzero(change)
    return starts, np.diff(np.r_[starts, n]).astype(np.int64)


def event_accounts(
    book_dir: Path, previous: date, as_of: date
) -> tuple[pa.Array, pa.Array, np.ndarray]:
    """(accounts with any item-moving event booked in (previous, as_of], the accounts with new
    due items, how many new due items each)."""
    seen = []
    due_counts: tuple[pa.Array, np.ndarray] = (pa.array([], pa.string()), np.zeros(0, np.int64))
    for name in EVENT_TABLES:
        files = event_files(book_dir, name, previous, as_of)
        spec = contract.TABLES[name].arrow_schema()
        parts = [pq.read_table(f, columns=["account_id"]).cast(
            pa.schema([spec.field("account_id")])) for f in files]  # fmt: skip
        if not parts:
            continue
        ids = pa.concat_tables(parts)["account_id"].combine_chunks()
        seen.append(ids)
        if name == "due_items":
            counted = pc.value_counts(ids)
            due_counts = (
                counted.field("values"),
                np.asarray(counted.field("counts").to_numpy(), np.int64),
            )
    touched = pc.unique(pa.concat_arrays(seen)) if seen else pa.array([], pa.string())
    return touched, due_counts[0], due_counts[1]


# -- the day's item columns ------------------------------------------------------------------

_GRACES: dict[tuple[str, int], list[int]] = {}


def grace_values(book_dir: Path) -> list[int]:
    """The distinct ``grace_days`` of the book's policies (cached per accounts file)."""
    from overdue.portfolio.eod import resolve_policies

    file = book_dir / "accounts.parquet"
    key = (str(file.resolve()), file.stat().st_mtime_ns)
    if key not in _GRACES:
        _GRACES[key] = sorted({p.grace_days for p in resolve_policies(book_dir).values()})
    return _GRACES[key]


def state_fingerprint(folder: Path, as_of: date, graces: Sequence[int]) -> str:
    from overdue.scoring.daily_features import _fingerprint as fingerprint
    from overdue.scoring.daily_features import _identity

    return fingerprint([FORMAT, as_of.isoformat(), _identity(folder / "items"), list(graces)])


def _item_file(account_file: Path, folder: Path) -> Path:
    return folder / "items" / account_file.relative_to(folder / "accounts")


def read_state(snapshot_dir: Path, previous: date, book_dir: Path | None) -> pa.Table | None:
    """The item state kept beside the snapshot of ``previous`` (None: absent, derived from
    other files, or no book to read the events of)."""
    from overdue.scoring.daily_features import _read_state

    if book_dir is None:
        return None
    there = snapshot_path(snapshot_dir, previous)
    return _read_state(there, STATE_NAME, state_fingerprint(there, previous, grace_values(book_dir)))


def item_columns(
    folder: Path, account_files: Sequence[Path], accounts: pa.Table, before: pa.Table | None,
    as_of: date, previous: date | None, book_dir: Path | None, *, state: pa.Table | None = None,
    at: tuple[pa.Array | None, bool] = (None, False), keep: pa.Table | None = None,
) -> tuple[dict[str, pa.Array], ItemStats]:  # fmt: skip
    """The item aggregates (``AGGREGATES``) of every account of ``accounts`` (the snapshot's
    account rows in the order of ``account_files``; ``before``: the previous snapshot's rows,
    ``account_id`` and ``WATCHED``, aligned to ``accounts``), kept from the previous snapshot's
    ``state`` (``read_state``) where possible; writes the state of ``as_of`` into ``folder``
    with the columns of ``keep`` (today's account values, tomorrow's ``before``). ``at``: the
    positions that aligned ``before`` and whether they align ``state`` too (its rows)."""
    from overdue.scoring.daily_features import _write_state

    graces = grace_values(book_dir) if book_dir is not None else []
    sizes = [pq.ParquetFile(f).metadata.num_rows for f in account_files]
    assert sum(sizes) == accounts.num_rows, "the account files changed while read"
    item_files = [_item_file(f, folder) for f in account_files]
    stats = ItemStats(reason="no state" if previous is not None and state is None else "")
    values: dict[str, np.ndarray] | None = None
    usable = previous is not None and before is not None and book_dir is not None
    if state is not None and usable and all(f.is_file() for f in item_files):
        assert book_dir is not None and previous is not None and before is not None
        values, stats = _kept(item_files, sizes, accounts, before, state, at, as_of, previous,
                              book_dir, graces)  # fmt: skip
    if values is None:
        values = _full(item_files, accounts, as_of, graces)
        stats = ItemStats("full", accounts.num_rows, accounts.num_rows,
                          reason=stats.reason)  # fmt: skip
    columns = {"account_id": accounts["account_id"].combine_chunks(),
               **{k: pa.array(values[k], pa.int64()) for k in (*AGGREGATES, "n_items",
                                                                "next_edge")}}  # fmt: skip
    if keep is not None:
        columns.update({name: keep[name].combine_chunks() for name in keep.column_names})
    _write_state(folder, STATE_NAME, pa.table(columns), state_fingerprint(folder, as_of, graces))
    return _as_columns(values), stats


def _as_columns(values: dict[str, np.ndarray]) -> dict[str, pa.Array]:
    """Arrow columns as ``daily_items.day_rows`` gives them: null for an account without
    items, ``next_due_*`` null without a next due date."""
    none = values["n_items"] == 0
    no_next = none | (values["next_due_date"] == NO_DATE)
    out: dict[str, pa.Array] = {}
    for name in AGGREGATES:
        if name == "next_due_date":
            days = np.where(no_next, 0, values[name]).astype(np.int32)
            out[name] = pa.array(days, pa.int32(), mask=no_next).cast(pa.date32())
        else:
            mask = no_next if name == "next_due_amount_fen" else none
            out[name] = pa.array(values[name], pa.int64(), mask=mask)
    return out


def _blank(n: int) -> dict[str, np.ndarray]:
    out = {name: np.zeros(n, np.int64) for name in (*AGGREGATES, "n_items")}
    out["next_due_date"][:] = NO_DATE
    out["next_edge"] = np.full(n, NO_DATE, np.int64)
    return out


def _full(
    item_files: Sequence[Path], accounts: pa.Table, as_of: date, graces: Sequence[int]
) -> dict[str, np.ndarray]:
    """Every account from every item row (no state, or a check failed)."""
    ids = accounts["account_id"].combine_chunks()
    out = _blank(len(ids))
    present = [f for f in item_files if f.is_file()]
    if not present:
        return out
    items = pa.concat_tables([read_items(f) for f in present])
    starts, sizes = runs(items["account_id"])
    run_ids = items["account_id"].take(pa.array(starts))
    if len(pc.unique(run_ids)) != len(run_ids):  # not in account order: sort first
        items = items.sort_by("account_id")
        starts, sizes = runs(items["account_id"])
        run_ids = items["account_id"].take(pa.array(starts))
    at = pc.index_in(run_ids, value_set=ids)
    found = at.is_valid().to_numpy(zero_copy_only=False)
    position = np.asarray(at.fill_null(0).to_numpy(zero_copy_only=False), np.int64)[found]
    computed = aggregate_runs(items, sizes, as_of, graces)
    for name, column in computed.items():
        out[name][position] = column[found]
    return out


def _numbers(column: pa.ChunkedArray | pa.Array) -> np.ndarray:
    """A watched number column as int64 (nulls as -1)."""
    if pa.types.is_date(column.type):
        column = pc.cast(column, pa.int32())
    return np.asarray(pc.fill_null(column, -1).to_numpy(zero_copy_only=False), np.int64)


def watched_changed(now: pa.Table, before: pa.Table) -> np.ndarray:
    """Per row: a ``WATCHED`` value differs (``before`` aligned to ``now``, null rows: new)."""
    changed = pc.is_null(before["account_id"]).to_numpy(zero_copy_only=False).copy()
    for name in WATCHED:
        if pa.types.is_string(now[name].type):
            a = pc.fill_null(now[name].combine_chunks(), "")
            b = pc.fill_null(before[name].combine_chunks(), "")
            changed |= pc.not_equal(a, b).to_numpy(zero_copy_only=False)
        else:
            changed |= _numbers(now[name].combine_chunks()) != _numbers(
                before[name].combine_chunks()
            )
    return changed


def _kept(
    item_files: Sequence[Path], sizes: Sequence[int], accounts: pa.Table, before: pa.Table,
    state: pa.Table, at: tuple[pa.Array | None, bool], as_of: date, previous: date,
    book_dir: Path, graces: Sequence[int],
) -> tuple[dict[str, np.ndarray] | None, ItemStats]:  # fmt: skip
    """The previous state carried to ``as_of``, recomputing only the accounts that may have
    moved; None when a check fails (the caller aggregates everything)."""
    ids = accounts["account_id"].combine_chunks()
    n = len(ids)
    taken, aligns_state = at
    if not aligns_state:  # ``before`` came from elsewhere: align the state itself
        same = ids.equals(state["account_id"].combine_chunks())
        taken = None if same else pc.index_in(ids, value_set=state["account_id"].combine_chunks())
    if taken is None:
        missing = np.zeros(n, dtype=bool)
        position = np.arange(n, dtype=np.int64)
    else:
        missing = pc.is_null(taken).to_numpy(zero_copy_only=False)
        position = np.asarray(taken.fill_null(0).to_numpy(zero_copy_only=False), np.int64)
    kept = {name: np.asarray(state[name].to_numpy(), np.int64)[position]
            for name in (*AGGREGATES, "n_items", "next_edge")}  # fmt: skip
    for column in kept.values():
        column[missing] = 0
    kept["next_edge"][missing] = NO_DATE
    touched, due_ids, due_counts = event_accounts(book_dir, previous, as_of)
    dpd = np.asarray(pc.fill_null(accounts["dpd"], 0).to_numpy(zero_copy_only=False), np.int64)
    redo = (
        missing
        | (dpd > 0)
        | watched_changed(accounts, before)
        | pc.is_in(ids, value_set=touched).to_numpy(zero_copy_only=False)
        | (kept["next_edge"] <= day_number(as_of))
    )
    counts = kept["n_items"].copy()
    counts[missing] = 0
    if len(due_ids):
        where = pc.index_in(due_ids, value_set=ids)
        hit = where.is_valid().to_numpy(zero_copy_only=False)
        counts[np.asarray(where.fill_null(0).to_numpy(zero_copy_only=False))[hit]] += (
            due_counts[hit]
        )
    stats = ItemStats("kept", int(redo.sum()), n)
    stats.counts = {"new": int(missing.sum()), "dpd": int((dpd > 0).sum()),
                    "edge": int((kept["next_edge"] <= day_number(as_of)).sum())}  # fmt: skip
    gathered = _gather(item_files, sizes, ids, counts, redo)
    if gathered is None:
        stats.reason = "item rows not where the kept counts say"
        return None, stats
    items, redo_sizes = gathered
    stats.item_rows = items.num_rows
    redo_at = np.flatnonzero(redo)
    with_items = redo_sizes > 0
    computed = aggregate_runs(items, redo_sizes[with_items], as_of, graces)
    blank = _blank(int((~with_items).sum()))
    for name in kept:
        kept[name][redo_at[with_items]] = computed[name]
        kept[name][redo_at[~with_items]] = blank[name]
    return kept, stats


def _gather(
    item_files: Sequence[Path], sizes: Sequence[int], ids: pa.Array, counts: np.ndarray,
    redo: np.ndarray,
) -> tuple[pa.Table, np.ndarray] | None:  # fmt: skip
    """(the item rows of the ``redo`` accounts, each account's rows together in account
    order, and their counts), located by the running sums of ``counts`` in each file pair;
    None when a file's row count or an id at the end of a range disagrees."""
    parts, part_sizes = [], []
    first = 0
    for file, size in zip(item_files, sizes, strict=True):
        rows = slice(first, first + size)
        first += size
        count = counts[rows]
        meta = pq.ParquetFile(file).metadata
        if int(count.sum()) != meta.num_rows:
            return None
        offset = np.r_[0, np.cumsum(count)[:-1]].astype(np.int64)
        want = redo[rows] & (count > 0)
        part_sizes.append(np.where(redo[rows], count, 0)[redo[rows]])
        if not want.any():
            continue
        start, length = offset[want], count[want]
        table = read_items(file)
        item_ids = table["account_id"]
        if not _ranges_hold(item_ids, start, length, ids[rows].filter(pa.array(want))):
            return None
        index = np.repeat(start - np.r_[0, np.cumsum(length)[:-1]], length) + np.arange(
            int(length.sum())
        )
        parts.append(table.take(pa.array(index)))
    assert first == len(ids)
    items = pa.concat_tables(parts) if parts else pa.schema(
        [ITEM_ROW_SCHEMA.field(c) for c in ITEM_INPUTS]).empty_table()  # fmt: skip
    return items, np.concatenate(part_sizes) if part_sizes else np.zeros(0, np.int64)


def _ranges_hold(
    item_ids: pa.ChunkedArray, start: np.ndarray, length: np.ndarray, expected: pa.Array
) -> bool:
    """Each range [start, start + length) holds exactly ``expected``'s id: at both ends, and
    not on the rows just outside."""
    ends = np.r_[start, start + length - 1]
    inside = item_ids.take(pa.array(ends))
    if not pc.all(pc.equal(inside, pa.concat_arrays([expected] * 2))).as_py():
        return False
    before, after = start - 1, start + length
    for rows, keep in ((before, before >= 0), (after, after < len(item_ids))):
        if keep.any():
            outside = item_ids.take(pa.array(rows[keep]))
            if pc.any(pc.equal(outside, expected.filter(pa.array(keep)))).as_py():
                return False
    return True


def from_scratch(snapshot_dir: Path, as_of: date, graces: Sequence[int] = ()) -> pa.Table:
    """Every account of the snapshot of ``as_of`` with its item aggregates computed from all
    its item rows (no state read or written): the reference the kept state must equal."""
    from overdue.portfolio.eod import snapshot_files
    from overdue.portfolio.kernel import ACCOUNT_STATE_SCHEMA

    files = snapshot_files(snapshot_dir, as_of)
    parts = [pq.read_table(f, columns=["account_id"]).cast(
        pa.schema([ACCOUNT_STATE_SCHEMA.field("account_id")])) for f in files]  # fmt: skip
    accounts = pa.concat_tables(parts) if parts else pa.table({"account_id": pa.array([], pa.string())})
    folder = snapshot_path(snapshot_dir, as_of)
    values = _full([_item_file(f, folder) for f in files], accounts, as_of, graces)
    return pa.table({"account_id": accounts["account_id"].combine_chunks(), **_as_columns(values),
                     "next_edge": pa.array(values["next_edge"], pa.int64())})  # fmt: skip
