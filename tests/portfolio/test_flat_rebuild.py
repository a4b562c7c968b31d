"""The rebuild's flat inputs (grouped in memory) give the kernel the same rows as the nested query.

Compared through the compiled kernel (lists are unordered on both sides; the kernel sorts them):
every snapshot row equal, in the same order, whatever the slab and batch sizes, and whether the
events are read by their ``account_no`` (every file, or all but one) or joined on account ids;
and the parallel kernel gives the same batches in the same order as the sequential one.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any
from unittest import mock

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from book_factory import START, random_book, write_book
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from overdue.portfolio import fast_kernel, fast_ledger, flat_rebuild
from overdue.portfolio.engines import DuckDBBackend, parallel_kernel
from overdue.portfolio.eod import load_book, resolve_policies
from overdue.portfolio.eod_inputs import rebuild_rows
from overdue.portfolio.fast_kernel import run_batch_fast
from overdue.portfolio.flat_rebuild import _counting_order, rebuild_batches
from overdue.portfolio.kernel import SNAPSHOT_SCHEMA, KernelConfig, run_batches


@dataclass(frozen=True)
class Setup:
    backend: DuckDBBackend
    book: Any
    as_of: date
    config: KernelConfig


def _setup(seed: int, accounts: int, day: int, folder: Path, keyed: str = "no") -> Setup:
    """A random book written to ``folder``, loaded by DuckDB as of START + ``day``."""
    data_dir = write_book(random_book(seed, accounts=accounts), folder / "book", keyed)
    as_of = START + timedelta(days=day)
    backend = DuckDBBackend()
    config = KernelConfig(as_of=as_of, previous=None, policies=resolve_policies(data_dir))
    return Setup(backend, load_book(backend, data_dir, None, as_of), as_of, config)


def _snapshot(batches: object, config: KernelConfig) -> pa.Table:
    out = list(run_batches(batches, config))  # type: ignore[arg-type]
    return pa.Table.from_batches(out, schema=SNAPSHOT_SCHEMA)


@settings(
    max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    seed=st.integers(0, 10_000),
    day=st.integers(20, 190),
    slab=st.integers(1, 40),
    batch=st.integers(1, 40),
    subset=st.booleans(),
    keyed=st.sampled_from(["no", "yes", "partial"]),
    by_range=st.booleans(),
)
def test_flat_batches_give_the_nested_rows_snapshot(
    tmp_path_factory: pytest.TempPathFactory,
    seed: int,
    day: int,
    slab: int,
    batch: int,
    subset: bool,
    keyed: str,
    by_range: bool,
) -> None:
    """``by_range``: slabs of a keyed book read their account_no ranges whatever the files'
    clustering (the limit on rows read lifted; the random books' files are not clustered, so
    they would be staged), else always staged."""
    setup = _setup(seed, 30, day, tmp_path_factory.mktemp("flat"), keyed)
    assert (setup.book.keys is not None) == (keyed != "no")
    backend, book, as_of, config = setup.backend, setup.book, setup.as_of, setup.config
    only = None
    if subset:  # a replay: only some accounts (one unknown id among them)
        ids = [f"A{a:04d}" for a in range(0, 30, 3)] + ["NOPE"]
        only = backend.con.create_table(
            f"only_{seed}_{day}", pa.table({"account_id": ids}), temp=True, overwrite=True
        )
    nested = backend.con.con.sql(backend.con.compile(rebuild_rows(book, as_of, only)))
    expected = _snapshot(nested.to_arrow_reader(1000), config)
    flat = rebuild_batches(
        backend.con.con,
        backend.con.compile,
        book,
        as_of,
        only,
        slab_accounts=max(slab, batch),
        batch_accounts=batch,
    )
    limit = float("inf") if by_range else 0.0
    with (
        mock.patch.object(flat_rebuild, "_joined", wraps=flat_rebuild._joined) as joined,
        mock.patch.object(flat_rebuild, "MAX_RANGE_READS", limit),
        mock.patch.object(flat_rebuild._Staged, "write", autospec=True,
                          side_effect=flat_rebuild._Staged.write) as stage,
    ):
        got = _snapshot(flat, config)
    assert got.num_rows == expected.num_rows > 0
    assert got.equals(expected)
    staged = max(slab, batch) < 30
    several = expected.num_rows > max(slab, batch)
    ranged = several and by_range and keyed == "yes" and only is None
    assert stage.called == (several and not ranged)
    if not staged:  # one slab: with keys, a table is joined only if it has no file or a file
        # lacks account_no (the second day's payments, if booked by as_of), or in a replay
        joins = len(joined.call_args_list)
        empty = 0 if book.keys is None else sum(not f for f in book.keys.files.values())
        if keyed == "no" or only is not None:
            assert joins == 4
        else:
            assert empty <= joins <= empty + (keyed == "partial")


def test_the_kernel_warm_up_loads_what_a_rebuild_runs(tmp_path: Path) -> None:
    """The kernel's warm-up (beside DuckDB at the start of a rebuild) loads the compiled loop
    for the argument types of a rebuild's batches: the rebuild then compiles no other."""
    fast_kernel.warm_up()
    loaded = set(fast_ledger._run_accounts.signatures)
    setup = _setup(5, 30, 120, tmp_path, "yes")
    flat = rebuild_batches(
        setup.backend.con.con, setup.backend.con.compile, setup.book, setup.as_of
    )
    assert _snapshot(flat, setup.config).num_rows == 30
    assert set(fast_ledger._run_accounts.signatures) == loaded


