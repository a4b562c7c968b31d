"""The compiled tree loop gives LightGBM's own raw scores (NaN, zeros, codes, categories)."""

from __future__ import annotations

import lightgbm as lgb
import numpy as np
import pandas as pd
import pytest
from synth import credit_table

from overdue.scoring import features_generic as fg
from overdue.scoring import gbm, gbm_compiled


def _frame(n: int, seed: int) -> pd.DataFrame:
    table = credit_table(n, seed)
    schema = fg.build_schema(table.drop(columns=["status", "account"]))
    x = fg.gbm_frame(table, schema, engineered=True)
    rng = np.random.default_rng(seed)
    x["zeros"] = np.where(rng.random(n) < 0.3, 0.0, rng.normal(size=n))  # zero as "missing"
    x.loc[rng.random(n) < 0.05, "zeros"] = np.nan
    return x.assign(y=(table["status"] == "default").astype(int).to_numpy())


@pytest.mark.parametrize("zero_as_missing", [False, True])
def test_compiled_equals_booster(zero_as_missing: bool) -> None:
    train = _frame(3000, 0)
    y = train.pop("y").to_numpy()
    params = gbm.lgb_params(gbm.GbmParams(num_leaves=31), len(y), 1, 1, None)
    params["zero_as_missing"] = zero_as_missing
    params["max_cat_to_onehot"] = 2  # force many-vs-many categorical splits too
    booster = lgb.train(params, lgb.Dataset(gbm.positional(train), y), num_boost_round=60)
    test = _frame(2000, 1).drop(columns=["y"])
    test.loc[test.index[:50], "region"] = np.nan  # missing category
    test.loc[test.index[50:90], "balance"] = np.nan  # never missing in training: counts as 0
    expected = booster.predict(gbm.positional(test), raw_score=True)
    forest = gbm_compiled.from_booster(booster)
    assert forest.is_categorical.any(), "the test must exercise categorical splits"
    assert (forest.missing_type[forest.feature >= 0] == gbm_compiled.MISSING_NONE).any()
    got = gbm_compiled.raw_scores(forest, gbm_compiled.as_matrix(test))
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-10)


def test_a_tree_without_splits() -> None:
    x = pd.DataFrame({"a": np.zeros(100)})
    y = np.r_[np.ones(20), np.zeros(80)]
    booster = lgb.train({"objective": "binary", "verbosity": -1}, lgb.Dataset(x, y), 3)
    got = gbm_compiled.raw_scores(gbm_compiled.from_booster(booster), x.to_numpy(float))
    np.testing.assert_allclose(got, booster.predict(x, raw_score=True), atol=1e-12)


def test_the_matrix_is_the_frame() -> None:
    table = credit_table(500, 3)
    table.loc[:20, "balance"] = np.inf
    schema = fg.build_schema(table.drop(columns=["status", "account"]))
    x = fg.gbm_frame(table, schema, engineered=True)
    assert list(x.columns) == fg.gbm_columns(schema, engineered=True)
    np.testing.assert_array_equal(fg.gbm_matrix(table, schema, True), gbm_compiled.as_matrix(x))


def test_path_contributions_sum_to_the_raw_score_and_track_shap() -> None:
    rng = np.random.default_rng(3)
    x = rng.normal(size=(3000, 6))
    x[rng.random(x.shape) < 0.1] = np.nan
    signal = np.nan_to_num(x[:, 0]) + 0.5 * np.nan_to_num(x[:, 1])
    y = (signal + rng.normal(size=3000) > 0).astype(int)
    booster = lgb.train(
        {"objective": "binary", "verbose": -1, "num_leaves": 15, "seed": 1, "num_threads": 1},
        lgb.Dataset(x, y), num_boost_round=60,
    )  # fmt: skip
    forest = gbm_compiled.from_booster(booster)
    raw = booster.predict(x, raw_score=True)
    contrib = gbm_compiled.path_contributions(forest, x)
    assert contrib.shape == x.shape
    np.testing.assert_allclose(contrib.sum(axis=1) + gbm_compiled.bias(forest), raw, atol=1e-9)
    shap = booster.predict(x, pred_contrib=True)[:, :-1]
    assert (contrib.argmax(axis=1) == shap.argmax(axis=1)).mean() > 0.7
    assert np.all(contrib[:, 2:].std(axis=0) < contrib[:, :2].std(axis=0).min())


def _forest(rows: int, seed: int, *, leaves: int, rounds: int) -> gbm_compiled.FlatForest:
    """The compiled forest of a booster trained on ``_frame(rows, seed)``."""
    train = _frame(rows, seed)
    y = train.pop("y").to_numpy()
    params = gbm.lgb_params(gbm.GbmParams(num_leaves=leaves), len(y), 1, 1, None)
    booster = lgb.train(params, lgb.Dataset(gbm.positional(train), y), num_boost_round=rounds)
    return gbm_compiled.from_booster(booster)


def test_one_walk_gives_both_contributions_and_the_same_raw_scores() -> None:
    forest = _forest(2000, 4, leaves=15, rounds=40)
    x = gbm_compiled.as_matrix(_frame(1500, 5).drop(columns=["y"]))
    contrib, raw = gbm_compiled.path_contributions_and_raw(forest, x)
    assert np.array_equal(raw, gbm_compiled.raw_scores(forest, x))  # bit for bit
    assert np.array_equal(contrib, gbm_compiled.path_contributions(forest, x))


@pytest.mark.parametrize("k", [1, 3, 10])
def test_reasons_in_the_walk_are_the_top_k_of_the_contributions(k: int) -> None:
    """``path_reasons_and_raw`` (each row's contributions reduced in the walk) picks the same
    columns as ``reasons._top_k`` over the whole contribution matrix, and the same raw scores."""
    from overdue.scoring import reasons

    forest = _forest(2000, 6, leaves=15, rounds=30)
    x = gbm_compiled.as_matrix(_frame(1300, 7).drop(columns=["y"]))  # 1300: a partial block
    contrib, raw = gbm_compiled.path_contributions_and_raw(forest, x)
    order, got_raw, odd = gbm_compiled.path_reasons_and_raw(forest, x, k)
    assert not odd.any()
    assert np.array_equal(got_raw, raw)  # bit for bit
    assert np.array_equal(order, reasons._top_k(contrib, k)[0])
    assert (order == -1).any() and (order >= 0).any()  # rows with fewer than k adverse factors
    empty = gbm_compiled.path_reasons_and_raw(forest, x[:0], k)
    assert empty[0].shape == (0, k) and len(empty[1]) == 0


def test_reasons_flag_rows_with_a_non_finite_contribution() -> None:
    """A forest with an infinite leaf: the rows that reach it are flagged for the caller."""
    forest = _forest(800, 8, leaves=7, rounds=5)
    huge = forest.value.copy()
    leaves = np.flatnonzero(forest.feature < 0)
    huge[leaves[0]] = np.inf  # the first tree's first leaf
    forest = gbm_compiled.FlatForest(**{**forest.__dict__, "value": huge})
    x = gbm_compiled.as_matrix(_frame(300, 9).drop(columns=["y"]))
    order, _raw, odd = gbm_compiled.path_reasons_and_raw(forest, x, 3)
    contrib, _ = gbm_compiled.path_contributions_and_raw(forest, x)
    assert np.array_equal(odd, ~np.isfinite(contrib).all(axis=1))
    assert odd.any() and not odd.all()
    assert (order[odd] == -1).all()
