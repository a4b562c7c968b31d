"""Spark parity: the batch on PySpark (local mode) gives the same snapshots as on DuckDB."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from book_factory import START, random_book, write_book
from reference import contract_row, reference_states

from overdue.portfolio.eod import read_snapshot, run_eod, snapshot_files
from overdue.portfolio.kernel import ACCOUNT_STATE_SCHEMA, CONTRACT_FIELDS

pytestmark = pytest.mark.spark


@pytest.fixture(scope="module")
def spark_backend():
    from overdue.portfolio.engines import SparkBackend

    return SparkBackend()


def test_spark_and_duckdb_give_identical_snapshots(tmp_path: Path, spark_backend) -> None:
    rows = random_book(23, accounts=40)
    data_dir = write_book(rows, tmp_path / "book")
    days = [START + timedelta(days=120 + k) for k in (0, 1, 2, 4)]  # rebuild, 2 incremental, a skip
    for day in days:
        duck = run_eod(data_dir, day, tmp_path / "duckdb")
        spark = run_eod(data_dir, day, tmp_path / "spark", backend=spark_backend)
        assert (duck.mode, duck.accounts, duck.resumed, duck.replayed, duck.transitions) == (
            spark.mode,
            spark.accounts,
            spark.resumed,
            spark.replayed,
            spark.transitions,
        )
        a, b = read_snapshot(tmp_path / "duckdb", day), read_snapshot(tmp_path / "spark", day)
        assert a.to_pylist() == b.to_pylist(), f"engines differ at {day}"
        # the account files themselves (the item summary included), whatever the file layout
        duck_rows, spark_rows_now = (
            pq.read_table(snapshot_files(tmp_path / engine, day), schema=ACCOUNT_STATE_SCHEMA,
                          partitioning=None).sort_by("account_id")
            for engine in ("duckdb", "spark")
        )  # fmt: skip
        assert duck_rows.to_pylist() == spark_rows_now.to_pylist(), f"account files at {day}"
    reference = reference_states(rows, days[-1])
    spark_rows = {
        r["account_id"]: r for r in read_snapshot(tmp_path / "spark", days[-1]).to_pylist()
    }
    fields = [name for name, _ in CONTRACT_FIELDS]
    for account_id, state in reference.items():
        assert {k: spark_rows[account_id][k] for k in fields} == contract_row(state), account_id
