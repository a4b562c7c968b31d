"""The snapshot's item side table: split on write, joined back on read, resumed from in memory.

- ``split_items`` / ``join_items`` are inverse (any lists, empty ones included, any order of
  the stored item rows);
- a snapshot written by ``run_eod`` holds exactly the kernel's items in ``items/`` (and no nested
  column in ``accounts/``);
- the incremental run's resumed rows grouped in memory (``resume_batches``, any slab and batch
  size) give the kernel the same rows as the nested SQL (``resume_rows``): the same snapshot.
"""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from book_factory import START, random_book, write_book
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from overdue.portfolio.engines import DuckDBBackend
from overdue.portfolio.eod import (
    load_book,
    read_snapshot,
    read_snapshot_items,
    resolve_policies,
    run_eod,
    snapshot_files,
    snapshot_item_files,
)
from overdue.portfolio.eod_inputs import replay_accounts, resume_rows
from overdue.portfolio.flat_rebuild import resume_batches
from overdue.portfolio.kernel import (
    ACCOUNT_STATE_SCHEMA,
    ITEM_ROW_SCHEMA,
    ITEM_STATE_TYPE,
    SNAPSHOT_SCHEMA,
    KernelConfig,
    run_batches,
)
from overdue.portfolio.snapshot_items import join_items, split_items

DAY = date(2025, 3, 1)


def _item(account: int, k: int) -> dict[str, object]:
    row: dict[str, object] = {f.name: k for f in ITEM_STATE_TYPE if pa.types.is_integer(f.type)}
    row.update(
        item_id=f"I{account}-{k}",
        due_date=DAY + timedelta(days=k),
        closed_by_minimum=k % 2 == 0,
        minimum_fen=None if k % 3 == 0 else k,
    )
    return row


def _kernel_rows(counts: list[int]) -> pa.RecordBatch:
    rows = []
    for a, count in enumerate(counts):
        row: dict[str, object] = {name: None for name in SNAPSHOT_SCHEMA.names}
        row.update(
            account_id=f"A{a:03d}",
            as_of=DAY,
            items=[_item(a, k) for k in range(count)],
            transitions=[],
        )
        rows.append(row)
    return pa.RecordBatch.from_pylist(rows, schema=SNAPSHOT_SCHEMA)


@settings(deadline=None)
@given(counts=st.lists(st.integers(0, 5), max_size=12), shuffle=st.randoms())
def test_split_then_join_gives_the_rows_back(counts: list[int], shuffle) -> None:
    batch = _kernel_rows(counts)
    accounts, items = split_items(batch)
    assert accounts.schema == ACCOUNT_STATE_SCHEMA and items.schema == ITEM_ROW_SCHEMA
    assert items.num_rows == sum(counts)
    assert items.column("account_id").to_pylist() == [
        f"A{a:03d}" for a, c in enumerate(counts) for _ in range(c)
    ]
    # stored in two parts in any order (each account's rows in one part, as the batch writes
    # them): the join gives every account its rows in their stored order
    table = pa.Table.from_batches([items])
    ends = [0]
    for c in counts:
        ends.append(ends[-1] + c)
    cut = shuffle.choice(ends)
    parts = pa.concat_tables([table.slice(cut), table.slice(0, cut)])
    back = join_items(pa.Table.from_batches([accounts]), parts)
    assert back.equals(pa.Table.from_batches([batch]))


def test_a_snapshot_keeps_its_items_in_the_side_table(tmp_path: Path) -> None:
    rows = random_book(5, accounts=20)
    data_dir = write_book(rows, tmp_path / "book")
    day = START + timedelta(days=120)
    run_eod(data_dir, day, tmp_path / "snaps")
    run_eod(data_dir, day + timedelta(days=1), tmp_path / "snaps")
    for d in (day, day + timedelta(days=1)):
        accounts = pq.read_table(snapshot_files(tmp_path / "snaps", d), partitioning=None)
        assert "items" not in accounts.column_names
        assert snapshot_item_files(tmp_path / "snaps", d), "no items/ files"
        items = read_snapshot_items(tmp_path / "snaps", d)
        nested = read_snapshot(tmp_path / "snaps", d)
        flat = pa.Table.from_batches([split_items(b)[1] for b in nested.to_batches()])
        assert sorted(items.to_pylist(), key=_key) == sorted(flat.to_pylist(), key=_key)
        assert items.num_rows > 0 and set(items.column("as_of").to_pylist()) == {d}


def _key(row: dict) -> tuple[str, str]:
    return (row["account_id"], row["item_id"])


@settings(
    max_examples=4, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    seed=st.integers(0, 10_000),
    day=st.integers(30, 180),
    gap=st.integers(1, 4),
    slab=st.integers(1, 30),
    batch=st.integers(1, 30),
)
def test_resume_grouped_in_memory_gives_the_nested_rows_snapshot(
    tmp_path_factory: pytest.TempPathFactory, seed: int, day: int, gap: int, slab: int, batch: int
) -> None:
    rows = random_book(seed, accounts=30)
    base = tmp_path_factory.mktemp("resume")
    data_dir = write_book(rows, base / "book")
    previous = START + timedelta(days=day)
    run_eod(data_dir, previous, base / "snaps")
    as_of = previous + timedelta(days=gap)
    backend = DuckDBBackend()
    window = load_book(backend, data_dir, previous, as_of)
    prev = backend.read_table(snapshot_files(base / "snaps", previous), ACCOUNT_STATE_SCHEMA, None)
    prev_items = backend.read_table(
        snapshot_item_files(base / "snaps", previous), ITEM_ROW_SCHEMA, None
    )
    replay = replay_accounts(window, prev, previous)
    config = KernelConfig(as_of=as_of, previous=previous, policies=resolve_policies(data_dir))
    nested_sql = backend.con.compile(resume_rows(window, prev, prev_items, as_of, replay))
    nested = backend.con.con.sql(nested_sql).to_arrow_reader(1000)
    expected = pa.Table.from_batches(list(run_batches(nested, config)), schema=SNAPSHOT_SCHEMA)
    flat = resume_batches(
        backend.con.con,
        backend.con.compile,
        window,
        prev,
        prev_items,
        as_of,
        replay,
        slab_accounts=max(slab, batch),
        batch_accounts=batch,
    )
    got = pa.Table.from_batches(list(run_batches(flat, config)), schema=SNAPSHOT_SCHEMA)
    assert got.num_rows == expected.num_rows > 0
    assert got.equals(expected)


def test_flat_and_nested_incremental_runs_write_the_same_snapshot(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    rows = random_book(9, accounts=30)
    data_dir = write_book(rows, tmp_path / "book")
    day = START + timedelta(days=100)
    for choice in ("flat", "nested"):
        monkeypatch.setenv("OVERDUE_EOD_INPUT", choice)
        for k in range(3):
            run_eod(data_dir, day + timedelta(days=k), tmp_path / choice)
    last = day + timedelta(days=2)
    assert read_snapshot(tmp_path / "flat", last).equals(read_snapshot(tmp_path / "nested", last))
