"""The rebuild's input rows on DuckDB without nesting in SQL: the same rows, grouped in memory.

``eod_inputs.rebuild_rows`` asks the engine for one nested row per account (a group-by and a
``collect`` of structs per event table, joined to the accounts, sorted by account id). On DuckDB
that query was the largest step of a rebuild (26 s of 95 s at 1M accounts, see
docs/performance.md). Here DuckDB only does what it is fast at:

1. number the accounts in account-id order (``idx``, the rank the nested rows come in);
2. per event table, a hash join of the events to that numbering (no group-by, no sort of
   strings), returned as flat Arrow columns;

and the events are grouped by account here, with an O(n) counting sort on ``idx`` (each table
on a second thread while DuckDB fetches the next one). The nested
batches are then assembled over the sorted flat columns (list offsets, no per-row work): the very
rows ``rebuild_rows`` gives, with the same list columns (null where an account has no event, as
the left join gives), for the same kernel. Event order inside a list does not matter (the kernel
sorts each account's records; the nested query gives them in no order either).

The incremental run's resumed accounts come the same way (``resume_batches``): the previous
snapshot's item rows (its flat ``items/`` side table) are one more collection, ``prev_items``,
grouped by account like the events, instead of a SQL ``collect`` of 19-field structs.

A book whose event files hold ``account_no`` (the account's row in ``accounts.parquet``,
``book_layout``) is read without the join: the rebuild maps each account's row to its number
once (``_Keyed``) and each event's ``account_no`` through that array, so no event's account id
string is read or hashed (at 1M accounts the joins of due items and payments cost about twice
reading them). A table with a file that lacks the column (added by another writer) is joined.

Accounts are processed in slabs of ``slab_accounts`` (each slab's events are held in memory at
once), then handed on in batches of ``batch_accounts``; the next slab is read and grouped on a
second thread while the kernel runs through this one (``_ahead``). With several slabs, a keyed
book whose event files are clustered by ``account_no`` (the twin and ``book_layout.write_book``,
ingest's writer, write each day's events in row groups of a span of accounts) is read slab by
slab: each slab reads the row groups of its accounts' range by Arrow, chosen by the footers'
statistics (``_RowGroups``).
Otherwise every collection is first joined to the numbering once and written as Arrow files
partitioned by slab, and each slab reads only its own files (joining per slab read and probed
all the events once per slab: the 10M rebuild took 492 s of CPU that way, 285 s staged in one
temporary table; see ``_Staged``).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Generator, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from overdue.portfolio import fast_kernel  # first: its fast_ledger sets numba's cache folder
from overdue.portfolio.book_layout import ACCOUNT_NO, strictly_increasing
from overdue.portfolio.contract import TABLES
from overdue.portfolio.eod_inputs import (
    COLLECTIONS,
    PREV_COLUMNS,
    PREV_ITEM_FIELDS,
    BookKeys,
    BookTables,
    rebuild_accounts,
    resume_accounts,
    window_events,
)

# Accounts whose events (or previous item states) are in memory at once: about 2 GB at 12 months.
# 2M-account slabs took the 10M rebuild to a 7.5 GiB peak; each slab reads the event files again.
SLAB_ACCOUNTS = 1_000_000
BATCH_ACCOUNTS = 20_000  # accounts per nested batch handed to the kernel
MAX_SLABS = 10_000
MAX_LIST_VALUES = (1 << 31) - 1  # int32 list offsets
ACCOUNT_COLUMNS = ("account_id", "customer_id", "product", "policy")
INDEX_TABLE = "overdue_rebuild_accounts"
ROWS_VIEW = "overdue_rebuild_rows"  # the accounts' rows, while DuckDB numbers them

from numba import njit  # noqa: E402  (after fast_kernel's fast_ledger: numba's cache folder)


@njit(cache=True, nogil=True)  # runs beside DuckDB's next fetch (``_fetch_and_group``)
def _counting_order(idx: np.ndarray, lo: int, n: int) -> tuple[np.ndarray, np.ndarray]:
    """(offsets, order): ``order`` lists the rows grouped by ``idx - lo`` (0 ≤ · < n)."""
    offsets = np.zeros(n + 1, np.int64)
    for k in range(idx.shape[0]):
        offsets[idx[k] - lo + 1] += 1
    for a in range(n):
        offsets[a + 1] += offsets[a]
    fill = offsets[:-1].copy()
    order = np.empty(idx.shape[0], np.int64)
    for k in range(idx.shape[0]):
        a = idx[k] - lo
        order[fill[a]] = k
        fill[a] += 1
    return offsets, order


# Loads the compiled grouping, then the compiled kernel, at the start of a rebuild: numba's first
# call in a process (its start-up and the cached code) took 0.5-0.9 s, on the first table's
# grouping, after DuckDB's first read, and the kernel's first batch 0.5 s more (the other kernel
# threads waiting for it); on this thread they run while DuckDB numbers the accounts and reads
# the first table (a call meanwhile waits for numba's lock, then finds the code loaded).
_WARM_UP = ThreadPoolExecutor(1, thread_name_prefix="overdue-compiled")


def _load_compiled() -> None:
    _counting_order(np.zeros(1, np.int64), 0, 1)
    fast_kernel.warm_up()


@dataclass
class _Grouped:
    """One event table's rows of a slab, grouped by account: a struct array and offsets."""

    structs: pa.StructArray
    offsets: np.ndarray  # account a (slab-relative) owns structs[offsets[a]:offsets[a+1]]

    def lists(self, first: int, last: int) -> pa.Array:
        """The list column of the slab's accounts ``first:last`` (null where none)."""
        begin, end = int(self.offsets[first]), int(self.offsets[last])
        assert end - begin <= MAX_LIST_VALUES, "too many events in one batch"
        local = (self.offsets[first : last + 1] - begin).astype(np.int32)
        empty = local[1:] == local[:-1]
        return pa.ListArray.from_arrays(
            pa.array(local),
            self.structs.slice(begin, end - begin),
            mask=pa.array(empty) if empty.any() else None,
        )


