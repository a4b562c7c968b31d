"""Choosing a model by cross-validation: engineered features or not, LightGBM settings, monotone
constraints, and (``auto``) scorecard against LightGBM.

The plan is a pure function of the data's shape and the effort level, never of the clock, so the
same data, options and seed always give the same model. Every decision is written down with its
reason and its cross-validated AUCs.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from overdue.scoring import evaluation, gbm
from overdue.scoring import features_generic as fg
from overdue.scoring.scorecard import ScorecardParams, fit_optbinning

KINDS = ("auto", "scorecard", "gbm")
# Engineered features must earn their place: at least this much CV AUC over the raw columns.
ENGINEERED_MIN_GAIN = 0.0005
# Data-driven monotone constraints are kept when they cost at most this much CV AUC.
MONOTONE_TOLERANCE = 0.002
MONOTONE_MIN_RHO = 0.05
LARGE_CV_ROWS = 50_000  # above this many CV rows: 3 folds, and a faster learning rate
SMALL_LEARNING_RATE = 0.05
LARGE_LEARNING_RATE = 0.1  # about half the trees: faster to train and to score


@dataclass(frozen=True)
class Plan:
    folds: int
    trials: int
    cv_rows: int
    try_monotone: bool
    learning_rate: float = SMALL_LEARNING_RATE


EFFORTS = {
    "quick": Plan(folds=3, trials=1, cv_rows=30_000, try_monotone=False),
    "standard": Plan(folds=5, trials=6, cv_rows=100_000, try_monotone=True),
    "thorough": Plan(folds=5, trials=16, cv_rows=300_000, try_monotone=True),
}


@dataclass
class Choice:
    """What cross-validation chose, with the numbers behind each decision."""

    kind: str
    engineered: bool
    gbm_params: gbm.GbmParams | None = None
    gbm_rounds: int = 0
    monotone: list[int] = field(default_factory=list)
    cv: dict[str, Any] = field(default_factory=dict)
    decisions: list[str] = field(default_factory=list)
    oof: dict[str, np.ndarray] = field(default_factory=dict)
    cv_index: np.ndarray = field(default_factory=lambda: np.array([], dtype=np.int64))


def plan_for(effort: str, n_rows: int) -> Plan:
    plan = EFFORTS[effort]
    large = min(n_rows, plan.cv_rows) > LARGE_CV_ROWS
    rate = LARGE_LEARNING_RATE if large else SMALL_LEARNING_RATE
    return Plan(3 if large else plan.folds, plan.trials, plan.cv_rows, plan.try_monotone, rate)


def cv_sample(y: np.ndarray, max_rows: int, seed: int) -> np.ndarray:
    """Row positions used for cross-validation: all rows, or a stratified seeded sample."""
    if len(y) <= max_rows:
        return np.arange(len(y))
    from sklearn.model_selection import train_test_split

    keep, _ = train_test_split(
        np.arange(len(y)), train_size=max_rows, stratify=y, random_state=seed
    )
    return np.sort(keep)


def make_folds(y: np.ndarray, k: int, seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
    from sklearn.model_selection import StratifiedKFold

    splitter = StratifiedKFold(n_splits=k, shuffle=True, random_state=seed)
    return list(splitter.split(np.zeros(len(y)), y))


def cv_scorecard(
    x: pd.DataFrame, y: np.ndarray, folds: list[tuple[np.ndarray, np.ndarray]],
    schema: fg.FeatureSchema, params: ScorecardParams,
) -> tuple[float, list[float], np.ndarray]:  # fmt: skip
    oof = np.zeros(len(y))
    aucs = []
    for train_idx, test_idx in folds:
        card = fit_optbinning(x.iloc[train_idx], y[train_idx], schema, params)
        oof[test_idx] = card.predict_proba(x.iloc[test_idx])[:, 1]
        aucs.append(evaluation.auc(y[test_idx], oof[test_idx]))
    return float(np.mean(aucs)), aucs, oof


def _fmt(value: float) -> str:
    return f"{value:.4f}"


def declared_directions(columns: list[str], declared: dict[str, int]) -> list[int]:
    return [declared.get(name, 0) for name in columns]


def _detected_directions(x: pd.DataFrame, y: np.ndarray, declared: dict[str, int]) -> list[int]:
    found = gbm.spearman_directions(x, y, MONOTONE_MIN_RHO)
    out = []
    for name, direction in zip(x.columns, found, strict=True):
        if name in declared:
            out.append(declared[name])
        elif name.endswith(fg.CODE_SUFFIX):
            out.append(0)
        else:
            out.append(direction)
    return out


def choose(
    frame: pd.DataFrame, y: np.ndarray, schema: fg.FeatureSchema, kind: str, effort: str,
    seed: int, threads: int, declared_monotone: dict[str, int], card_params: ScorecardParams,
    log: Callable[[str], None],
) -> Choice:  # fmt: skip
    assert kind in KINDS and effort in EFFORTS
    plan = plan_for(effort, len(y))
    sample = cv_sample(y, plan.cv_rows, seed)
    ys = y[sample]
    part = frame.iloc[sample]
    folds = make_folds(ys, plan.folds, seed)
    choice = Choice(kind=kind, engineered=False, cv_index=sample)
    choice.cv["plan"] = {"folds": plan.folds, "trials": plan.trials, "cv_rows": len(sample),
                         "learning_rate": plan.learning_rate}  # fmt: skip
    has_engineered = bool(schema.engineered)
    default_params = gbm.GbmParams(learning_rate=plan.learning_rate)

    def card_cv(engineered: bool) -> tuple[float, list[float], np.ndarray]:
        x = fg.scorecard_frame(part, schema, engineered)
        return cv_scorecard(x, ys, folds, schema, card_params)

    def gbm_cv(engineered: bool, params: gbm.GbmParams, mono: list[int] | None) -> gbm.CvResult:
        x = fg.gbm_frame(part, schema, engineered)
        return gbm.cross_validate(x, ys, folds, params, seed, threads, mono)

    # 1. Engineered features or not, judged by the model being trained (LightGBM in auto).
    judge = "scorecard" if kind == "scorecard" else "gbm"
    raw_frame_cols = list(fg.gbm_frame(part.iloc[:5], schema, False).columns)
    raw_mono = declared_directions(raw_frame_cols, declared_monotone)
    if judge == "gbm":
        base = gbm_cv(False, default_params, raw_mono)
        log(f"LightGBM, raw columns: CV AUC {_fmt(base.auc)}")
        best_auc, best_result = base.auc, base
        if has_engineered:
            eng_cols = list(fg.gbm_frame(part.iloc[:5], schema, True).columns)
            eng = gbm_cv(True, default_params, declared_directions(eng_cols, declared_monotone))
            log(f"LightGBM, with {len(schema.engineered)} engineered features: "
                f"CV AUC {_fmt(eng.auc)}")  # fmt: skip
            choice.engineered = eng.auc >= base.auc + ENGINEERED_MIN_GAIN
            choice.cv["engineered_vs_raw_gbm"] = {"raw": base.auc, "engineered": eng.auc}
            if choice.engineered:
                best_auc, best_result = eng.auc, eng
    else:
        base_auc, base_folds, base_oof = card_cv(False)
        log(f"scorecard, raw columns: CV AUC {_fmt(base_auc)}")
        card_result = (base_auc, base_folds, base_oof)
        if has_engineered:
            eng_card = card_cv(True)
            log(f"scorecard, with engineered features: CV AUC {_fmt(eng_card[0])}")
            choice.engineered = eng_card[0] >= base_auc + ENGINEERED_MIN_GAIN
            choice.cv["engineered_vs_raw_scorecard"] = {"raw": base_auc, "engineered": eng_card[0]}
            if choice.engineered:
                card_result = eng_card
    if has_engineered:
        verdict = "used" if choice.engineered else "not used"
        choice.decisions.append(
            f"engineered features {verdict}: they must add at least {ENGINEERED_MIN_GAIN} CV AUC "
            f"({judge}: {_fmt(choice.cv.get(f'engineered_vs_raw_{judge}', {}).get('raw', 0))} raw vs "
            f"{_fmt(choice.cv.get(f'engineered_vs_raw_{judge}', {}).get('engineered', 0))} with)"
        )
    else:
        choice.decisions.append("no numbered column groups: no engineered features to try")

    # 2. LightGBM settings and monotone constraints.
    if kind in ("auto", "gbm"):
        columns = list(fg.gbm_frame(part.iloc[:5], schema, choice.engineered).columns)
        mono = declared_directions(columns, declared_monotone)
        best_params = default_params
        for params in gbm.search_trials(plan.trials, seed, plan.learning_rate)[1:]:
            result = gbm_cv(choice.engineered, params, mono)
            log(f"LightGBM trial {params}: CV AUC {_fmt(result.auc)}")
            if result.auc > best_auc:
                best_auc, best_result, best_params = result.auc, result, params
        choice.decisions.append(
            f"LightGBM settings: best of {plan.trials} seeded trial(s) by {plan.folds}-fold CV AUC "
            f"({_fmt(best_auc)}): {best_params.to_dict()}"
        )
        if plan.try_monotone:
            x_dir = fg.gbm_frame(part, schema, choice.engineered)
            detected = _detected_directions(x_dir, ys, declared_monotone)
            if detected != mono and any(detected):
                constrained = gbm_cv(choice.engineered, best_params, detected)
                n_con = sum(1 for d in detected if d)
                log(f"LightGBM with {n_con} monotone constraints: CV AUC {_fmt(constrained.auc)}")
                keep = constrained.auc >= best_auc - MONOTONE_TOLERANCE
                choice.cv["monotone"] = {"unconstrained": best_auc, "constrained": constrained.auc,
                                         "constrained_features": n_con}  # fmt: skip
                choice.decisions.append(
                    f"monotone constraints on {n_con} feature(s) (direction of each feature's rank "
                    f"correlation with bad, |rho| >= {MONOTONE_MIN_RHO}) "
                    + ("kept" if keep else "dropped")
                    + f": CV AUC {_fmt(constrained.auc)} constrained vs {_fmt(best_auc)} free "
                    f"(kept when the cost is at most {MONOTONE_TOLERANCE})"
                )
                if keep:
                    mono, best_auc, best_result = detected, constrained.auc, constrained
        choice.gbm_params, choice.gbm_rounds, choice.monotone = (
            best_params,
            best_result.rounds,
            mono,
        )
        choice.cv["gbm"] = {"auc": best_auc, "fold_aucs": best_result.fold_aucs}
        choice.oof["gbm"] = best_result.oof

    # 3. The scorecard, and the choice between the two.
    if kind in ("auto", "scorecard"):
        if kind == "auto":
            card_result = card_cv(choice.engineered)
            log(f"scorecard: CV AUC {_fmt(card_result[0])}")
        choice.cv["scorecard"] = {"auc": card_result[0], "fold_aucs": card_result[1]}
        choice.oof["scorecard"] = card_result[2]
    if kind == "auto":
        g, s = choice.cv["gbm"]["auc"], choice.cv["scorecard"]["auc"]
        choice.kind = "gbm" if g > s else "scorecard"
        loser = "scorecard" if choice.kind == "gbm" else "gbm"
        choice.decisions.append(
            f"auto chose {choice.kind}: {plan.folds}-fold CV AUC {_fmt(max(g, s))} against "
            f"{_fmt(min(g, s))} for the {loser} (the higher mean CV AUC wins; the {loser} is kept "
            "as the challenger)"
        )
    return choice