@pytest.mark.parametrize("keyed", ["no", "yes", "partial"])
def test_staged_slabs_of_one_account_give_the_nested_rows(tmp_path: Path, keyed: str) -> None:
    """Slabs of one account: the events are staged by slab, and most slabs have no waiver or
    reversal (no staged files: an empty relation of the same columns)."""
    setup = _setup(11, 25, 170, tmp_path, keyed)
    backend, book, as_of, config = setup.backend, setup.book, setup.as_of, setup.config
    nested = backend.con.con.sql(backend.con.compile(rebuild_rows(book, as_of, None)))
    expected = _snapshot(nested.to_arrow_reader(1000), config)
    flat = rebuild_batches(
        backend.con.con, backend.con.compile, book, as_of, None, slab_accounts=1, batch_accounts=1
    )
    got = _snapshot(flat, config)
    assert got.num_rows == expected.num_rows == 25
    assert got.equals(expected)
    spill = backend.con.con.sql("SELECT current_setting('temp_directory')").fetchall()[0][0]
    assert not list(Path(spill).glob("overdue-slabs-*")), "the staged slabs are removed"


@pytest.mark.parametrize("order", ["by id", "reversed"])
def test_keyed_accounts_in_any_file_order_give_the_nested_rows(tmp_path: Path, order: str) -> None:
    """A keyed book's accounts in account-id order are numbered as they come (held in Arrow,
    no sort); in another order DuckDB numbers them. The same rows either way, in several slabs."""
    rows = random_book(17, accounts=30)
    if order == "reversed":
        rows["accounts"] = list(reversed(rows["accounts"]))
    data_dir = write_book(rows, tmp_path / "book", "yes")
    as_of = START + timedelta(days=150)
    backend = DuckDBBackend()
    config = KernelConfig(as_of=as_of, previous=None, policies=resolve_policies(data_dir))
    book = load_book(backend, data_dir, None, as_of)
    nested = backend.con.con.sql(backend.con.compile(rebuild_rows(book, as_of, None)))
    expected = _snapshot(nested.to_arrow_reader(1000), config)
    original, numberings = flat_rebuild._Numbering.of, []

    def spy(*args: Any, **kwargs: Any) -> Any:
        numberings.append(original(*args, **kwargs))
        return numberings[-1]

    with mock.patch.object(flat_rebuild._Numbering, "of", spy):
        flat = rebuild_batches(
            backend.con.con, backend.con.compile, book, as_of, None, slab_accounts=7,
            batch_accounts=3,
        )
        got = _snapshot(flat, config)
    assert got.num_rows == expected.num_rows > 0
    assert got.equals(expected)
    assert [n.held is not None for n in numberings] == [order == "by id"]


def test_a_twin_book_in_slabs_is_read_by_account_ranges(tmp_path: Path) -> None:
    """The twin writes each day's events in account order, in row groups of a chunk of
    accounts: slabs of two chunks read their account_no ranges (nothing staged), and the rows
    are the nested query's."""
    from overdue.twin.generate import TwinSpec, generate_book

    data_dir = tmp_path / "twin"
    generate_book(TwinSpec(accounts=600, months=3, seed=3, chunk_size=100), data_dir)
    got, expected = _read_by_range(data_dir, date(2024, 3, 20), slab_accounts=200, batch=50)
    assert got.num_rows == expected.num_rows > 400
    assert got.equals(expected)


def _read_by_range(
    data_dir: Path, as_of: date, slab_accounts: int, batch: int
) -> tuple[pa.Table, pa.Table]:
    """(the flat rebuild in slabs, the nested rows) of the book in ``data_dir``, asserting that
    no slab was staged (each read its account range)."""
    backend = DuckDBBackend()
    config = KernelConfig(as_of=as_of, previous=None, policies=resolve_policies(data_dir))
    book = load_book(backend, data_dir, None, as_of)
    nested = backend.con.con.sql(backend.con.compile(rebuild_rows(book, as_of, None)))
    expected = _snapshot(nested.to_arrow_reader(1000), config)
    flat = rebuild_batches(
        backend.con.con, backend.con.compile, book, as_of, None, slab_accounts=slab_accounts,
        batch_accounts=batch,
    )
    with mock.patch.object(flat_rebuild._Staged, "write") as stage:
        got = _snapshot(flat, config)
    assert not stage.called, "the slabs were staged, not read by range"
    return got, expected


