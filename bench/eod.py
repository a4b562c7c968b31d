"""Benchmark of the end-of-day batch against its floors, measured side by side in one run.

    .venv/bin/python bench/eod.py --accounts 1000000 --months 12 [--engine duckdb] [--work DIR]
    .venv/bin/python bench/eod.py --book DATA_DIR --work DIR      (a book made by the CLI)

OVERDUE_EOD_INPUT=nested measures the rebuild fed by the nested SQL rows instead of the flat
inputs; OVERDUE_EOD_THREADS sets the kernel threads.

Steps: generate a synthetic book (or reuse ``--work``/book if it exists), compile the kernel
into numba's cache in a child process (a tiny book's runs), then
1. floor for the rebuild: DuckDB reading every input column once (the event files' internal
   ``account_no`` included on a book that has it; the "contract" floor, measured beside it,
   reads the contract's columns only, and the rebuild's ratio to it is printed too);
2. full rebuild of the last business date but one; the rebuild floor again;
3. floor for the incremental run: DuckDB reading that snapshot (accounts and items) and writing
   one copy of it;
4. the next day's incremental run; the incremental floor again.
Each floor is the mean of its two measurements (before and after its run, as the load drifts;
``--floor-runs 1``: the incremental floor before only, to save the time of a second 10M
snapshot copy; the rebuild floor, a read, is always measured twice). The book is
read once, untimed, before the first floor: a floor read from a cold page cache (3.3 s CPU and
6.8 s wall at 1M, against 1.6 s and 0.9 s warm) would flatter the ratio of a rebuild that finds
the files cached.
Prints wall and CPU times (CPU: user + system time, less sensitive to other processes), the
ratios run / floor of both, the load average and the batch's peak memory (RSS of this process;
the floors run in processes of a fork server, whose memory is not counted).
No timing is asserted anywhere: these machines are shared and noisy; read the ratios.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import resource
import shutil
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from datetime import date, timedelta
from pathlib import Path
from typing import TypeVar

import duckdb

from overdue.portfolio import contract
from overdue.portfolio.book_layout import ACCOUNT_NO, is_keyed
from overdue.portfolio.eod import run_eod, snapshot_files, snapshot_item_files

T = TypeVar("T")


def peak_rss_mb() -> float:
    """Peak RSS of this process: the batch's. The floors run in other processes (DuckDB copying
    a 10M snapshot took 7.9 GB, which counted as the batch's when it ran in this process)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _floor_in_child(kind: str, path: str, day: str) -> tuple[float, float]:
    """(wall, CPU seconds) of one floor, measured inside a fresh child process."""
    measures = {
        "rebuild": input_floor,
        "contract": lambda book, as_of: input_floor(book, as_of, keys=False),
        "incremental": snapshot_floor,
    }
    measure = measures[kind]
    _, wall, cpu = timed(lambda: measure(Path(path), date.fromisoformat(day)))
    return wall, cpu


def measure_floor(kind: str, path: Path, day: date) -> tuple[float, float]:
    """One floor in a child process, so that its memory is not counted as the batch's."""
    context = multiprocessing.get_context("forkserver")  # spawn would fork this big process
    with ProcessPoolExecutor(1, mp_context=context) as pool:
        return pool.submit(_floor_in_child, kind, str(path), day.isoformat()).result()


def _warm_up_in_child(book: str) -> None:
    """A rebuild and the next day's incremental run of a tiny book, in a fresh process."""
    day = date.fromisoformat(json.loads((Path(book) / "manifest.json").read_text())["last_date"])
    with tempfile.TemporaryDirectory() as snapshots:
        run_eod(Path(book), day - timedelta(days=1), Path(snapshots))
        run_eod(Path(book), day, Path(snapshots))


def warm_up(work: Path) -> None:
    """Compile the kernel into numba's cache before anything is timed (the first compile takes
    20-50 s; a nightly run only loads the cache, which the timed runs still do)."""
    book = work / "warm-up-book"
    generate(book, WARM_UP_ACCOUNTS, 2, 1)
    context = multiprocessing.get_context("forkserver")
    with ProcessPoolExecutor(1, mp_context=context) as pool:
        pool.submit(_warm_up_in_child, str(book)).result()