def _grouped(fetched: list[pa.Table], fields: tuple[str, ...], lo: int, n: int) -> _Grouped:
    """Group the one table in ``fetched`` (taken out of it: its columns are released one by one
    as their grouped copies are made, so a slab's events are not held twice)."""
    events = fetched.pop()
    assert not fetched, "one table at a time"
    idx = events.column("idx").combine_chunks().to_numpy().astype(np.int64, copy=False)
    offsets, order = _counting_order(idx, lo, n)
    del idx
    take = pa.array(order)
    del order
    pending = {f: events.column(f) for f in fields}
    del events
    pool = _grouping_pool()
    columns = []
    for f in fields:
        # One contiguous array first: taking from the fetched chunks (one per DuckDB vector
        # run) costs about three times as much on strings (payment ids: 0.34 s → 0.12 s).
        contiguous = pending.pop(f).combine_chunks(memory_pool=pool)
        columns.append(pc.take(contiguous, take, memory_pool=pool))
        del contiguous
        pool.release_unused()  # the contiguous copy's memory goes back (the slab's peak)
    structs = pa.StructArray.from_arrays(columns, names=list(fields))
    return _Grouped(structs, offsets)


def _grouping_pool() -> pa.MemoryPool:
    """Where the grouped copies are allocated: Arrow's jemalloc pool where pyarrow has one
    (unless ``ARROW_DEFAULT_MEMORY_POOL`` chooses the default pool), else the default pool.
    Grouping copies a slab's event columns twice (contiguous, then in account order): at 1M
    accounts, from the default pool (mimalloc) those copies took 2.7 s of CPU, 1.7 s of it in
    the system (page faults on fresh memory), and 1.4-1.8 s (0.3-0.7 s) from jemalloc's, its
    unused memory released after each column (so that it holds no more than the default pool
    would: the 10M batch's peak with it, 7251-7303 MiB, docs/performance.md session 9)."""
    if os.environ.get("ARROW_DEFAULT_MEMORY_POOL"):
        return pa.default_memory_pool()
    try:
        return pa.jemalloc_memory_pool()
    except NotImplementedError:  # a pyarrow built without jemalloc
        return pa.default_memory_pool()


def _event_collections(
    compile_sql: Any, book: BookTables, as_of: date
) -> dict[str, tuple[str, tuple[str, ...]]]:
    """Each event collection's SQL (rows booked up to ``as_of``) and its fields."""
    return {
        name: (compile_sql(window_events(book, table, as_of)), fields)
        for name, (table, fields) in COLLECTIONS.items()
    }


def rebuild_batches(
    con: Any,
    compile_sql: Any,
    book: BookTables,
    as_of: date,
    only: Any = None,
    *,
    slab_accounts: int = SLAB_ACCOUNTS,
    batch_accounts: int = BATCH_ACCOUNTS,
) -> Iterator[pa.RecordBatch]:
    """``rebuild_rows(book, as_of, only)`` as nested Arrow batches, in account-id order.

    ``con`` is the DuckDB connection the book's Ibis tables live on and ``compile_sql`` turns an
    Ibis expression into its SQL there.
    """
    collections = _event_collections(compile_sql, book, as_of)
    accounts_sql = compile_sql(rebuild_accounts(book, as_of, only))
    yield from flat_batches(
        con,
        accounts_sql,
        ACCOUNT_COLUMNS,
        collections,
        slab_accounts,
        batch_accounts,
        stage=True,
        # a replay of a few accounts joins them (DuckDB keeps only their rows), rather than
        # reading every event of the history into Arrow to number it
        keys=book.keys if only is None else None,
    )


