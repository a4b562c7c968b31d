"""The two execution backends of the end-of-day batch: DuckDB (embedded) and Spark (local/cluster).

Each backend reads the book's files into Ibis tables, runs the shared input expressions of
``eod_inputs`` and applies the shared kernel per Arrow batch — in-process for DuckDB, inside
``mapInArrow`` on Spark's executors — and writes the snapshot rows as Parquet into a folder.
"""

from __future__ import annotations

import os
import sys
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, Protocol

import ibis
import ibis.expr.types as ir
import pyarrow as pa
import pyarrow.parquet as pq

from overdue.portfolio.kernel import SNAPSHOT_SCHEMA, KernelConfig, run_batches

BATCH_ROWS = 20_000  # accounts per Arrow batch handed to the kernel


class Backend(Protocol):
    name: str

    def read_table(
        self, files: Sequence[Path], schema: pa.Schema, base: Path | None
    ) -> ir.Table: ...

    def count(self, expr: ir.Table) -> int: ...

    def apply_kernel(self, expr: ir.Table, config: KernelConfig, out_dir: Path) -> int: ...


class DuckDBBackend:
    name = "duckdb"

    def __init__(self, threads: int | None = None) -> None:
        self.con = ibis.duckdb.connect(threads=threads) if threads else ibis.duckdb.connect()
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

    def apply_kernel(self, expr: ir.Table, config: KernelConfig, out_dir: Path) -> int:
        out_dir.mkdir(parents=True, exist_ok=True)
        rows = 0
        writer = pq.ParquetWriter(out_dir / "part-0.parquet", SNAPSHOT_SCHEMA)
        try:
            # DuckDB 2 renamed fetch_record_batch (which Ibis 12 still calls): use the SQL directly.
            batches = self.con.con.sql(self.con.compile(expr)).to_arrow_reader(BATCH_ROWS)
            for out in run_batches(batches, config):
                writer.write_batch(out)
                rows += out.num_rows
        finally:
            writer.close()
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

    def apply_kernel(self, expr: ir.Table, config: KernelConfig, out_dir: Path) -> int:
        df = self.session.sql(self.con.compile(expr))

        def kernel(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
            return run_batches(batches, config)

        out = df.mapInArrow(kernel, _spark_schema(SNAPSHOT_SCHEMA))
        out.write.mode("overwrite").parquet(str(out_dir))
        return int(self.session.read.parquet(str(out_dir)).count())


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
