"""Promise-to-pay features: the rules (checked against a pandas reimplementation), point in time
(later promises and payments change nothing), missing without a promises table, the same on
the daily run's path."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from book_history import truncate
from promise_book import add_promises, reference_features

from overdue.portfolio.engines import DuckDBBackend, make_backend
from overdue.portfolio.eod import snapshot_dates, snapshot_path
from overdue.scoring import daily_features, promises
from overdue.scoring.features import FeatureSource, build_features, finish, pit_differences
from overdue.scoring.score_eod import _promise_rows

NAMES = list(promises.FEATURE_DIRECTIONS)


@pytest.fixture(scope="module")
def promised(book_history, tmp_path_factory) -> tuple[Path, Path]:
    book, snaps = book_history
    return add_promises(book, tmp_path_factory.mktemp("promised") / "book"), snaps


def _features(book: Path, snaps: Path, day) -> pd.DataFrame:
    return build_features(FeatureSource(DuckDBBackend(), snaps, book), day)


def test_promise_features_follow_the_rules(promised) -> None:
    book, snaps = promised
    day = snapshot_dates(snaps)[-2]
    got = _features(book, snaps, day).set_index("account_id")[NAMES]
    expected = reference_features(book, day)
    assert len(expected) > 50
    assert expected["broken_promises_6m"].sum() > 0 and (expected["kept_share_12m"] > 0).any()
    pd.testing.assert_frame_equal(got.loc[expected.index], expected[NAMES], check_names=False)
    others = got.drop(index=expected.index)
    assert (others["promises_6m"] == 0).all() and (others["broken_promises_6m"] == 0).all()
    assert others["days_since_promise"].isna().all() and others["kept_share_12m"].isna().all()


def test_promise_features_are_point_in_time(promised, tmp_path: Path) -> None:
    book, snaps = promised
    days = snapshot_dates(snaps)
    as_of = days[len(days) // 2]
    early_book, early_snaps = truncate(book, snaps, as_of, tmp_path)
    assert (early_book / "promises").is_dir()
    before = _features(early_book, early_snaps, as_of)
    after = _features(book, snaps, as_of)
    assert pit_differences(before, after) == []
    assert before["promises_6m"].sum() > 0


def test_without_a_promises_table_the_features_are_missing(book_history) -> None:
    book, snaps = book_history
    got = _features(book, snaps, snapshot_dates(snaps)[-1])
    assert got[NAMES].isna().all().all()


def test_daily_path_gives_the_same_promise_features(promised, tmp_path: Path) -> None:
    book, snaps = promised
    day = snapshot_dates(snaps)[-1]
    my_snaps = tmp_path / "snapshots"
    shutil.copytree(snaps, my_snaps, ignore=shutil.ignore_patterns("scores", "feature_state"))
    backend = make_backend("duckdb")
    con = backend.con.con
    source = FeatureSource(backend, my_snaps, book)
    previous = snapshot_dates(my_snaps)[-2]
    rows = daily_features.day_rows(con, my_snaps, day, previous, 7)
    fresh = pa.table({"account_id": rows.column("account_id")})
    raw = daily_features.raw_rows(
        con, my_snaps, book, snapshot_dates(my_snaps), day, previous, rows, fresh,
        _promise_rows(backend, source, day, fresh),
    )  # fmt: skip
    got = finish(raw.to_pandas(), day)
    reference = build_features(source, day)
    assert pit_differences(reference, got) == []
    assert np.isfinite(got["days_since_promise"]).sum() > 50
    assert snapshot_path(my_snaps, day).is_dir()