def resume_batches(
    con: Any,
    compile_sql: Any,
    window: BookTables,
    previous: Any,
    previous_items: Any,
    as_of: date,
    replay: Any,
    *,
    slab_accounts: int = SLAB_ACCOUNTS,
    batch_accounts: int = BATCH_ACCOUNTS,
) -> Iterator[pa.RecordBatch]:
    """``resume_rows(window, previous, previous_items, as_of, replay)`` as nested Arrow batches,
    in account-id order: the previous item states (``prev_items``) and the window's events are
    grouped in memory as the rebuild's events are, not collected in SQL."""
    collections = _event_collections(compile_sql, window, as_of)
    collections["prev_items"] = (compile_sql(previous_items), PREV_ITEM_FIELDS)
    rows = resume_accounts(window, previous, as_of, replay)
    columns = (*ACCOUNT_COLUMNS, *(f"prev_{c}" for c in PREV_COLUMNS))
    accounts_sql = compile_sql(rows.select(*columns))
    # Not staged: 76M previous item rows staged at once took the 10M incremental run to 8.4 GiB.
    yield from flat_batches(
        con, accounts_sql, columns, collections, slab_accounts, batch_accounts, stage=False
    )


def flat_batches(
    con: Any,
    accounts_sql: str,
    account_columns: tuple[str, ...],
    collections: dict[str, tuple[str, tuple[str, ...]]],
    slab_accounts: int,
    batch_accounts: int,
    *,
    stage: bool,
    keys: BookKeys | None = None,
) -> Iterator[pa.RecordBatch]:
    """Rows of ``accounts_sql`` (its ``account_columns``, ``account_id`` first) in account-id
    order, each with one list column per collection (name → (SQL with ``account_id``, fields)).
    ``keys``: the collections' event files hold ``account_no`` (read instead of joined)."""
    assert 0 < batch_accounts <= slab_accounts, "batch_accounts must be in 1..slab_accounts"
    assert account_columns[0] == "account_id", "account_id comes first"
    loading = _WARM_UP.submit(_load_compiled)
    numbering = _Numbering.of(con, accounts_sql, held=keys is not None)
    staged: _Staged | None = None
    loaded: Iterator[_LoadedSlab] | None = None
    try:
        n = numbering.count
        assert n <= MAX_SLABS * slab_accounts, f"{n} accounts: more than {MAX_SLABS} slabs"
        keyed = _Keyed.of(con, keys) if keys is not None else None
        slabs = [(lo, min(n, lo + slab_accounts)) for lo in range(0, n, slab_accounts)]
        several = stage and len(slabs) > 1
        # several slabs: each reads its accounts' account_no range where the event files are
        # clustered by it; else every collection is joined to the numbering once and staged
        by_range = several and keyed is not None and keyed.read_by_range(collections, slabs)
        if several and not by_range:
            staged = _Staged(
                tempfile.mkdtemp(prefix="overdue-slabs-", dir=_spill_folder(con)), slab_accounts
            )
            staged.write(con, collections, keyed)

        def load(lo: int, hi: int) -> _LoadedSlab:
            accounts = numbering.accounts(con, account_columns, lo, hi)
            return _load_slab(con, accounts, collections, lo, hi, staged, n, keyed)

        loaded = _ahead(load, slabs) if several else (load(*s) for s in slabs)
        for slab in loaded:
            yield from slab.batches(account_columns, batch_accounts)
        loading.result()  # long done (the first grouping waited for it): its error, if any
    finally:
        if isinstance(loaded, Generator):
            loaded.close()  # a load still running on the second thread finishes first
        numbering.drop(con)
        if staged is not None:
            shutil.rmtree(staged.folder, ignore_errors=True)


