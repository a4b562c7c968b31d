"""Benchmark: the Python reference kernel vs the compiled kernel on the same end-of-day batches.

    .venv/bin/python bench/kernel.py --accounts 20000 --days 300

Writes a random book (``tests/portfolio/book_factory.py``), builds the kernel's real input rows
with DuckDB (the rebuild rows of day D, and the resume rows of day D + 1 against the snapshot of
D), then times both kernels on the very same Arrow batches and checks that their outputs are
equal. The Python kernel is timed on the first ``--python-accounts`` rows only (it takes about a
millisecond an account). For scale, it also times what the issue's targets compare to: DuckDB
reading every input column once, and reading + writing the snapshot.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "portfolio"))

from book_factory import START, random_book, write_book  # noqa: E402

from overdue.portfolio.engines import BATCH_ROWS, DuckDBBackend  # noqa: E402
from overdue.portfolio.eod import (  # noqa: E402
    load_book,
    read_snapshot,
    resolve_policies,
    run_eod,
    snapshot_files,
    snapshot_item_files,
)
from overdue.portfolio.eod_inputs import rebuild_rows, replay_accounts, resume_rows  # noqa: E402
from overdue.portfolio.fast_kernel import run_batch_fast  # noqa: E402
from overdue.portfolio.kernel import (  # noqa: E402
    ACCOUNT_STATE_SCHEMA,
    ITEM_ROW_SCHEMA,
    KernelConfig,
    run_batch,
)

Kernel = Callable[[pa.RecordBatch, KernelConfig], pa.RecordBatch]


def fetch(backend: DuckDBBackend, expr: object) -> list[pa.RecordBatch]:
    reader = backend.con.con.sql(backend.con.compile(expr)).to_arrow_reader(BATCH_ROWS)
    return list(reader)


def timed(kernel: Kernel, batches: list[pa.RecordBatch], config: KernelConfig) -> float:
    started = time.perf_counter()
    for batch in batches:
        kernel(batch, config)
    return time.perf_counter() - started


def head(batches: list[pa.RecordBatch], rows: int) -> list[pa.RecordBatch]:
    table = pa.Table.from_batches(batches).slice(0, rows).combine_chunks()
    return table.to_batches(max_chunksize=BATCH_ROWS)


def compare(name: str, batches: list[pa.RecordBatch], config: KernelConfig, sample: int) -> None:
    n = sum(b.num_rows for b in batches)
    run_batch_fast(head(batches, 50)[0], config)  # compile or load the cached machine code
    fast = min(timed(run_batch_fast, batches, config) for _ in range(3)) / n * 1e6
    few = head(batches, min(sample, n))
    n_few = sum(b.num_rows for b in few)
    slow = timed(run_batch, few, config) / n_few * 1e6
    for batch in few:
        assert run_batch_fast(batch, config).equals(run_batch(batch, config)), "kernels differ"
    print(
        f"{name:12s} {n:7d} accounts  python {slow:9.1f} µs/account ({n_few} timed)"
        f"  fast {fast:7.2f} µs/account  ratio {slow / fast:7.1f}×"
    )


def read_all_inputs(data_dir: Path) -> float:
    import duckdb

    started = time.perf_counter()
    con = duckdb.connect()
    for table in ("accounts", "due_items", "payments", "waivers", "reversals"):
        plain = data_dir / f"{table}.parquet"
        source = f"'{plain}'" if plain.is_file() else f"'{data_dir / table}/*/*.parquet'"
        con.sql(f"select * from read_parquet({source}, hive_partitioning=true)").to_arrow_table()
    return time.perf_counter() - started


def read_write_snapshot(snapshots: Path, as_of: date, out: Path) -> float:
    """Read one snapshot (accounts and item rows, joined back) and write it as one file."""
    started = time.perf_counter()
    pq.write_table(read_snapshot(snapshots, as_of), out)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--accounts", type=int, default=5000)
    parser.add_argument("--days", type=int, default=300)
    parser.add_argument("--python-accounts", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="overdue-bench-"))
    try:
        data_dir = write_book(random_book(args.seed, args.accounts, args.days), work / "book")
        as_of = START + timedelta(days=args.days)
        backend = DuckDBBackend()
        policies = resolve_policies(data_dir)
        rebuild = KernelConfig(as_of=as_of, previous=None, policies=policies)
        batches = fetch(backend, rebuild_rows(load_book(backend, data_dir, None, as_of), as_of))
        compare("rebuild", batches, rebuild, args.python_accounts)
        read = read_all_inputs(data_dir)
        print(
            f"  DuckDB reads every input column once: {read / args.accounts * 1e6:.2f} µs/account"
        )

        snapshots = work / "snapshots"
        run_eod(data_dir, as_of, snapshots, backend=backend)
        following = as_of + timedelta(days=1)
        window = load_book(backend, data_dir, as_of, following)
        previous = backend.read_table(snapshot_files(snapshots, as_of), ACCOUNT_STATE_SCHEMA, None)
        items = backend.read_table(snapshot_item_files(snapshots, as_of), ITEM_ROW_SCHEMA, None)
        replay = replay_accounts(window, previous, as_of)
        incremental = KernelConfig(as_of=following, previous=as_of, policies=policies)
        batches = fetch(backend, resume_rows(window, previous, items, following, replay))
        compare("incremental", batches, incremental, args.python_accounts)
        io = read_write_snapshot(snapshots, as_of, work / "copy.parquet")
        print(f"  reading + writing the snapshot: {io / args.accounts * 1e6:.2f} µs/account")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