WARM_UP_ACCOUNTS = 300


def generate(book: Path, accounts: int, months: int, seed: int) -> None:
    from overdue.twin.generate import TwinSpec, generate_book

    if (book / "manifest.json").is_file():
        return
    started = time.perf_counter()
    generate_book(TwinSpec(accounts=accounts, months=months, seed=seed), book)
    print(
        f"generated {accounts:,} accounts × {months} months in {time.perf_counter() - started:.1f} s"
    )


def input_floor(book: Path, as_of: date, keys: bool = True) -> None:
    """DuckDB reading every input column once (the tables a rebuild needs, up to as_of), the
    event files' internal ``account_no`` included where the book has it (book_layout) unless
    ``keys`` is false (the "contract" floor: the contract's columns only, as before it)."""
    keyed = keys and is_keyed(book)
    con = duckdb.connect()
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
        if keyed and spec.partitioned:
            columns.append(ACCOUNT_NO)
        aggregates = ", ".join(f"count({c})" for c in columns)
        con.execute(f"SELECT {aggregates} FROM {source} {where}").fetchall()


def snapshot_floor(snapshots: Path, as_of: date) -> None:
    """DuckDB reading the previous snapshot (its account rows and its item rows) and writing one
    copy of it."""
    parts = {
        "accounts": [str(f) for f in snapshot_files(snapshots, as_of)],
        "items": [str(f) for f in snapshot_item_files(snapshots, as_of)],
    }
    with tempfile.TemporaryDirectory() as tmp:
        con = duckdb.connect()
        for name, files in parts.items():
            if files:
                con.execute(
                    f"COPY (SELECT * FROM read_parquet({files})) TO '{tmp}/{name}.parquet' "
                    "(FORMAT parquet)"
                )


