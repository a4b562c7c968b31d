"""The daily run's fast paths give what the reference paths give: the feature parts joined in
Arrow = the one-query ``build_features``; the codes-only reasons = ``model.score``'s codes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from overdue.portfolio.engines import make_backend
from overdue.portfolio.eod import snapshot_dates
from overdue.scoring.book import BookTrainOptions, train_book_model
from overdue.scoring.features import (
    FEATURES,
    FeatureSource,
    build_features,
    finish,
    pit_differences,
    raw_features_in_parts,
)
from overdue.scoring.score_eod import N_REASONS, _probability_and_codes
from overdue.scoring.targets import TargetConfig


def _run(backend):
    con = backend.con

    def run(expr) -> pa.Table:
        return con.con.sql(con.compile(expr)).to_arrow_table().cast(expr.schema().to_pyarrow())

    return run


def test_parts_joined_in_arrow_equal_the_one_query(book_history) -> None:
    book, snaps = book_history
    backend = make_backend("duckdb")
    source = FeatureSource(backend, snaps, book)
    for day in snapshot_dates(snaps)[-2:]:
        reference = build_features(source, day)
        parts = finish(raw_features_in_parts(_run(backend), source, day), day)
        assert len(reference) > 100
        assert pit_differences(reference, parts) == []
        # and for a subset of the accounts (the daily run's fresh ones)
        ids = reference["account_id"].iloc[::7].tolist()
        only = backend.con.create_table(
            f"only_{day:%Y%m%d}", pa.table({"account_id": pa.array(ids, pa.string())}), temp=True
        )
        subset = finish(raw_features_in_parts(_run(backend), source, day, only), day)
        expected = reference[reference["account_id"].isin(ids)].reset_index(drop=True)
        assert pit_differences(expected, subset) == []


@pytest.mark.parametrize("kind", ["gbm", "scorecard"])
def test_codes_only_reasons_match_model_score(book_history, tmp_path: Path, kind: str) -> None:
    """The daily run's reasons (positions into the code names) are ``model.score``'s codes."""
    book, snaps = book_history
    options = BookTrainOptions(TargetConfig("early_warning"), seed=3, kind=kind, effort="quick")
    train_book_model(book, snaps, tmp_path / "ew", options, "2026-01-01T00:00:00+00:00")
    from overdue.scoring import registry

    model = registry.load_model(tmp_path / "ew")
    source = FeatureSource(make_backend("duckdb"), snaps, book)
    frame = build_features(source, snapshot_dates(snaps)[-1])[list(FEATURES)]
    rows = np.arange(len(frame))[::-1][::2]  # a subset of the rows, in another order
    probability, order, names = _probability_and_codes(model, frame, rows)
    # the daily run's model, loaded without its booster, gives the same
    lean = registry.load_model(tmp_path / "ew", booster=False)
    again = _probability_and_codes(lean, frame, rows)
    assert np.array_equal(again[0], probability) and np.array_equal(again[1], order)
    assert again[2] == names
    codes = [np.array([*names, ""], dtype=object)[order[:, k]] for k in range(N_REASONS)]
    scored = model.score(frame.iloc[rows].reset_index(drop=True), n_reasons=N_REASONS,
                         reason_method="path")  # fmt: skip
    assert np.array_equal(probability, scored["probability"].to_numpy(dtype="float64"))
    for k in range(N_REASONS):
        want = scored[f"reason_{k + 1}"].astype(object)
        want = want.where(want.notna(), "").astype(str).to_numpy()
        assert list(codes[k]) == list(want)
    assert (pd.Series(codes[0]) != "").mean() > 0.5
