"""Book models: reproducible training with time-based validation, scoring inside the daily run."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from overdue.cli import app
from overdue.portfolio.eod import snapshot_dates
from overdue.scoring.book import BookTrainOptions, capture, train_book_model
from overdue.scoring.features import FEATURES
from overdue.scoring.score_eod import SCORE_SCHEMA, read_scores, score_snapshot
from overdue.scoring.targets import TargetConfig

CREATED = "2026-01-01T00:00:00+00:00"


def _train(book: Path, snaps: Path, out: Path, name: str, seed: int = 7) -> dict:
    options = BookTrainOptions(TargetConfig(name), seed=seed, kind="gbm", effort="quick")
    return train_book_model(book, snaps, out, options, CREATED)[1]


@pytest.fixture(scope="module")
def models(book_history, tmp_path_factory) -> Path:
    book, snaps = book_history
    root = tmp_path_factory.mktemp("book_models")
    _train(book, snaps, root / "early_warning", "early_warning")
    _train(book, snaps, root / "collection", "collection")
    return root


def test_training_is_time_based_and_reproducible(book_history, models: Path, tmp_path) -> None:
    book, snaps = book_history
    info = json.loads((models / "early_warning" / "v1" / "book.json").read_text())
    assert max(info["train_dates"]) < min(info["valid_dates"])
    assert info["validation"]["champion"]["auc"] > 0.6
    assert any(m.startswith("days_late_3m=increasing") for m in info["monotone"])
    again = _train(book, snaps, tmp_path / "again", "early_warning")
    assert again["validation"] == info["validation"]  # same seed → identical predictions
    a = (models / "early_warning" / "v1" / "gbm.txt").read_text()
    b = (tmp_path / "again" / "v1" / "gbm.txt").read_text()
    assert a == b


def test_capture_counts_bads_in_the_riskiest_share() -> None:
    y = np.array([1, 0, 1, 0, 0, 0, 0, 0, 0, 1])
    risk = np.array([0.9, 0.8, 0.7, 0.1, 0.2, 0.3, 0.15, 0.05, 0.01, 0.6])
    assert capture(y, risk, 0.1) == pytest.approx(1 / 3)
    assert capture(y, risk, 0.2) == pytest.approx(1 / 3)
    assert capture(y, risk, 0.4) == pytest.approx(1.0)


def test_daily_scores_fresh_and_carried(book_history, models: Path) -> None:
    book, snaps = book_history
    days = snapshot_dates(snaps)
    first = score_snapshot(snaps, days[-2], models, book_dir=book)
    assert first.carried == {"early_warning": 0, "collection": 0}
    assert first.fresh["early_warning"] > 0 and first.fresh["collection"] > 0
    second = score_snapshot(snaps, days[-1], models, book_dir=book)
    scores = read_scores(snaps, days[-1])
    assert list(scores.columns) == SCORE_SCHEMA.names
    assert set(scores["model"]) == {"early_warning", "collection"}
    assert set(scores["model_version"]) == {"v1"}
    assert scores["score"].between(0, 1).all()
    assert (scores["reason_1"] != "").mean() > 0.5
    assert set(scores["reason_1"]) - {""} <= set(FEATURES)
    assert not scores.duplicated(["model", "account_id"]).any()
    old = scores[scores["score_as_of"] == days[-2]]
    assert len(old) == sum(second.carried.values())
    # a full run gives the same scores for the fresh accounts and for the carried ones
    full = score_snapshot(snaps, days[-1], models, book_dir=book, full=True)
    assert sum(full.carried.values()) == 0
    every = read_scores(snaps, days[-1])
    fresh = scores[scores["score_as_of"] == days[-1]].merge(
        every, on=["model", "account_id"], suffixes=("", "_full")
    )
    assert len(fresh) == sum(second.fresh.values())
    assert np.array_equal(fresh["score"].to_numpy(), fresh["score_full"].to_numpy())


def test_cli_book_train_and_eod_models(book_history, models: Path, tmp_path: Path) -> None:
    book, snaps = book_history
    out = tmp_path / "cli_model"
    result = CliRunner().invoke(app, [
        "models", "book-train", str(book), "--snapshots", str(snaps), "--target", "collection",
        "--out", str(out), "--effort", "quick", "--kind", "scorecard", "--json",
    ])  # fmt: skip
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    assert summary["model_dir"].endswith("v1") and summary["model"] == "collection"
    assert summary["validation"]["champion"]["n"] > 0
    bad = CliRunner().invoke(app, [
        "models", "book-train", str(book), "--snapshots", str(snaps), "--target", "nope",
        "--out", str(out),
    ])  # fmt: skip
    assert bad.exit_code == 2 and "early_warning" in bad.output
    day = snapshot_dates(snaps)[-1]
    result = CliRunner().invoke(app, [
        "eod", str(book), "--as-of", str(day), "--out", str(snaps), "--models", str(models),
        "--json",
    ])  # fmt: skip
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["scores"]["fresh"]["early_warning"] >= 0
    assert len(read_scores(snaps, day)) > 0
    for spread, code in (("0", 0), ("8", 2)):  # the plain window rule; more than 7 days refused
        result = CliRunner().invoke(app, [
            "eod", str(book), "--as-of", str(day), "--out", str(snaps), "--models", str(models),
            "--spread-days", spread, "--json",
        ])  # fmt: skip
        assert result.exit_code == code, result.output


@pytest.mark.spark
def test_spark_gives_the_same_features_and_scores(book_history, models: Path, tmp_path) -> None:
    from book_history import truncate

    from overdue.portfolio.engines import DuckDBBackend, SparkBackend
    from overdue.scoring.features import FeatureSource, build_features, feature_expr, finish

    book, snaps = book_history
    day = snapshot_dates(snaps)[-2]
    my_book, my_snaps = truncate(book, snaps, day, tmp_path / "copy")
    spark = SparkBackend()
    duck = build_features(FeatureSource(DuckDBBackend(), my_snaps, my_book), day)
    expr = feature_expr(FeatureSource(spark, my_snaps, my_book), day)
    raw = spark.session.sql(spark.con.compile(expr)).toPandas()
    on_spark = finish(raw.sort_values("account_id").reset_index(drop=True), day)
    pd.testing.assert_frame_equal(duck, on_spark, check_dtype=False)
    score_snapshot(my_snaps, day, models, book_dir=my_book, full=True)
    a = read_scores(my_snaps, day)
    score_snapshot(my_snaps, day, models, "spark", book_dir=my_book, backend=spark, full=True)
    b = read_scores(my_snaps, day)
    pd.testing.assert_frame_equal(a, b)


def test_demo_models_returns_figures_and_paths(book_history, tmp_path: Path) -> None:
    from overdue.scoring.demo_models import demo_models

    book, snaps = book_history
    my_book, my_snaps = _copy(book, snaps, tmp_path)
    out = demo_models(my_book, my_snaps, tmp_path / "models", seed=3, step_days=28)
    assert set(out["models"]) | set(out["skipped"]) == {"early_warning", "collection"}
    assert out["models"], out["skipped"]
    for figures in out["models"].values():
        assert 0 <= figures["auc"] <= 1 and 0 <= figures["capture_10"] <= figures["capture_20"]
        assert Path(figures["gains_svg"]).read_text().startswith("<svg")
    assert Path(out["scores"]).is_dir()


def _copy(book: Path, snaps: Path, tmp_path: Path) -> tuple[Path, Path]:
    from book_history import truncate

    return truncate(book, snaps, snapshot_dates(snaps)[-1], tmp_path / "copy")


def test_positions_kept_with_the_scores_align_like_a_hash(book_history, models: Path) -> None:
    """The previous scores' positions among today's accounts, from the positions kept in the
    scores' Arrow copy and today's alignment to the previous rows, equal ``index_in``'s; wrong
    kept positions are caught and the hash is used instead."""
    import pyarrow.compute as pc

    from overdue.portfolio.engines import make_backend
    from overdue.scoring import daily_features
    from overdue.scoring.score_eod import _back, _previous_scores

    book, snaps = book_history
    days = snapshot_dates(snaps)
    score_snapshot(snaps, days[-2], models, book_dir=book, prune=False)
    con = make_backend("duckdb").con.con
    day, _source, at = daily_features.day_rows_for_scoring(con, snaps, days[-1], days[-2], 7)
    previous, rows = _previous_scores(snaps, days[-2])
    assert rows is not None and at is not None and len(rows) > 100
    ids = day["account_id"]
    expected = pc.index_in(previous["account_id"], value_set=ids).to_pylist()
    assert _back(previous, rows, at, ids).to_pylist() == expected
    shuffled = np.random.default_rng(3).permutation(rows)
    assert _back(previous, shuffled, at, ids).to_pylist() == expected


def test_scores_from_the_handed_rows_equal_those_from_the_files(
    book_history, models: Path, tmp_path: Path
) -> None:
    """``overdue eod --models`` scores from the account rows its batch kept in memory
    (``AccountHandoff``); the scores are those of a scoring that reads the files back."""
    from datetime import timedelta

    from book_history import truncate

    from overdue.portfolio.account_handoff import AccountHandoff
    from overdue.portfolio.eod import run_eod, snapshot_files
    from overdue.scoring.daily_items import INPUT_SCHEMA

    book, snaps = book_history
    cut = snapshot_dates(snaps)[-2]
    scores = []
    for name in ("handed", "read"):
        my_book, my_snaps = truncate(book, snaps, cut, tmp_path / name)
        handoff = AccountHandoff() if name == "handed" else None
        if handoff is not None:  # the columns the scoring reads, as overdue eod --models keeps
            handoff.narrow(INPUT_SCHEMA.names)
        day = cut + timedelta(days=1)
        run_eod(my_book, day, my_snaps, handoff=handoff)
        if handoff is not None:  # it holds this snapshot's rows: the scoring takes them
            assert handoff.table(snapshot_files(my_snaps, day), INPUT_SCHEMA) is not None
        score_snapshot(my_snaps, day, models, book_dir=my_book, handoff=handoff)
        scores.append(read_scores(my_snaps, day))
    assert len(scores[0]) > 50
    pd.testing.assert_frame_equal(scores[0], scores[1])


def test_run_day_scores_from_the_handed_rows(book_history, models: Path, tmp_path: Path) -> None:
    """The strategy's daily run with models scores the snapshot its batch just wrote (from the
    rows handed over) and gives the scores a plain scoring of the same snapshot gives."""
    from datetime import timedelta

    from book_history import truncate

    from overdue.strategy.run_day import run_day

    book, snaps = book_history
    cut = snapshot_dates(snaps)[-2]
    day = cut + timedelta(days=1)
    my_book, my_snaps = truncate(book, snaps, cut, tmp_path / "run_day")
    report = run_day(my_book, day, snapshots=my_snaps, strategy="default", profile="cn",
                     models=models, render=False)  # fmt: skip
    scoring = next(step for step in report.steps if step.name == "scoring")
    handed = read_scores(my_snaps, day)
    assert scoring.rows == len(handed) > 50
    score_snapshot(my_snaps, day, models, book_dir=my_book)  # again, from the files
    pd.testing.assert_frame_equal(handed, read_scores(my_snaps, day))