def cpu_seconds() -> float:
    """CPU time of this process so far (all its threads, DuckDB's included), user + system."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def timed(run: Callable[[], T]) -> tuple[T, float, float]:
    """(result, wall seconds, CPU seconds) of ``run()``."""
    wall, cpu = time.perf_counter(), cpu_seconds()
    result = run()
    return result, time.perf_counter() - wall, cpu_seconds() - cpu


def step(name: str, seconds: float, cpu: float, note: str = "") -> None:
    """One step's figure as soon as it is known (a long run shows its progress)."""
    print(
        f"{name}: {seconds:.2f} s wall, {cpu:.2f} s CPU {note} "
        f"(load {os.getloadavg()[0]:.1f}, the batch's peak RSS so far {peak_rss_mb():.0f} MB)",
        flush=True,
    )


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
    parser.add_argument(
        "--book", type=Path, default=None, help="an existing book (e.g. generated by the CLI)"
    )
    parser.add_argument(
        "--floor-runs",
        type=int,
        default=2,
        choices=[1, 2],
        help="measure the incremental floor before and after its run (2, the default) or "
        "before only (1: saves a second copy of the snapshot); the rebuild floor is always "
        "measured twice",
    )
    args = parser.parse_args()
    work = args.work or Path(tempfile.mkdtemp(prefix="overdue-bench-"))
    book, snapshots = work / f"book-{args.accounts}-{args.months}-{args.seed}", work / "snapshots"
    if args.book is not None:
        book = args.book
    generate(book, args.accounts, args.months, args.seed)
    warm_up(work)
    shutil.rmtree(snapshots, ignore_errors=True)
    last = date.fromisoformat(json.loads((book / "manifest.json").read_text())["last_date"])
    day0, day1 = last - timedelta(days=1), last

    # Each floor is measured just before and just after its run (the mean is the floor): on a
    # shared machine the load drifts during a long run. CPU seconds are less load-dependent.
    floors: dict[str, list[tuple[float, float]]] = {"rebuild": [], "incremental": [], "contract": []}
    keyed = is_keyed(book)  # its floor reads account_no too; "contract": without it

    def floor(kind: str, path: Path, day: date) -> None:
        wall, cpu = measure_floor(kind, path, day)
        floors[kind].append((wall, cpu))
        step(f"{kind} floor", wall, cpu)
        if kind == "rebuild" and keyed:
            floor("contract", path, day)

    measure_floor("rebuild", book, day0)  # warm-up, untimed: the book's files into the cache
    floor("rebuild", book, day0)
    rebuild, t_rebuild, c_rebuild = timed(
        lambda: run_eod(book, day0, snapshots, engine=args.engine)
    )
    step("rebuild", t_rebuild, c_rebuild, f"{rebuild.seconds}")
    floor("rebuild", book, day0)  # always twice: it only reads (10M: 9.0 and 10.8 s apart)
    floor("incremental", snapshots, day0)
    incremental, t_incremental, c_incremental = timed(
        lambda: run_eod(book, day1, snapshots, engine=args.engine)
    )
    step("incremental", t_incremental, c_incremental, f"{incremental.seconds}")
    if args.floor_runs == 2:
        floor("incremental", snapshots, day0)
    (floor_rebuild, cpu_floor_rebuild), (floor_incremental, cpu_floor_incremental) = (
        (
            sum(w for w, _ in floors[k]) / len(floors[k]),
            sum(c for _, c in floors[k]) / len(floors[k]),
        )
        for k in ("rebuild", "incremental")
    )
    contract = floors["contract"] or floors["rebuild"]
    floor_contract = sum(w for w, _ in contract) / len(contract)
    cpu_floor_contract = sum(c for _, c in contract) / len(contract)
    if keyed:
        print(
            f"rebuild against the contract floor (no account_no): wall "
            f"{t_rebuild / floor_contract:.1f}, CPU {c_rebuild / cpu_floor_contract:.1f}"
        )
    print(
        f"ratios (wall): rebuild {t_rebuild / floor_rebuild:.1f}, "
        f"incremental {t_incremental / floor_incremental:.1f}; (CPU): rebuild "
        f"{c_rebuild / cpu_floor_rebuild:.1f}, incremental {c_incremental / cpu_floor_incremental:.1f}"
    )

    report = {
        "accounts": args.accounts,
        "months": args.months,
        "engine": args.engine,
        "input": os.environ.get("OVERDUE_EOD_INPUT", "flat"),
        "kernel_threads": os.environ.get("OVERDUE_EOD_THREADS", str(os.cpu_count())),
        "rebuild_s": round(t_rebuild, 2),
        "rebuild_floor_s": round(floor_rebuild, 2),
        "rebuild_floors_s": [round(w, 2) for w, _ in floors["rebuild"]],
        "rebuild_cpu_s": round(c_rebuild, 1),
        "rebuild_floor_cpu_s": round(cpu_floor_rebuild, 2),
        "rebuild_cpu_ratio": round(c_rebuild / cpu_floor_rebuild, 1),
        "rebuild_ratio": round(t_rebuild / floor_rebuild, 1),
        "keyed_book": keyed,
        "rebuild_contract_floor_s": round(floor_contract, 2),
        "rebuild_contract_floor_cpu_s": round(cpu_floor_contract, 2),
        "rebuild_contract_ratio": round(t_rebuild / floor_contract, 1),
        "rebuild_contract_cpu_ratio": round(c_rebuild / cpu_floor_contract, 1),
        "incremental_s": round(t_incremental, 2),
        "incremental_floor_s": round(floor_incremental, 2),
        "incremental_floors_s": [round(w, 2) for w, _ in floors["incremental"]],
        "incremental_cpu_s": round(c_incremental, 1),
        "incremental_floor_cpu_s": round(cpu_floor_incremental, 2),
        "incremental_cpu_ratio": round(c_incremental / cpu_floor_incremental, 1),
        "incremental_ratio": round(t_incremental / floor_incremental, 1),
        "resumed": incremental.resumed,
        "replayed": incremental.replayed,
        "rebuild_steps_s": rebuild.seconds,
        "incremental_steps_s": incremental.seconds,
        "peak_rss_mb": round(peak_rss_mb()),
        "load_average_end": [round(x, 1) for x in os.getloadavg()],
    }
    print(json.dumps(report, indent=2))
    if args.work is None:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