@dataclass
class _Numbering:
    """The accounts numbered in account-id order (``idx``), as ``INDEX_TABLE`` for DuckDB: the
    Arrow rows themselves (``held``) where they come in that order already, as a book's
    accounts file is written (no sort: at 10M accounts the numbering with DuckDB's window took
    3.4 s of CPU, the slabs' reads of it 1.4 s more; held, 1.6 s in all); else a temporary
    table numbered by DuckDB."""

    count: int
    held: pa.Table | None = None  # the rows in idx order, with idx

    @classmethod
    def of(cls, con: Any, accounts_sql: str, held: bool) -> _Numbering:
        """``held``: try the rows in the order DuckDB gives them (a scan keeps the file's)."""
        if held:
            rows = con.sql(accounts_sql).to_arrow_table()
            if strictly_increasing(rows.column("account_id")):
                rows = rows.append_column("idx", pa.array(np.arange(rows.num_rows)))
                con.register(INDEX_TABLE, rows)
                return cls(rows.num_rows, rows)
            # not in order: numbered by DuckDB from these rows, not read again
            con.register(ROWS_VIEW, rows)
            accounts_sql = f"SELECT * FROM {ROWS_VIEW}"
        con.execute(
            f"CREATE OR REPLACE TEMP TABLE {INDEX_TABLE} AS SELECT *, "
            f"(row_number() OVER (ORDER BY account_id) - 1)::BIGINT AS idx FROM ({accounts_sql})"
        )
        if held:
            con.unregister(ROWS_VIEW)
        return cls(int(con.sql(f"SELECT count(*) FROM {INDEX_TABLE}").fetchall()[0][0]))

    def accounts(self, con: Any, columns: tuple[str, ...], lo: int, hi: int) -> pa.Table:
        """The ``columns`` of the accounts numbered ``lo`` to ``hi``, in that order."""
        if self.held is not None:
            return self.held.select(list(columns)).slice(lo, hi - lo)
        listed = ", ".join(columns)
        return con.sql(
            f"SELECT {listed} FROM {INDEX_TABLE} WHERE idx >= {lo} AND idx < {hi} ORDER BY idx"
        ).to_arrow_table()

    def drop(self, con: Any) -> None:
        if self.held is not None:
            con.unregister(INDEX_TABLE)
        else:
            con.execute(f"DROP TABLE IF EXISTS {INDEX_TABLE}")


