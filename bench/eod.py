"""Benchmark of the end-of-day batch against its floors, measured side by side in one run.

    .venv/bin/python bench/eod.py --accounts 1000000 --months 12 [--engine duckdb] [--work DIR]

Steps: generate a synthetic book (or reuse ``--work``/book if it exists), then
1. floor for the rebuild: DuckDB reading every input column once;
2. full rebuild of the last business date but one;
3. floor for the incremental run: DuckDB reading that snapshot and writing one copy of it;
4. the next day's incremental run.
Prints times, the ratios run / floor, and the peak memory (RSS of this process and its children).
No timing is asserted anywhere: these machines are shared and noisy; read the ratios.
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

import duckdb

from overdue.portfolio import contract
from overdue.portfolio.eod import run_eod, snapshot_files


def peak_rss_mb() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return max(own, children) / 1024


def generate(book: Path, accounts: int, months: int, seed: int) -> None:
    from overdue.twin.generate import TwinSpec, generate_book

    if (book / "manifest.json").is_file():
        return
    started = time.perf_counter()
    generate_book(TwinSpec(accounts=accounts, months=months, seed=seed), book)
    print(
        f"generated {accounts:,} accounts × {months} months in {time.perf_counter() - started:.1f} s"
    )


def input_floor(book: Path, as_of: date) -> float:
    """DuckDB reading every input column once (the tables a rebuild needs, up to as_of)."""
    con = duckdb.connect()
    started = time.perf_counter()
    for name, spec in contract.TABLES.items():
        if name == "customers":
            continue
        if spec.partitioned:
            folder = book / name
            if not folder.is_dir():
                continue
            source = f"read_parquet('{folder}/*/*.parquet', hive_partitioning = true)"
            where = f"WHERE entry_date <= DATE '{as_of}'"
        else:
            source, where = f"read_parquet('{book}/{name}.parquet')", ""
        columns = [c for c in spec.column_names if c != "entry_date" or spec.partitioned]
        aggregates = ", ".join(f"count({c})" for c in columns)
        con.execute(f"SELECT {aggregates} FROM {source} {where}").fetchall()
    return time.perf_counter() - started


def snapshot_floor(snapshots: Path, as_of: date) -> float:
    """DuckDB reading the previous snapshot and writing one copy of it."""
    files = [str(f) for f in snapshot_files(snapshots, as_of)]
    with tempfile.TemporaryDirectory() as tmp:
        con = duckdb.connect()
        started = time.perf_counter()
        con.execute(
            f"COPY (SELECT * FROM read_parquet({files})) TO '{tmp}/copy.parquet' (FORMAT parquet)"
        )
        return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--accounts", type=int, default=100_000)
    parser.add_argument("--months", type=int, default=12)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--engine", default="duckdb", choices=["duckdb", "spark"])
    parser.add_argument(
        "--work", type=Path, default=None, help="folder kept between runs (book reused)"
    )
    args = parser.parse_args()
    work = args.work or Path(tempfile.mkdtemp(prefix="overdue-bench-"))
    book, snapshots = work / f"book-{args.accounts}-{args.months}-{args.seed}", work / "snapshots"
    generate(book, args.accounts, args.months, args.seed)
    shutil.rmtree(snapshots, ignore_errors=True)
    last = date.fromisoformat(json.loads((book / "manifest.json").read_text())["last_date"])
    day0, day1 = last - timedelta(days=1), last

    floor_rebuild = input_floor(book, day0)
    started = time.perf_counter()
    rebuild = run_eod(book, day0, snapshots, engine=args.engine)
    t_rebuild = time.perf_counter() - started
    floor_incremental = snapshot_floor(snapshots, day0)
    started = time.perf_counter()
    incremental = run_eod(book, day1, snapshots, engine=args.engine)
    t_incremental = time.perf_counter() - started

    report = {
        "accounts": args.accounts,
        "months": args.months,
        "engine": args.engine,
        "rebuild_s": round(t_rebuild, 2),
        "rebuild_floor_s": round(floor_rebuild, 2),
        "rebuild_ratio": round(t_rebuild / floor_rebuild, 1),
        "incremental_s": round(t_incremental, 2),
        "incremental_floor_s": round(floor_incremental, 2),
        "incremental_ratio": round(t_incremental / floor_incremental, 1),
        "resumed": incremental.resumed,
        "replayed": incremental.replayed,
        "rebuild_steps_s": rebuild.seconds,
        "incremental_steps_s": incremental.seconds,
        "peak_rss_mb": round(peak_rss_mb()),
    }
    print(json.dumps(report, indent=2))
    if args.work is None:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