def test_a_written_book_in_slabs_is_read_by_account_ranges(tmp_path: Path) -> None:
    """``write_book`` (ingest's writer) puts the accounts in id order and each day's events in
    row groups of ``ACCOUNT_SPAN`` accounts: slabs read their ranges (nothing staged), whatever
    order the accounts came in, and the rows are the nested query's."""
    from overdue.portfolio import book_layout, contract

    rows = random_book(23, accounts=40)
    rows["accounts"] = list(reversed(rows["accounts"]))
    tables = {
        name: pa.Table.from_pylist(rows.get(name, []), schema=spec.arrow_schema())
        for name, spec in contract.TABLES.items()
    }
    data_dir = tmp_path / "book"
    with mock.patch.object(book_layout, "ACCOUNT_SPAN", 4):
        book_layout.write_book(data_dir, tables, provenance={"source": "test"})
    ids = pq.read_table(data_dir / "accounts.parquet").column("account_id").to_pylist()
    assert ids == sorted(ids) and len(ids) == 40
    got, expected = _read_by_range(data_dir, START + timedelta(days=160), slab_accounts=8, batch=3)
    assert got.num_rows == expected.num_rows == 40
    assert got.equals(expected)


def test_a_rebuild_stopped_early_waits_for_the_slab_read_ahead(tmp_path: Path) -> None:
    """Several staged slabs are read one ahead on a second thread; a consumer that stops after
    the first batch leaves no load running on the connection, no numbering, no staged files."""
    setup = _setup(5, 30, 160, tmp_path, "yes")
    con = setup.backend.con.con
    original, outcomes = flat_rebuild._load_slab, []

    def slow_load(*args: Any, **kwargs: Any) -> Any:
        if args[3] > 0:  # every slab after the first: still loading when the consumer stops
            time.sleep(0.3)
        try:
            loaded = original(*args, **kwargs)
        except Exception as exc:  # recorded: the numbering dropped under it
            outcomes.append(exc)
            raise
        outcomes.append("loaded")
        return loaded

    with mock.patch.object(flat_rebuild, "_load_slab", slow_load):
        flat = rebuild_batches(
            con, setup.backend.con.compile, setup.book, setup.as_of, None, slab_accounts=4,
            batch_accounts=2,
        )
        first = next(flat)
        assert first.num_rows == 2
        flat.close()
        time.sleep(0.5)  # a load left running would fail now, the numbering dropped under it
    assert outcomes == ["loaded", "loaded"], outcomes
    tables = con.sql("SELECT table_name FROM duckdb_tables()").fetchall()
    assert (flat_rebuild.INDEX_TABLE,) not in tables
    spill = con.sql("SELECT current_setting('temp_directory')").fetchall()[0][0]
    assert not list(Path(spill).glob("overdue-slabs-*")), "the staged slabs are removed"
    again = list(
        rebuild_batches(con, setup.backend.con.compile, setup.book, setup.as_of, None)
    )
    assert sum(b.num_rows for b in again) == 30  # the connection is free and whole


def test_parallel_kernel_keeps_the_order_and_the_rows(tmp_path: Path) -> None:
    setup = _setup(3, 40, 150, tmp_path)
    backend, book, as_of, config = setup.backend, setup.book, setup.as_of, setup.config
    batches = list(
        rebuild_batches(
            backend.con.con,
            backend.con.compile,
            book,
            as_of,
            None,
            slab_accounts=10,
            batch_accounts=3,
        )
    )
    sequential = [run_batch_fast(b, config) for b in batches]
    parallel = list(parallel_kernel(iter(batches), config, threads=3))
    assert len(parallel) == len(sequential) == len(batches)
    for a, b in zip(parallel, sequential, strict=True):
        assert a.equals(b)


@settings(deadline=None)  # the first call compiles (or loads) the numba function
@given(st.lists(st.integers(0, 9), max_size=60))
def test_counting_order_groups_rows_by_account(values: list[int]) -> None:
    idx = np.array(values, dtype=np.int64) + 5
    offsets, order = _counting_order(idx, 5, 10)
    assert offsets[0] == 0 and offsets[-1] == len(values)
    assert sorted(order.tolist()) == list(range(len(values)))
    for a in range(10):
        segment = order[offsets[a] : offsets[a + 1]]
        assert all(values[k] == a for k in segment)
        assert list(segment) == sorted(segment)  # stable: rows keep their order
