"""The daily run's fresh-account feature rows by row position (``daily_features.raw_rows_at``)
equal the SQL joins on account ids (``daily_features.raw_rows``): same columns, types, values
and order, on consecutive days, for every account, none, and random subsets."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest
from book_history import daily_after_middle
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from overdue.portfolio.engines import make_backend
from overdue.portfolio.eod import snapshot_dates
from overdue.scoring import daily_features

DAILY = 4  # daily batches after a month end in the middle of the book


@pytest.fixture(scope="module")
def position_book(book_history, tmp_path_factory) -> tuple[Path, Path, list[date]]:
    book, snaps = book_history
    root = tmp_path_factory.mktemp("position_book")
    return daily_after_middle(book, snaps, root, list(range(1, DAILY + 1)))


def _both(con, book: Path, snaps: Path, day: date, rows: np.ndarray) -> tuple[pa.Table, pa.Table]:
    days = [d for d in snapshot_dates(snaps) if d <= day]
    previous = days[-2] if len(days) > 1 else None
    table = daily_features.day_rows(con, snaps, day, previous, 7)
    fresh = pa.table({"account_id": table["account_id"].combine_chunks().take(pa.array(rows))})
    sql = daily_features.raw_rows(con, snaps, book, days, day, previous, table, fresh)
    at = daily_features.raw_rows_at(con, snaps, book, days, day, previous, table, rows)
    # the daily scoring's lean form of the day (item columns nulled only for the rows taken)
    lean, _source, _at = daily_features.day_rows_for_scoring(con, snaps, day, previous, 7,
                                                             lean=True)  # fmt: skip
    assert lean.num_rows == table.num_rows
    from_lean = daily_features.raw_rows_at(con, snaps, book, days, day, previous, lean, rows)
    _assert_same(at, from_lean)
    return sql, at


def _assert_same(sql: pa.Table, at: pa.Table) -> None:
    assert at.schema.names == sql.schema.names
    assert at.schema.types == sql.schema.types, [
        (n, a, b) for n, a, b in zip(sql.schema.names, sql.schema.types, at.schema.types,
                                     strict=True) if a != b
    ]  # fmt: skip
    for name in sql.schema.names:
        assert at[name].combine_chunks().equals(sql[name].combine_chunks()), name


def test_every_account_and_none_day_after_day(position_book) -> None:
    book, snaps, days = position_book
    con = make_backend("duckdb").con.con
    for day in days:
        n = daily_features.day_rows(con, snaps, day, None, 7).num_rows
        for rows in (np.arange(n), np.zeros(0, np.int64), np.arange(n)[::-1]):
            sql, at = _both(con, book, snaps, day, rows)
            assert sql.num_rows == len(rows)
            _assert_same(sql, at)


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_random_subsets(position_book, data) -> None:
    book, snaps, days = position_book
    con = make_backend("duckdb").con.con
    day = data.draw(st.sampled_from(days))
    n = daily_features.day_rows(con, snaps, day, None, 7).num_rows
    share = data.draw(st.floats(0.0, 1.0))
    seed = data.draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    rows = rng.permutation(n)[: int(share * n)]
    sql, at = _both(con, book, snaps, day, rows)
    _assert_same(sql, at)


@pytest.mark.parametrize("part", ["payment_state", "_transition_columns"])
def test_a_failing_part_on_either_thread_surfaces(position_book, monkeypatch, part: str) -> None:
    """``raw_rows_at`` builds the payments part on a worker thread (its own DuckDB cursor)
    beside the rest: a failure of either is raised to the caller."""
    book, snaps, days = position_book
    con = make_backend("duckdb").con.con
    day = days[-1]
    previous = days[-2]
    table = daily_features.day_rows(con, snaps, day, previous, 7)
    rows = np.arange(0, table.num_rows, 3)

    def fail(*args, **kwargs):
        raise OSError(f"{part} failed")

    monkeypatch.setattr(daily_features, part, fail)
    with pytest.raises(OSError, match=f"{part} failed"):
        daily_features.raw_rows_at(con, snaps, book, [d for d in snapshot_dates(snaps) if d <= day],
                                   day, previous, table, rows)  # fmt: skip
