"""Book features are point-in-time correct; targets agree with the later snapshots."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.dataset as ds
import pytest
from book_history import truncate

from overdue.portfolio.engines import DuckDBBackend
from overdue.portfolio.eod import read_snapshot, snapshot_dates
from overdue.scoring.features import (
    FEATURES,
    META,
    FeatureSource,
    build_features,
    days_to_spring_festival,
    month_ends,
    pit_differences,
)
from overdue.scoring.targets import LABEL, TargetConfig, labels


def _middle(snaps: Path) -> date:
    days = snapshot_dates(snaps)
    return days[len(days) // 2]


def _features(book: Path, snaps: Path, as_of: date) -> pd.DataFrame:
    return build_features(FeatureSource(DuckDBBackend(), snaps, book), as_of)


def _leaky(book: Path, snaps: Path, as_of: date) -> pd.DataFrame:
    """The honest features plus one that reads every payment file, whatever its booking date."""
    out = _features(book, snaps, as_of)
    paid = ds.dataset(book / "payments", partitioning="hive").to_table().to_pandas()
    total = paid.groupby("account_id")["amount_fen"].sum()
    out["paid_ever_fen"] = out["account_id"].map(total).fillna(0).astype("float64")
    return out


def test_features_at_t_ignore_everything_after_t(book_history, tmp_path: Path) -> None:
    book, snaps = book_history
    as_of = _middle(snaps)
    early_book, early_snaps = truncate(book, snaps, as_of, tmp_path)
    before = _features(early_book, early_snaps, as_of)  # the world as it stood at T
    after = _features(book, snaps, as_of)  # T's features once later data exists
    assert len(before) > 100
    assert list(before.columns) == [*META, *FEATURES]
    assert pit_differences(before, after) == []


def test_a_leaky_feature_is_caught(book_history, tmp_path: Path) -> None:
    book, snaps = book_history
    as_of = _middle(snaps)
    early_book, early_snaps = truncate(book, snaps, as_of, tmp_path)
    before = _leaky(early_book, early_snaps, as_of)
    after = _leaky(book, snaps, as_of)
    assert pit_differences(before, after) == ["paid_ever_fen"]


def test_pit_differences_sees_a_changed_missing_value() -> None:
    a = pd.DataFrame({"account_id": ["A", "B"], "x": [1.0, np.nan]})
    b = pd.DataFrame({"account_id": ["A", "B"], "x": [1.0, 2.0]})
    assert pit_differences(a, a.copy()) == []
    assert pit_differences(a, b) == ["x"]
    assert pit_differences(a, b.iloc[::-1].reset_index(drop=True)) == ["account_id"]


def test_features_are_sane(book_history) -> None:
    book, snaps = book_history
    as_of = snapshot_dates(snaps)[-1]
    f = _features(book, snaps, as_of)
    assert f["account_id"].is_monotonic_increasing and f["account_id"].is_unique
    assert (f["worst_dpd_3m"] <= f["worst_dpd_6m"]).all()
    assert (f["worst_dpd_6m"] <= f["worst_dpd_12m"]).all()
    assert (f["worst_dpd_12m"] >= f["dpd"]).all()
    assert (f["days_late_3m"] <= f["days_late_12m"]).all()
    assert (f["n_items_late"] <= f["n_items_past"]).all()
    assert ((f["days_to_next_due"] > 0) | f["days_to_next_due"].isna()).all()
    assert (f.loc[f["dpd"] > 0, "bucket_cn"] != "M0").all()
    assert (f["days_since_last_payment"].dropna() >= 0).all()


def test_calendar_helpers() -> None:
    assert days_to_spring_festival(date(2024, 2, 10)) == 0
    assert (
        days_to_spring_festival(date(2024, 2, 11)) == (date(2025, 1, 29) - date(2024, 2, 11)).days
    )
    days = [date(2024, 1, 5), date(2024, 1, 31), date(2024, 2, 3), date(2024, 2, 9)]
    assert month_ends(days, date(2024, 2, 9)) == [date(2024, 1, 31), date(2024, 2, 9)]
    assert month_ends(days, date(2024, 2, 4)) == [
        date(2024, 1, 31),
        date(2024, 2, 3),
        date(2024, 2, 4),
    ]


@pytest.mark.parametrize("name", ["early_warning", "early_warning_30", "collection"])
def test_targets_population_and_outcome(book_history, name: str) -> None:
    book, snaps = book_history
    days = snapshot_dates(snaps)
    as_of = days[1]
    feats = _features(book, snaps, as_of)
    config = TargetConfig(name)
    lab = labels(feats, as_of, snaps, config)
    assert len(lab) > 0 and set(lab[LABEL]) <= {0, 1}
    if name == "collection":
        assert (lab["bucket_cn"] == "M1").all()
    else:
        assert (lab["status"] == "current").all()
        assert (lab["days_to_next_due"] <= config.horizon_days).all()
    # the last date cannot see its outcomes: no rows, never rows labelled good by default
    assert len(labels(_features(book, snaps, days[-1]), days[-1], snaps, config)) == 0


def test_early_warning_label_agrees_with_the_items_late_days(book_history) -> None:
    """Cross-check against another record: the next item's late days in the last snapshot."""
    book, snaps = book_history
    days = snapshot_dates(snaps)
    as_of = days[2]
    lab = labels(_features(book, snaps, as_of), as_of, snaps, TargetConfig("early_warning"))
    last = read_snapshot(snaps, days[-1]).select(["account_id", "items"])
    items = dict(zip(last["account_id"].to_pylist(), last["items"].to_pylist(), strict=True))
    late = []
    for account_id, due in zip(lab["account_id"], lab["next_due_date"], strict=True):
        wanted = pd.Timestamp(due).date()
        late.append(
            any(i["penalty_days"] > 0 for i in items[account_id] if i["due_date"] == wanted)
        )
    agree = float(np.mean(np.array(late) == lab[LABEL].astype(bool).to_numpy()))
    assert lab[LABEL].sum() >= 5
    assert agree >= 0.9, agree
