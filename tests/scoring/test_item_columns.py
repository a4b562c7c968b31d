"""The daily scoring's item aggregates, read from the item summary the batch wrote into each
account row, equal the SQL over the item rows (the definition computed from scratch) day after
day: due dates, window edges, a due-date wave, a skipped day. A format 2 snapshot (no summary)
is scored from its item rows, with the same result."""

from __future__ import annotations

import shutil
from datetime import date
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from book_history import daily_after_middle

from overdue.portfolio.engines import make_backend
from overdue.portfolio.eod import snapshot_dates, snapshot_files, snapshot_path
from overdue.portfolio.item_summary import SUMMARY_NAMES
from overdue.scoring import daily_features, daily_items

# 13 daily batches after a month end, one day skipped: every day of a month's first half,
# where the revolving bills of the twin fall due (a wave entering the 7-day window)
DAYS = [*range(1, 11), 12, 13, 14]


@pytest.fixture(scope="module")
def item_book(book_history, tmp_path_factory) -> tuple[Path, Path, list[date]]:
    book, snaps = book_history
    return daily_after_middle(book, snaps, tmp_path_factory.mktemp("item_book"), DAYS)


def _by_id(table: pa.Table) -> pa.Table:
    return table.sort_by("account_id").combine_chunks()


def test_summary_columns_equal_the_item_rows_day_after_day(item_book) -> None:
    _book, snaps, days = item_book
    con = make_backend("duckdb").con.con
    soon = []
    for day in days:
        previous = [d for d in snapshot_dates(snaps) if d < day][-1]
        got, source = daily_features.day_rows_and_source(con, snaps, day, previous, 7)
        reference = daily_features.day_rows_sql(con, snaps, day, previous, 7)
        assert source == "summary" and got.num_rows == reference.num_rows > 100
        assert _by_id(got).equals(_by_id(reference).cast(got.schema)), day
        soon.append(pa.compute.sum(got["due_soon"]).as_py() / got.num_rows)
    assert max(soon) > 2 * min(soon), "a due-date wave among the days"


def test_a_format_2_snapshot_is_scored_from_its_item_rows(item_book, tmp_path) -> None:
    _book, snaps, days = item_book
    copy = tmp_path / "snapshots"
    for day in days[:2]:
        shutil.copytree(snapshot_path(snaps, day), snapshot_path(copy, day))
    for file in snapshot_files(copy, days[1]):
        pq.write_table(pq.read_table(file, partitioning=None).drop_columns(list(SUMMARY_NAMES)),
                       file)  # fmt: skip
    con = make_backend("duckdb").con.con
    old, source = daily_features.day_rows_and_source(con, copy, days[1], days[0], 7)
    assert source == "items"
    new = daily_items.day_rows(snaps, days[1], days[0], 7)
    assert _by_id(old).cast(new.schema).equals(_by_id(new))


def test_features_over_a_format_2_history_are_unchanged(item_book, tmp_path) -> None:
    """Training and Spark read the month ends and the lag snapshot by the columns every
    format has: a history written as format 2 (no summary) gives the same features."""
    from overdue.scoring.features import FeatureSource, build_features, pit_differences

    book, snaps, days = item_book
    copy = tmp_path / "snapshots"
    for day in snapshot_dates(snaps):
        if day <= days[0]:
            shutil.copytree(snapshot_path(snaps, day), snapshot_path(copy, day),
                            ignore=shutil.ignore_patterns("feature_state", "scores"))  # fmt: skip
    earlier = [d for d in snapshot_dates(copy) if d < days[0]]
    for day in earlier:
        for file in snapshot_files(copy, day):
            table = pq.read_table(file, partitioning=None)
            pq.write_table(table.drop_columns(list(SUMMARY_NAMES)), file)
    backend = make_backend("duckdb")
    expected = build_features(FeatureSource(backend, snaps, book), days[0])
    got = build_features(FeatureSource(backend, copy, book), days[0])
    assert len(earlier) > 3 and len(got) == len(expected) > 100
    assert pit_differences(expected, got) == []