@dataclass
class _Staged:
    """Each collection joined to the account numbering once and split by slab on the way out
    (an Arrow IPC file per slab and collection, ``<folder>/<name>/<k>.arrow``, in DuckDB's
    spill folder); a slab then reads only its own files. Joining per slab read and hash-probed
    every event once per slab: O(slabs × events). A temporary table instead of the files was
    read whole by every slab (its rows are in no account order), and at 10M accounts it no
    longer fitted in DuckDB's memory: the 10M rebuild's inputs took 138 s of CPU (200 s wall),
    61 s (106 s) staging and 67 s (75 s) reading the slabs back, against 7.6 s (8.1 s) at 1M.
    Parquet files partitioned by slab (DuckDB's ``COPY ... PARTITION_BY``) took 114 s of CPU:
    encoding and decoding them cost more than the split and the uncompressed Arrow files."""

    folder: str
    slab_accounts: int
    schemas: dict[str, pa.Schema] = field(default_factory=dict)

    def write(
        self,
        con: Any,
        collections: dict[str, tuple[str, tuple[str, ...]]],
        keyed: _Keyed | None = None,
    ) -> None:
        for name, (sql, fields) in collections.items():
            os.mkdir(self._target(name))
            if keyed is not None and keyed.covers(name):
                try:
                    self.schemas[name] = keyed.schema(name, fields)
                    self._split(name, keyed.reader(con, name, fields), (keyed, fields))
                    continue
                except _KeysMissing:  # joined instead: its files so far are replaced
                    shutil.rmtree(self._target(name))
                    os.mkdir(self._target(name))
            selected = ", ".join(f"e.{f}" for f in fields)
            with _accounts_built(con):
                reader = con.sql(
                    f"SELECT a.idx, {selected} FROM ({sql}) AS e JOIN {INDEX_TABLE} AS a "
                    "ON e.account_id = a.account_id"
                ).to_arrow_reader(STAGE_BATCH_ROWS)
                self.schemas[name] = reader.schema
                self._split(name, reader)

    def _split(
        self,
        name: str,
        reader: pa.RecordBatchReader | Iterator[pa.RecordBatch],
        keyed: tuple[_Keyed, tuple[str, ...]] | None = None,
    ) -> None:
        """Each batch's rows sorted by slab (counting sort) and appended to the slabs' files;
        DuckDB fetches the next batch on a second thread meanwhile. ``keyed``: the batches
        carry ``account_no``, numbered here (rows of accounts outside the rebuild dropped)."""
        writers: dict[int, pa.ipc.RecordBatchStreamWriter] = {}
        try:
            for raw in reader if keyed is not None else _read_ahead(reader):
                batch = raw
                if keyed is not None:
                    numbering, fields = keyed
                    batch = numbering.numbered(raw, name, fields, 0, numbering.accounts)
                idx = batch.column(0).to_numpy().astype(np.int64, copy=False)
                slabs = int(idx.max()) // self.slab_accounts + 1 if len(idx) else 0
                offsets, order = _counting_order(idx // self.slab_accounts, 0, slabs)
                del idx
                ordered = batch.take(pa.array(order))
                for k in np.flatnonzero(np.diff(offsets)).tolist():
                    if k not in writers:
                        path = os.path.join(self._target(name), f"{k}.arrow")
                        writers[k] = pa.ipc.new_stream(path, batch.schema)
                    begin, end = int(offsets[k]), int(offsets[k + 1])
                    writers[k].write_batch(ordered.slice(begin, end - begin))
        finally:
            for writer in writers.values():
                writer.close()

    def _target(self, name: str) -> str:
        return os.path.join(self.folder, name)

    def fetch(self, name: str, lo: int) -> pa.Table:
        """The staged rows (``idx`` and the fields) of the slab starting at account ``lo``."""
        assert lo % self.slab_accounts == 0, "slabs start at multiples of slab_accounts"
        path = os.path.join(self._target(name), f"{lo // self.slab_accounts}.arrow")
        if not os.path.isfile(path):  # no row of this collection in the slab
            return self.schemas[name].empty_table()
        # Memory-mapped: the batches point into the page cache (the files were just written),
        # and grouping makes the slab's one contiguous copy, not a read and then a copy.
        with pa.memory_map(path) as source:
            return pa.ipc.open_stream(source).read_all()


STAGE_BATCH_ROWS = 1 << 20


class _KeysMissing(Exception):
    """An event file without ``account_no``: its table is joined instead."""


@dataclass
class _Keyed:
    """The rebuild's account numbering indexed by ``account_no`` (an account's row in the
    accounts file): ``numbering[account_no]`` is the account's ``idx``, -1 for an account the
    rebuild leaves out (not opened by ``as_of``, or not among the accounts asked for)."""

    keys: BookKeys
    numbering: np.ndarray
    accounts: int  # accounts numbered
    # slab start -> the (first, last) account_no of its accounts, where slabs read by range
    ranges: dict[int, tuple[int, int]] = field(default_factory=dict)
    groups: dict[str, _RowGroups] = field(default_factory=dict)  # collection -> its row groups

    @classmethod
    def of(cls, con: Any, keys: BookKeys) -> _Keyed:
        file = _sql_text(str(keys.accounts_file))
        rows = con.sql(
            f"SELECT a.idx, f.file_row_number AS row FROM {INDEX_TABLE} AS a "
            f"JOIN read_parquet({file}, file_row_number = true) AS f "
            "ON a.account_id = f.account_id"
        ).fetchnumpy()
        size = int(con.sql(f"SELECT count(*) FROM read_parquet({file})").fetchall()[0][0])
        numbering = np.full(size, -1, np.int64)
        numbering[np.asarray(rows["row"], np.int64)] = np.asarray(rows["idx"], np.int64)
        return cls(keys, numbering, len(rows["idx"]))

    def covers(self, name: str) -> bool:
        """Whether collection ``name`` is a book table with files (an empty one is joined)."""
        return bool(self.files(name))

    def files(self, name: str) -> list[str]:
        """The event files of collection ``name`` (none: not a book table, or no file)."""
        table = COLLECTIONS[name][0] if name in COLLECTIONS else None
        return [str(f) for f in self.keys.files.get(table, [])] if table else []

    def schema(self, name: str, fields: tuple[str, ...]) -> pa.Schema:
        """``idx`` and the fields, typed as the contract types them (nullable, as DuckDB gives)."""
        spec = TABLES[COLLECTIONS[name][0]].arrow_schema()
        typed = [spec.field(f).with_nullable(True) for f in fields]
        return pa.schema([pa.field("idx", pa.int64()), *typed])

    def _sql(self, name: str, fields: tuple[str, ...]) -> str:
        listed = ", ".join(_sql_text(f) for f in self.files(name))
        return f"SELECT {', '.join([ACCOUNT_NO, *fields])} FROM read_parquet([{listed}])"

    def read_by_range(self, collections: dict[str, Any], slabs: list[tuple[int, int]]) -> bool:
        """Whether each slab can read only its accounts' ``account_no`` range of the event
        files (if so, the ranges are kept): every file of every collection holds the column,
        with statistics, and the row groups the ranges select hold at most
        ``MAX_RANGE_READS`` times the rows. So it is for a book written in account order (the
        twin and ingest write each day's file so, in row groups of 200k accounts): the slabs read
        the history about once, and nothing is staged. Otherwise the rows are staged."""
        kept = np.flatnonzero(self.numbering >= 0)
        rows_of = np.empty(self.accounts, np.int64)  # idx -> account_no
        rows_of[self.numbering[kept]] = kept
        ranges = {lo: (int(rows_of[lo:hi].min()), int(rows_of[lo:hi].max())) for lo, hi in slabs}
        found: dict[str, _RowGroups] = {}
        for name in collections:
            files = self.files(name)
            if not files:
                continue  # not a book table, or empty: joined per slab (nothing to read)
            groups = _RowGroups.of(files)
            if groups is None or groups.rows_read(ranges) > MAX_RANGE_READS * groups.rows.sum():
                return False
            found[name] = groups
        self.ranges, self.groups = ranges, found
        return True

    def reader(self, con: Any, name: str, fields: tuple[str, ...]) -> Iterator[pa.RecordBatch]:
        """The collection's ``account_no`` and fields in batches of about ``STAGE_BATCH_ROWS``
        (DuckDB streams a few hundred rows at a time); ``_KeysMissing`` if a file lacks it."""
        try:  # a file without the column fails (DuckDB matches the files' columns by name)
            reader = con.sql(self._sql(name, fields)).to_arrow_reader(STAGE_BATCH_ROWS)
        except duckdb.Error as exc:
            raise _KeysMissing(str(exc)) from None
        return _rebatched(_read_ahead(reader, keyed=True), STAGE_BATCH_ROWS)

    def fetch(self, con: Any, name: str, fields: tuple[str, ...], lo: int, hi: int) -> pa.Table:
        """The collection's rows of the accounts numbered ``lo`` to ``hi`` (``idx``, fields)."""
        if lo in self.ranges and name in self.groups:  # the slab's row groups, by Arrow
            first, last = self.ranges[lo]
            typed = list(self.schema(name, fields))[1:]
            target = pa.schema([pa.field(ACCOUNT_NO, pa.int64()), *typed])
            raw = self.groups[name].read(target, first, last)
            return self.numbered(raw, name, fields, lo, hi)
        try:
            raw = con.sql(self._sql(name, fields)).to_arrow_table()
        except (duckdb.Error, OSError) as exc:
            raise _KeysMissing(str(exc)) from None
        return self.numbered(raw, name, fields, lo, hi)

    def fetch_if_keyed(
        self, con: Any, name: str, fields: tuple[str, ...], lo: int, hi: int
    ) -> pa.Table | None:
        """``fetch``, or None where the table is to be joined (no file, or one without keys)."""
        if not self.covers(name):
            return None
        try:
            return self.fetch(con, name, fields, lo, hi)
        except _KeysMissing:
            return None

    def numbered(self, raw: Any, name: str, fields: tuple[str, ...], lo: int, hi: int) -> Any:
        """``raw`` (a table or a batch of ``account_no`` and the fields) as (``idx``, fields),
        its rows of accounts numbered ``lo`` to ``hi`` only."""
        rows = np.asarray(raw.column(0).to_numpy(), np.int64)
        if len(rows) and (rows.min() < 0 or rows.max() >= len(self.numbering)):
            raise ValueError(
                f"{self.keys.accounts_file.parent}: {ACCOUNT_NO} outside the accounts table "
                f"(0..{len(self.numbering) - 1}); the book's event files are not its own"
            )
        idx = self.numbering[rows]
        keep = (idx >= lo) & (idx < hi)
        schema = self.schema(name, fields)
        numbered = type(raw).from_arrays([pa.array(idx), *raw.columns[1:]], names=schema.names)
        if numbered.schema != schema:
            numbered = numbered.cast(schema)
        return numbered if keep.all() else numbered.filter(pa.array(keep))


MAX_RANGE_READS = 1.25  # rows the slabs' ranges read / rows of the table, at most


@dataclass
class _RowGroups:
    """The row groups of a collection's event files with their ``account_no`` statistics
    (from the footers, read once), so that a slab reads only the groups of its range."""

    paths: list[str]
    footers: list[Any]  # each file's parsed Parquet metadata
    file: np.ndarray  # per row group: its file, its number in the file, min, max, rows
    group: np.ndarray
    lows: np.ndarray
    highs: np.ndarray
    rows: np.ndarray

    @classmethod
    def of(cls, paths: list[str]) -> _RowGroups | None:
        """None if a file lacks the column or a row group its statistics."""
        footers, cells = [], []
        for f, path in enumerate(paths):
            meta = pq.read_metadata(path)
            names = meta.schema.names
            if ACCOUNT_NO not in names:
                return None
            column = names.index(ACCOUNT_NO)
            for g in range(meta.num_row_groups):
                group = meta.row_group(g)
                stats = group.column(column).statistics
                if group.num_rows and (stats is None or not stats.has_min_max):
                    return None
                if group.num_rows:
                    cells.append((f, g, int(stats.min), int(stats.max), group.num_rows))
            footers.append(meta)
        table = np.array(cells, np.int64).reshape(-1, 5)
        return cls(paths, footers, *(table[:, k].copy() for k in range(5)))

    def rows_read(self, ranges: dict[int, tuple[int, int]]) -> int:
        """Rows in the row groups that the account_no ranges select."""
        return sum(int(self.rows[self._chosen(a, b)].sum()) for a, b in ranges.values())

    def _chosen(self, first: int, last: int) -> np.ndarray:
        return (self.highs >= first) & (self.lows <= last)

    def read(self, schema: pa.Schema, first: int, last: int) -> pa.Table:
        """The ``schema`` columns of the row groups that may hold account_no ``first`` to
        ``last`` (rows outside it included), read by Arrow on this thread alone."""
        chosen = np.flatnonzero(self._chosen(first, last))
        parts = [schema.empty_table()]
        for f in np.unique(self.file[chosen]).tolist():
            groups = self.group[chosen[self.file[chosen] == f]].tolist()
            parquet = pq.ParquetFile(self.paths[f], metadata=self.footers[f])
            part = parquet.read_row_groups(groups, columns=schema.names, use_threads=False)
            if part.schema.types == schema.types:  # only nullability differs: no copy
                part = pa.Table.from_arrays(part.columns, schema=schema)
            parts.append(part.cast(schema))
        return pa.concat_tables(parts)


def _rebatched(batches: Iterator[pa.RecordBatch], rows: int) -> Iterator[pa.RecordBatch]:
    """``batches`` gathered into batches of at least ``rows`` rows (the last one: the rest)."""
    held: list[pa.RecordBatch] = []
    count = 0
    for batch in batches:
        held.append(batch)
        count += batch.num_rows
        if count >= rows:
            yield pa.Table.from_batches(held).combine_chunks().to_batches()[0]
            held, count = [], 0
    if count:
        yield pa.Table.from_batches(held).combine_chunks().to_batches()[0]


def _sql_text(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _read_ahead(reader: pa.RecordBatchReader, keyed: bool = False) -> Iterator[pa.RecordBatch]:
    """The reader's batches, the next one read on a second thread while this one is used.
    ``keyed``: a DuckDB error (a file without ``account_no``) is raised as ``_KeysMissing``."""
    with ThreadPoolExecutor(1, thread_name_prefix="overdue-stage") as pool:
        pending = pool.submit(_next_batch, reader)
        while True:
            try:
                batch = pending.result()
            except (duckdb.Error, OSError) as exc:  # Arrow's reader raises DuckDB's as OSError
                if not keyed:
                    raise
                raise _KeysMissing(str(exc)) from None
            if batch is None:
                return
            pending = pool.submit(_next_batch, reader)
            yield batch


def _next_batch(reader: pa.RecordBatchReader) -> pa.RecordBatch | None:
    try:
        return reader.read_next_batch()
    except StopIteration:
        return None


def _spill_folder(con: Any) -> str | None:
    """DuckDB's ``temp_directory`` if it is set and exists (the backend sets one of its own)."""
    rows = con.sql("SELECT current_setting('temp_directory')").fetchall()
    folder = str(rows[0][0] or "")
    if folder and os.path.isdir(folder):
        return folder
    return None


@dataclass
class _LoadedSlab:
    """One slab's accounts (``account_columns``, in ``idx`` order) and its grouped collections."""

    accounts: pa.Table
    grouped: dict[str, _Grouped]

    def batches(
        self, account_columns: tuple[str, ...], batch_accounts: int
    ) -> Iterator[pa.RecordBatch]:
        """The slab's nested rows in batches of ``batch_accounts`` accounts."""
        for first in range(0, self.accounts.num_rows, batch_accounts):
            last = min(self.accounts.num_rows, first + batch_accounts)
            head = self.accounts.slice(first, last - first)
            arrays = [head.column(c).combine_chunks() for c in account_columns]
            names = list(account_columns)
            for name, group in self.grouped.items():
                arrays.append(group.lists(first, last))
                names.append(name)
            yield pa.RecordBatch.from_arrays(arrays, names=names)


def _ahead(load: Any, slabs: list[tuple[int, int]]) -> Iterator[_LoadedSlab]:
    """``load(lo, hi)`` of each slab in order, the next one loaded on a second thread while this
    one's rows go through the kernel: a slab's reading and grouping (mostly one thread) no
    longer leaves the kernel's threads idle. Two slabs are held at once; only this thread uses
    the DuckDB connection while a load runs (the consumer of the rows does not)."""
    with ThreadPoolExecutor(1, thread_name_prefix="overdue-slab") as loader:
        pending = loader.submit(load, *slabs[0]) if slabs else None
        for k in range(len(slabs)):
            assert pending is not None
            slab = pending.result()
            pending = loader.submit(load, *slabs[k + 1]) if k + 1 < len(slabs) else None
            yield slab
            del slab


def _load_slab(
    con: Any,
    accounts: pa.Table,
    collections: dict[str, tuple[str, tuple[str, ...]]],
    lo: int,
    hi: int,
    staged: _Staged | None = None,
    total: int = 0,
    keyed: _Keyed | None = None,
) -> _LoadedSlab:
    """One slab's ``accounts`` (in ``idx`` order) and grouped events (of ``total`` accounts);
    ``staged``: each collection's rows already numbered (``idx``) and written by slab.
    Unstaged, with several slabs, each collection is read only in the slab's account-id range:
    the numbering is in account-id order, so that range holds every row of the slab's
    accounts, and a file in account order (the previous snapshot's items) is read only in the
    row groups of that range."""
    assert accounts.num_rows == hi - lo, "the account numbering has gaps"
    ids = accounts.column("account_id")
    several = staged is None and (lo > 0 or hi < total)
    id_range = (str(ids[0].as_py()), str(ids[-1].as_py())) if several and len(ids) else None
    grouped = _fetch_and_group(con, collections, lo, hi, staged, id_range, keyed)
    return _LoadedSlab(accounts, grouped)


SIDE_OPTIMIZER = "build_side_probe_side"


@contextmanager
def _accounts_built(con: Any) -> Iterator[None]:
    """Joins of events to the account numbering build their hash table on the numbering (the
    right side, as written), not on the events. DuckDB's ``build_side_probe_side`` optimizer
    built it on the 6.2M payments of a 1M-account book (EXPLAIN ANALYZE: join 2.56 s; on the
    numbering 0.76 s, the query 2.43 → 1.56 s), its cardinality estimate of the filtered
    Parquet scan being too low. Small numberings too: the 10M incremental's replay of 2,783
    accounts (the whole history joined to them) took 36.3 s wall / 39.1 s CPU with DuckDB's
    choice (payments 24.5 s / 26.4 s: built on the 62M payments) and 18.6 s / 20.9 s with the
    hash table on the numbering (payments 6.6 s / 8.0 s). An earlier run had measured the
    opposite (147.7 s forced, 48.8 s not), which two runs each way here did not reproduce."""
    before = str(con.sql("SELECT current_setting('disabled_optimizers')").fetchall()[0][0])
    disabled = [name for name in before.split(",") if name.strip()]
    con.execute(f"SET disabled_optimizers = '{','.join([*disabled, SIDE_OPTIMIZER])}'")
    try:
        yield
    finally:
        con.execute(f"SET disabled_optimizers = '{','.join(disabled)}'")


def _in_range(id_range: tuple[str, str] | None) -> str:
    """SQL keeping the events whose ``account_id`` is in ``id_range`` (inclusive), if given."""
    if id_range is None:
        return ""
    first, last = (value.replace("'", "''") for value in id_range)
    return f" AND e.account_id >= '{first}' AND e.account_id <= '{last}'"


def _joined(
    con: Any,
    sql: str,
    fields: tuple[str, ...],
    lo: int,
    hi: int,
    id_range: tuple[str, str] | None,
) -> pa.Table:
    """One collection's rows of the accounts numbered ``lo`` to ``hi``, joined to the
    numbering here (``idx`` and the fields)."""
    selected = ", ".join(f"e.{f}" for f in fields)
    query = (
        f"SELECT a.idx, {selected} FROM ({sql}) AS e "
        f"JOIN {INDEX_TABLE} AS a ON e.account_id = a.account_id "
        f"WHERE a.idx >= {lo} AND a.idx < {hi}{_in_range(id_range)}"
    )
    with _accounts_built(con):
        return con.sql(query).to_arrow_table()


def _fetch_and_group(
    con: Any,
    collections: dict[str, tuple[str, tuple[str, ...]]],
    lo: int,
    hi: int,
    staged: _Staged | None,
    id_range: tuple[str, str] | None,
    keyed: _Keyed | None = None,
) -> dict[str, _Grouped]:
    """Each collection's rows of the slab, grouped by account. A table is grouped on a second
    thread while DuckDB fetches the next one (one table grouped at a time: a slab's events are
    still held about once)."""
    futures: dict[str, Future[_Grouped]] = {}
    with ThreadPoolExecutor(1, thread_name_prefix="overdue-group") as grouper:
        for name, (sql, fields) in collections.items():
            if staged is not None:
                fetched = [staged.fetch(name, lo)]
            else:  # read by account_no where every file of the table holds it, else joined
                read = keyed.fetch_if_keyed(con, name, fields, lo, hi) if keyed else None
                fetched = [read if read is not None else _joined(con, sql, fields, lo, hi, id_range)]
            for earlier in futures.values():
                earlier.result()  # the previous table is grouped (and released) first
            futures[name] = grouper.submit(_grouped, fetched, fields, lo, hi - lo)
            del fetched
        return {name: future.result() for name, future in futures.items()}
