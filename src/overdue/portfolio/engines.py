"""The two execution backends of the end-of-day batch: DuckDB (embedded) and Spark (local/cluster).

Each backend reads the book's files into Ibis tables, runs the shared input expressions of
``eod_inputs`` and applies the shared kernel per Arrow batch — in-process for DuckDB, inside
``mapInArrow`` on Spark's executors — and writes the snapshot rows as Parquet into a folder.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
import weakref
from collections import deque
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import ibis
import ibis.expr.types as ir
import pyarrow as pa
import pyarrow.parquet as pq

from overdue.portfolio.account_handoff import AccountHandoff
from overdue.portfolio.eod_inputs import BookTables, rebuild_rows, resume_rows
from overdue.portfolio.kernel import (
    ACCOUNT_STATE_SCHEMA,
    ITEM_ROW_SCHEMA,
    KernelConfig,
    batch_kernel,
    run_batches,
)
from overdue.portfolio.snapshot_items import (
    ITEMS_COLUMN,
    SUMMARISED_SCHEMA,
    TRANSITION_ROW_SCHEMA,
    UNSORTED_MARK,
    KeyOrder,
    split_items,
    transition_rows,
    with_summary,
)

BATCH_ROWS = 20_000  # accounts per Arrow batch handed to the kernel
INPUT_ENV = "OVERDUE_EOD_INPUT"  # DuckDB rebuild inputs: "flat" (the default) or "nested"
THREADS_ENV = "OVERDUE_EOD_THREADS"  # kernel threads on DuckDB (default: the CPUs, at most 8)
MAX_KERNEL_THREADS = 8
MAX_BATCHES_IN_FLIGHT = 4  # per kernel thread: batches read ahead of the writer
MEMORY_ENV = "OVERDUE_DUCKDB_MEMORY"  # DuckDB's memory limit (it spills to disk beyond it)
DEFAULT_DUCKDB_MEMORY = "4GB"


def _delta_encoded(schema: pa.Schema, dictionary: list[str]) -> dict[str, str]:
    """DELTA_BINARY_PACKED for the integer and date columns without a dictionary."""
    return {
        f.name: "DELTA_BINARY_PACKED"
        for f in schema
        if f.name not in dictionary and (pa.types.is_integer(f.type) or pa.types.is_date32(f.type))
    }


# The snapshot's Parquet settings: fast to write, and read back as fast as the defaults.
SNAPSHOT_WRITE = {"compression": "zstd", "compression_level": 1}
# Dictionary encoding only where a column has few distinct values: on ids (a million accounts,
# millions of items) the writer builds a dictionary, overflows it and falls back to plain, which
# took half the time of writing the item rows (1M accounts: 19.8 s → 10.8 s, files 134 → 104 MB).
ACCOUNT_DICTIONARY = ["product", "policy", "as_of", "status", "bucket_cn", "bucket_us"]
ITEM_DICTIONARY = ["as_of"]
# Item rows: integer and date columns delta-encoded (most are small or zero, and a delta-packed
# page needs far less zstd work than a plain one), statistics only on the columns a reader
# filters on. Writing 7.6M item rows (1M accounts): 3.5 s → 2.4-2.6 s of CPU, 103 → 120-125 MB.
ITEM_STATISTICS = ["account_id", "as_of", "due_date"]
ITEM_DELTA_ENCODED = _delta_encoded(ITEM_ROW_SCHEMA, ITEM_DICTIONARY)
# Account rows the same way, statistics on the columns monitoring filters on. Writing 1M
# account rows: 0.60-0.62 s → 0.46-0.47 s of CPU, 30.7 → 35.2 MB.
ACCOUNT_STATISTICS = [
    "account_id", "product", "policy", "as_of", "status", "dpd", "bucket_cn", "bucket_us",
    "max_dpd", "delinquent_since", "charged_off_on",
]
ACCOUNT_DELTA_ENCODED = _delta_encoded(ACCOUNT_STATE_SCHEMA, ACCOUNT_DICTIONARY)
# Transition rows: dictionaries on the bucket and scheme names only (not on account ids).
TRANSITION_WRITE: dict[str, Any] = {
    "use_dictionary": ["as_of", "scheme", "from_bucket", "to_bucket"],
    "write_statistics": ["account_id", "as_of", "on"],
    **SNAPSHOT_WRITE,
}


class Backend(Protocol):
    name: str

    def read_table(
        self, files: Sequence[Path], schema: pa.Schema, base: Path | None
    ) -> ir.Table: ...

    def count(self, expr: ir.Table) -> int: ...

    def apply_kernel(self, expr: ir.Table, config: KernelConfig, out: SnapshotPart) -> int: ...

    def rebuild_kernel(
        self,
        book: BookTables,
        config: KernelConfig,
        out: SnapshotPart,
        only: ir.Table | None = None,
    ) -> int: ...

    def resume_kernel(
        self, resume: ResumeInputs, config: KernelConfig, out: SnapshotPart
    ) -> int: ...


@dataclass(frozen=True)
class ResumeInputs:
    """What an incremental run resumes from: the window's events, the previous snapshot's account
    rows and item rows, and the accounts replayed instead (``eod_inputs.resume_rows``)."""

    window: BookTables
    previous: ir.Table
    previous_items: ir.Table
    replay: ir.Table

    def rows(self, as_of: Any) -> ir.Table:
        return resume_rows(self.window, self.previous, self.previous_items, as_of, self.replay)


TRANSITION_PARTS = ".transitions-parts"  # a snapshot's transition rows before their merge


@dataclass(frozen=True)
class SnapshotPart:
    """Where one part of a snapshot goes: its account rows and its item rows (two folders), and
    optionally its transition rows (``transitions``: a folder the batch merges afterwards)."""

    accounts: Path
    items: Path
    transitions: Path | None = None
    handoff: AccountHandoff | None = None  # keeps the account rows written (DuckDB)

    @classmethod
    def of(
        cls, snapshot: Path, part: str = "", *, transitions: bool = False,
        handoff: AccountHandoff | None = None,
    ) -> SnapshotPart:  # fmt: skip
        """``snapshot/accounts/part`` and ``snapshot/items/part`` (``part`` may be empty);
        ``transitions``: also ``snapshot/.transitions-parts/part``."""
        moves = snapshot / TRANSITION_PARTS / part if transitions else None
        return cls(snapshot / "accounts" / part, snapshot / "items" / part, moves, handoff)


class DuckDBBackend:
    name = "duckdb"

    def __init__(self, threads: int | None = None) -> None:
        self.con = ibis.duckdb.connect(threads=threads) if threads else ibis.duckdb.connect()
        # DuckDB would take 80 % of the RAM before spilling; the batch keeps within a budget.
        memory = os.environ.get(MEMORY_ENV, "").strip() or DEFAULT_DUCKDB_MEMORY
        self.con.con.execute(f"SET memory_limit = '{_memory_setting(memory)}'")
        # No progress bar in the commands' output (long statements would draw one on stdout).
        self.con.con.execute("SET enable_progress_bar = false")
        # Spilled data goes to a folder of its own in the system's temporary folder (TMPDIR),
        # removed with the backend; DuckDB's default is ./.tmp of the working directory.
        spill = tempfile.mkdtemp(prefix="overdue-duckdb-spill-")
        self.con.con.execute(f"SET temp_directory = '{_sql_path(spill)}'")
        self._spill = weakref.finalize(self, shutil.rmtree, spill, True)
        self._empty = 0

    def read_table(self, files: Sequence[Path], schema: pa.Schema, base: Path | None) -> ir.Table:
        if not files:
            self._empty += 1
            name = f"empty_{self._empty}"
            return _conform(self.con.create_table(name, schema.empty_table(), temp=True), schema)
        paths = [str(f) for f in files]
        table = self.con.read_parquet(paths, hive_partitioning=base is not None)
        return _conform(table, schema)

    def count(self, expr: ir.Table) -> int:
        return int(self.con.execute(expr.count()))

    def apply_kernel(self, expr: ir.Table, config: KernelConfig, out: SnapshotPart) -> int:
        # DuckDB 2 renamed fetch_record_batch (which Ibis 12 still calls): use the SQL directly.
        batches = self.con.con.sql(self.con.compile(expr)).to_arrow_reader(BATCH_ROWS)
        return write_snapshot(parallel_kernel(batches, config), out)

    def rebuild_kernel(
        self,
        book: BookTables,
        config: KernelConfig,
        out: SnapshotPart,
        only: ir.Table | None = None,
    ) -> int:
        """``apply_kernel(rebuild_rows(book, config.as_of, only), …)``, the same rows grouped in
        memory instead of nested in SQL (``flat_rebuild``; ``OVERDUE_EOD_INPUT=nested``: not)."""
        if _input_choice() == "nested":
            return self.apply_kernel(rebuild_rows(book, config.as_of, only), config, out)
        from overdue.portfolio.flat_rebuild import rebuild_batches

        batches = rebuild_batches(self.con.con, self.con.compile, book, config.as_of, only)
        return write_snapshot(parallel_kernel(batches, config), out)

    def resume_kernel(self, resume: ResumeInputs, config: KernelConfig, out: SnapshotPart) -> int:
        """``apply_kernel(resume.rows(config.as_of), …)``, the rows grouped in memory
        (``flat_rebuild.resume_batches``; ``OVERDUE_EOD_INPUT=nested``: collected in SQL)."""
        if _input_choice() == "nested":
            return self.apply_kernel(resume.rows(config.as_of), config, out)
        from overdue.portfolio.flat_rebuild import resume_batches

        batches = resume_batches(
            self.con.con,
            self.con.compile,
            resume.window,
            resume.previous,
            resume.previous_items,
            config.as_of,
            resume.replay,
        )
        return write_snapshot(parallel_kernel(batches, config), out)


def _sql_path(path: str) -> str:
    """``path`` inside a SQL string literal."""
    return path.replace("'", "''")


def _input_choice() -> str:
    """``OVERDUE_EOD_INPUT``: ``flat`` (the default) or ``nested``."""
    choice = os.environ.get(INPUT_ENV, "flat").strip().lower() or "flat"
    if choice not in ("flat", "nested"):
        raise ValueError(f"{INPUT_ENV}={choice!r}: must be flat or nested")
    return choice


def _memory_setting(value: str) -> str:
    """A DuckDB memory size such as ``4GB`` or ``512MB`` (nothing else goes into the SQL)."""
    number, unit = value[:-2], value[-2:].upper()
    if not (number.isdigit() and unit in ("MB", "GB") and int(number) > 0):
        raise ValueError(f"{MEMORY_ENV}={value!r}: must look like 4GB or 512MB")
    return f"{int(number)}{unit}"


def kernel_threads() -> int:
    """Threads that run the compiled kernel (``OVERDUE_EOD_THREADS``, else the CPUs)."""
    raw = os.environ.get(THREADS_ENV, "").strip()
    threads = int(raw) if raw else (os.cpu_count() or 1)
    if not 1 <= threads <= MAX_KERNEL_THREADS:
        raise ValueError(f"{THREADS_ENV}={raw!r}: must be 1..{MAX_KERNEL_THREADS}")
    return threads


def parallel_kernel(
    batches: Iterable[pa.RecordBatch], config: KernelConfig, threads: int | None = None
) -> Iterator[pa.RecordBatch]:
    """``run_batches(batches, config)``, the batches run by ``threads`` threads, output in input
    order. The compiled kernel releases the GIL, so they share the CPUs with the reading and
    writing (Arrow and DuckDB release it too)."""
    threads = threads or kernel_threads()
    if threads == 1:
        yield from run_batches(batches, config)
        return
    run = batch_kernel()
    pending: deque[Future[pa.RecordBatch]] = deque()
    with ThreadPoolExecutor(threads, thread_name_prefix="overdue-kernel") as pool:
        try:
            for batch in batches:
                if batch.num_rows:
                    pending.append(pool.submit(run, batch, config))
                while len(pending) > threads * MAX_BATCHES_IN_FLIGHT:
                    yield pending.popleft().result()
            while pending:
                yield pending.popleft().result()
        finally:
            for future in pending:
                future.cancel()


def write_snapshot(batches: Iterator[pa.RecordBatch], out: SnapshotPart) -> int:
    """Write the kernel's output batches as one Parquet file of account rows and one of item
    rows (``snapshot_items``), and of transition rows if ``out.transitions``; return the account
    rows. The item rows (the largest file) are written on a second thread, one batch behind."""
    out.accounts.mkdir(parents=True, exist_ok=True)
    out.items.mkdir(parents=True, exist_ok=True)
    rows = 0
    accounts_file = out.accounts / "part-0.parquet"
    with ExitStack() as stack:
        accounts = stack.enter_context(
            pq.ParquetWriter(
                accounts_file,
                ACCOUNT_STATE_SCHEMA,
                use_dictionary=ACCOUNT_DICTIONARY,
                write_statistics=ACCOUNT_STATISTICS,
                column_encoding=ACCOUNT_DELTA_ENCODED,
                **SNAPSHOT_WRITE,
            )
        )
        items = stack.enter_context(
            pq.ParquetWriter(
                out.items / "part-0.parquet",
                ITEM_ROW_SCHEMA,
                use_dictionary=ITEM_DICTIONARY,
                write_statistics=ITEM_STATISTICS,
                column_encoding=ITEM_DELTA_ENCODED,
                **SNAPSHOT_WRITE,
            )
        )
        moves, order = None, KeyOrder()
        if out.transitions is not None:
            out.transitions.mkdir(parents=True, exist_ok=True)
            moves = stack.enter_context(
                pq.ParquetWriter(
                    out.transitions / "part-0.parquet", TRANSITION_ROW_SCHEMA, **TRANSITION_WRITE
                )
            )
        # Registered last, so it is shut down (its last write finished) before the files close.
        writer = stack.enter_context(ThreadPoolExecutor(1, thread_name_prefix="overdue-items"))
        pending: Future[None] | None = None
        for batch in batches:
            account_rows, item_rows = split_items(batch)
            if pending is not None:
                pending.result()  # one batch of item rows in flight at most
            pending = writer.submit(items.write_batch, item_rows)
            accounts.write_batch(account_rows)
            if out.handoff is not None:
                out.handoff.add(accounts_file, account_rows)
            if moves is not None:
                moved = transition_rows(batch)
                order.add(moved)
                moves.write_table(moved)
            rows += batch.num_rows
        if pending is not None:
            pending.result()
    if out.handoff is not None:
        out.handoff.closed(accounts_file)
    if out.transitions is not None and not order.ordered:
        (out.transitions / UNSORTED_MARK).touch()  # the batch sorts them when it merges parts
    return rows


class SparkBackend:
    name = "spark"

    def __init__(self) -> None:
        self.session = spark_session()
        self.con = ibis.pyspark.connect(self.session)
        self._views = 0

    def read_table(self, files: Sequence[Path], schema: pa.Schema, base: Path | None) -> ir.Table:
        if not files:
            df = self.session.createDataFrame([], _spark_schema(schema))
        else:
            reader = self.session.read
            if base is not None:
                reader = reader.option("basePath", str(base))
            df = reader.parquet(*[str(f) for f in files])
        self._views += 1
        name = f"overdue_input_{self._views}"
        df.createOrReplaceTempView(name)
        return _conform(self.con.table(name), schema)

    def count(self, expr: ir.Table) -> int:
        return int(self.con.execute(expr.count()))

    def apply_kernel(self, expr: ir.Table, config: KernelConfig, out: SnapshotPart) -> int:
        from pyspark.sql import functions as F

        df = self.session.sql(self.con.compile(expr))

        def kernel(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
            return (with_summary(b) for b in run_batches(batches, config))

        rows = df.mapInArrow(kernel, _spark_schema(SUMMARISED_SCHEMA)).persist()
        try:
            rows.select(*ACCOUNT_STATE_SCHEMA.names).write.mode("overwrite").parquet(
                str(out.accounts)
            )
            for column, folder in ((ITEMS_COLUMN, out.items), ("transitions", out.transitions)):
                if folder is None:
                    continue
                flat = rows.select("account_id", "as_of", F.explode(column).alias("row"))
                flat.select("account_id", "as_of", "row.*").write.mode("overwrite").parquet(
                    str(folder)
                )
            if out.transitions is not None:
                (out.transitions / UNSORTED_MARK).touch()  # the batch sorts them when it merges
        finally:
            rows.unpersist()
        return int(self.session.read.parquet(str(out.accounts)).count())

    def rebuild_kernel(
        self,
        book: BookTables,
        config: KernelConfig,
        out: SnapshotPart,
        only: ir.Table | None = None,
    ) -> int:
        return self.apply_kernel(rebuild_rows(book, config.as_of, only), config, out)

    def resume_kernel(self, resume: ResumeInputs, config: KernelConfig, out: SnapshotPart) -> int:
        return self.apply_kernel(resume.rows(config.as_of), config, out)


def _conform(table: ir.Table, schema: pa.Schema) -> ir.Table:
    """Select the contract's columns in order, cast to the contract's types."""
    target = ibis.schema(schema)
    return table.select(*[table[name].cast(target[name]).name(name) for name in schema.names])


def _spark_schema(schema: pa.Schema) -> Any:
    from pyspark.sql.pandas.types import from_arrow_schema

    return from_arrow_schema(schema)


_SESSION: Any = None


def spark_session() -> Any:
    """One local Spark session per process (starting one takes about 15 s)."""
    global _SESSION
    if _SESSION is None:
        os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
        os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
        from pyspark.sql import SparkSession

        _SESSION = (
            SparkSession.builder.master(os.environ.get("OVERDUE_SPARK_MASTER", "local[2]"))
            .appName("overdue-eod")
            .config("spark.ui.enabled", "false")
            .config("spark.sql.warehouse.dir", tempfile.mkdtemp(prefix="overdue-spark-"))
            .config("spark.sql.session.timeZone", "UTC")
            .config("spark.sql.shuffle.partitions", "4")
            .config("spark.sql.execution.arrow.pyspark.enabled", "true")
            .getOrCreate()
        )
        _SESSION.sparkContext.setLogLevel("ERROR")
    return _SESSION


def make_backend(name: str) -> Backend:
    if name == "duckdb":
        return DuckDBBackend()
    if name == "spark":
        return SparkBackend()
    raise ValueError(f"--engine: {name!r} must be duckdb or spark")
