"""LightGBM for a binary target: regularised defaults, a small seeded search, early stopping.

Every fit is deterministic for a given seed (``deterministic=True``, row-wise histograms, a fixed
thread count). Features are passed to LightGBM under positional names (``f0``, ``f1`` …) so any
column name works; the mapping lives in the model card.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, replace
from typing import Any

import numpy as np
import pandas as pd

from overdue.scoring import evaluation

MAX_ROUNDS = 3000
EARLY_STOPPING_ROUNDS = 100
INNER_VALID_SHARE = 0.15
CONTRIB_CHUNK_ROWS = 50_000
MAX_TRIALS = 64


@dataclass(frozen=True)
class GbmParams:
    learning_rate: float = 0.05
    num_leaves: int = 15
    min_data_share: float = 0.005  # min rows per leaf as a share of the training rows
    feature_fraction: float = 0.7
    bagging_fraction: float = 0.8
    lambda_l2: float = 5.0
    max_bin: int = 255

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


SEARCH_SPACE: dict[str, tuple[Any, ...]] = {
    "num_leaves": (4, 7, 15, 31, 63),
    "min_data_share": (0.001, 0.003, 0.01, 0.03),
    "feature_fraction": (0.4, 0.6, 0.8, 1.0),
    "bagging_fraction": (0.7, 0.85, 1.0),
    "lambda_l2": (0.0, 1.0, 5.0, 20.0),
}


def search_trials(n_trials: int, seed: int, learning_rate: float = 0.05) -> list[GbmParams]:
    """The defaults first, then distinct random draws from SEARCH_SPACE (seeded)."""
    assert 1 <= n_trials <= MAX_TRIALS
    rng = np.random.default_rng(seed)
    trials = [GbmParams(learning_rate=learning_rate)]
    for _ in range(MAX_TRIALS * 10):
        if len(trials) >= n_trials:
            break
        draw = {k: values[int(rng.integers(len(values)))] for k, values in SEARCH_SPACE.items()}
        candidate = replace(GbmParams(learning_rate=learning_rate), **draw)
        if candidate not in trials:
            trials.append(candidate)
    return trials


def lgb_params(
    params: GbmParams, n_rows: int, seed: int, threads: int, monotone: list[int] | None
) -> dict[str, Any]:
    out: dict[str, Any] = {
        "objective": "binary",
        "learning_rate": params.learning_rate,
        "num_leaves": params.num_leaves,
        "min_data_in_leaf": max(10, math.ceil(params.min_data_share * n_rows)),
        "feature_fraction": params.feature_fraction,
        "bagging_fraction": params.bagging_fraction,
        "bagging_freq": 1 if params.bagging_fraction < 1.0 else 0,
        "lambda_l2": params.lambda_l2,
        "max_bin": params.max_bin,
        "seed": seed,
        "deterministic": True,
        "force_row_wise": True,
        "num_threads": threads,
        "verbosity": -1,
        "max_cat_to_onehot": 8,
        "cat_smooth": 20.0,
    }
    if monotone and any(monotone):
        out["monotone_constraints"] = monotone
        out["monotone_constraints_method"] = "intermediate"
    return out


def positional(x: pd.DataFrame) -> pd.DataFrame:
    """The frame with columns f0, f1 … (LightGBM-safe names)."""
    out = x.copy(deep=False)
    out.columns = [f"f{i}" for i in range(x.shape[1])]
    return out


def _inner_split(y: np.ndarray, seed: int) -> tuple[np.ndarray, np.ndarray]:
    from sklearn.model_selection import train_test_split

    index = np.arange(len(y))
    fit, valid = train_test_split(index, test_size=INNER_VALID_SHARE, stratify=y, random_state=seed)
    return np.sort(fit), np.sort(valid)


def fit_early_stopped(
    x: pd.DataFrame, y: np.ndarray, params: GbmParams, seed: int, threads: int,
    monotone: list[int] | None,
) -> Any:  # fmt: skip
    """Fit on 85 % of the rows, stop early on the other 15 % (log loss); return the booster."""
    import lightgbm as lgb

    fit, valid = _inner_split(y, seed)
    xp = positional(x)
    train_set = lgb.Dataset(xp.iloc[fit], y[fit], free_raw_data=True)
    valid_set = lgb.Dataset(xp.iloc[valid], y[valid], reference=train_set)
    config = lgb_params(params, len(fit), seed, threads, monotone)
    config["metric"] = "binary_logloss"
    return lgb.train(
        config, train_set, num_boost_round=MAX_ROUNDS, valid_sets=[valid_set],
        callbacks=[lgb.early_stopping(EARLY_STOPPING_ROUNDS, verbose=False)],
    )  # fmt: skip


def fit_final(
    x: pd.DataFrame, y: np.ndarray, params: GbmParams, rounds: int, seed: int, threads: int,
    monotone: list[int] | None,
) -> Any:  # fmt: skip
    import lightgbm as lgb

    assert 1 <= rounds <= MAX_ROUNDS * 2
    config = lgb_params(params, len(y), seed, threads, monotone)
    return lgb.train(config, lgb.Dataset(positional(x), y), num_boost_round=rounds)


@dataclass
class CvResult:
    auc: float
    fold_aucs: list[float]
    rounds: int  # rounds for a final fit on all the rows
    oof: np.ndarray  # out-of-fold probabilities


def cross_validate(
    x: pd.DataFrame, y: np.ndarray, folds: list[tuple[np.ndarray, np.ndarray]],
    params: GbmParams, seed: int, threads: int, monotone: list[int] | None,
) -> CvResult:  # fmt: skip
    """K-fold CV; inside each fold, early stopping uses a split of the training part only."""
    oof = np.zeros(len(y))
    aucs, iterations = [], []
    for k, (train_idx, test_idx) in enumerate(folds):
        booster = fit_early_stopped(
            x.iloc[train_idx], y[train_idx], params, seed + k, threads, monotone
        )
        best = max(1, booster.best_iteration)
        oof[test_idx] = booster.predict(positional(x.iloc[test_idx]), num_iteration=best)
        aucs.append(evaluation.auc(y[test_idx], oof[test_idx]))
        iterations.append(best)
    # The final fit sees 1/(1 - INNER_VALID_SHARE) times more rows than an early-stopped fit.
    rounds = max(10, round(float(np.mean(iterations)) / (1.0 - INNER_VALID_SHARE)))
    return CvResult(float(np.mean(aucs)), aucs, rounds, oof)


def predict_logit(booster: Any, x: pd.DataFrame, threads: int = 0) -> np.ndarray:
    return booster.predict(positional(x), raw_score=True, num_threads=threads)


def contributions(booster: Any, x: pd.DataFrame, threads: int = 0) -> np.ndarray:
    """LightGBM's own SHAP contributions (log-odds), rows × features (the bias column dropped)."""
    xp = positional(x)
    out = np.empty((len(x), x.shape[1]))
    for start in range(0, len(x), CONTRIB_CHUNK_ROWS):
        stop = min(start + CONTRIB_CHUNK_ROWS, len(x))
        chunk = booster.predict(xp.iloc[start:stop], pred_contrib=True, num_threads=threads)
        out[start:stop] = np.asarray(chunk)[:, :-1]
    return out


def spearman_directions(x: pd.DataFrame, y: np.ndarray, min_abs_rho: float) -> list[int]:
    """+1 / -1 for numeric features whose rank correlation with bad is at least ``min_abs_rho``
    (missing values left out), 0 otherwise and for categoricals."""
    directions = []
    y_float = np.asarray(y, dtype=np.float64)
    for name in x.columns:
        column = x[name]
        if not pd.api.types.is_numeric_dtype(column) or isinstance(
            column.dtype, pd.CategoricalDtype
        ):
            directions.append(0)
            continue
        values = column.to_numpy(dtype=np.float64, na_value=np.nan)
        present = np.isfinite(values)
        if present.sum() < 30 or len(np.unique(values[present])) < 2:
            directions.append(0)
            continue
        rho = pd.Series(values[present]).rank().corr(pd.Series(y_float[present]).rank())
        directions.append(int(np.sign(rho)) if abs(rho) >= min_abs_rho else 0)
    return directions
