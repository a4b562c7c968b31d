"""Train a credit model on any table and save it as a new version in a registry folder."""

from __future__ import annotations

import json
import platform
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from overdue.errors import BadInput
from overdue.scoring import drift, evaluation, gbm, registry, select
from overdue.scoring import features_generic as fg
from overdue.scoring import specials as specials_mod
from overdue.scoring import target as target_mod
from overdue.scoring.model import ScoringModel
from overdue.scoring.scorecard import (
    ScorecardParams,
    compile_card,
    fit_optbinning,
    score_from_logit,
)
from overdue.scoring.table_io import Fingerprint, fingerprint, read_table

MIN_ROWS = 50
MIN_PER_CLASS = 10
LEAK_AUC = 0.95
# Bins and WoE settle long before this many rows; above it the card is fitted on a stratified
# sample (seeded), which keeps optbinning's time bounded.
MAX_SCORECARD_ROWS = 300_000
CARD_FORMAT = 1
DIRECTION_WORDS = {"+1": 1, "1": 1, "inc": 1, "increasing": 1, "-1": -1, "dec": -1,
                   "decreasing": -1, "0": 0, "none": 0}  # fmt: skip
LIBRARIES = ("lightgbm", "optbinning", "scikit-learn", "pandas", "numpy", "ortools")


@dataclass(frozen=True)
class TrainOptions:
    target: str
    id_column: str | None = None
    positive: tuple[str, ...] = ()
    specials: tuple[str, ...] = ()  # "COL=V1,V2"
    exclude: tuple[str, ...] = ()
    monotone: tuple[str, ...] = ()  # "COL=increasing|decreasing" (risk rises/falls with COL)
    kind: str = "auto"
    seed: int = 42
    effort: str = "standard"
    threads: int = 1
    scaling: ScorecardParams = field(default_factory=ScorecardParams)


def _versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for name in LIBRARIES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "absent"
    return out


def _parse_monotone(options: tuple[str, ...], schema: fg.FeatureSchema) -> dict[str, int]:
    numeric = {c.name for c in schema.numeric} | {e.name for e in schema.engineered}
    out: dict[str, int] = {}
    for option in options:
        name, sep, word = option.partition("=")
        direction = DIRECTION_WORDS.get(word.strip().lower())
        if not sep or direction is None:
            raise BadInput(f"--monotone {option!r}: expected COL=increasing or COL=decreasing")
        if name.strip() not in numeric:
            raise BadInput(f"--monotone {option!r}: {name.strip()!r} is not a numeric feature")
        out[name.strip()] = direction
    return out


def _check_columns(frame: pd.DataFrame, options: TrainOptions, file: str) -> None:
    if options.id_column is not None and options.id_column not in frame.columns:
        raise BadInput(f"{file}: --id column {options.id_column!r} not found")
    for name in options.exclude:
        if name not in frame.columns:
            raise BadInput(f"{file}: --exclude column {name!r} not found")
    if options.kind not in select.KINDS:
        raise BadInput(f"--kind {options.kind!r}: use one of {', '.join(select.KINDS)}")
    if options.effort not in select.EFFORTS:
        raise BadInput(f"--effort {options.effort!r}: use one of {', '.join(select.EFFORTS)}")
    if options.id_column == options.target or options.target in options.exclude:
        raise BadInput(f"{file}: the target {options.target!r} cannot also be the id or excluded")


def _leak_warnings(frame: pd.DataFrame, y: np.ndarray, schema: fg.FeatureSchema) -> list[str]:
    notes = []
    for spec in schema.numeric:
        values = fg.clean_numeric(fg.numeric_values(frame, spec.name), spec.specials)
        present = np.isfinite(values)
        if present.sum() < MIN_ROWS or len(np.unique(y[present])) < 2:
            continue
        area = evaluation.auc(y[present], values[present])
        if max(area, 1 - area) >= LEAK_AUC:
            notes.append(
                f"possible leak: {spec.name} alone separates bad from good with AUC "
                f"{max(area, 1 - area):.3f} (is it known before the outcome?)"
            )
    return notes


def load_training_table(path: Path) -> tuple[pd.DataFrame, Fingerprint]:
    frame = read_table(path)
    return frame, fingerprint(path, frame)


def train_frame(
    frame: pd.DataFrame, data: Fingerprint, out: Path, options: TrainOptions, created_at: str,
    log: Callable[[str], None] = lambda _msg: None,
) -> tuple[Path, dict[str, Any]]:  # fmt: skip
    """Fit, choose, save as the next version in ``out``; return (version folder, model card)."""
    file = data.file
    _check_columns(frame, options, file)
    spec = target_mod.infer_spec(frame, options.target, list(options.positive) or None, file)
    y_all, labelled = target_mod.encode(frame, spec, file)
    frame = frame.loc[labelled].reset_index(drop=True)
    y = y_all[labelled]
    n_bad = int(y.sum())
    if len(y) < MIN_ROWS or min(n_bad, len(y) - n_bad) < MIN_PER_CLASS:
        raise BadInput(
            f"{file}: too few rows to train ({len(y)} rows, {n_bad} bad): need at least "
            f"{MIN_ROWS} rows and {MIN_PER_CLASS} of each class"
        )
    drop = [options.target, *options.exclude] + ([options.id_column] if options.id_column else [])
    features = frame.drop(columns=drop)
    declared = specials_mod.parse_declared(list(options.specials), features, file)
    schema = fg.build_schema(features, declared)
    if not schema.columns:
        raise BadInput(f"{file}: no usable feature column (all dropped: {schema.dropped[:3]})")
    monotone = _parse_monotone(options.monotone, schema)
    log(f"{len(y)} rows, bad rate {n_bad / len(y):.4f}, {len(schema.columns)} features "
        f"({len(schema.dropped)} dropped, {len(schema.engineered)} engineered candidates)")  # fmt: skip

    choice = select.choose(
        features, y, schema, options.kind, options.effort, options.seed, options.threads,
        monotone, options.scaling, log,
    )  # fmt: skip
    booster = compiled = optbinning_card = None
    gbm_features: list[str] | None = None
    if choice.kind == "gbm" or options.kind == "auto":
        assert choice.gbm_params is not None
        x = fg.gbm_frame(features, schema, choice.engineered)
        gbm_features = list(x.columns)
        log(f"final LightGBM fit: {len(y)} rows, {choice.gbm_rounds} rounds")
        booster = gbm.fit_final(
            x, y, choice.gbm_params, choice.gbm_rounds, options.seed, options.threads,
            choice.monotone,
        )  # fmt: skip
        del x
    if choice.kind == "scorecard" or options.kind == "auto":
        rows = select.cv_sample(y, MAX_SCORECARD_ROWS, options.seed)
        x = fg.scorecard_frame(features.iloc[rows], schema, choice.engineered)
        log(f"final scorecard fit: {len(rows)} rows")
        optbinning_card = fit_optbinning(x, y[rows], schema, options.scaling)
        compiled = compile_card(optbinning_card, schema, options.scaling)
        del x

    version = registry.next_version(out)
    model = ScoringModel(
        card={}, schema=schema, target=spec, id_column=options.id_column, kind=choice.kind,
        engineered=choice.engineered, scaling=options.scaling, booster=booster,
        gbm_features=gbm_features, scorecard=compiled,
    )  # fmt: skip
    train_scores = score_from_logit(model.logit(features), options.scaling)
    reference = drift.reference(features, schema, train_scores)
    oof = pd.DataFrame({"row": choice.cv_index, "y": y[choice.cv_index]})
    for kind, values in choice.oof.items():
        oof[kind] = values
    sample = features.iloc[choice.cv_index]
    notes = _leak_warnings(sample, y[choice.cv_index], schema)
    card = _model_card(
        version, created_at, data, spec, options, schema, choice, gbm_features, compiled,
        monotone, reference, len(y), int(len(labelled) - labelled.sum()), n_bad, notes,
    )  # fmt: skip
    card = json.loads(json.dumps(card, default=float))  # exactly what model.json will hold
    folder = registry.save(out, card, booster, compiled, optbinning_card, oof)
    return folder, card


def _model_card(
    version: int, created_at: str, data: Fingerprint, spec: target_mod.TargetSpec,
    options: TrainOptions, schema: fg.FeatureSchema, choice: select.Choice,
    gbm_features: list[str] | None, compiled: Any, monotone: dict[str, int],
    reference: dict[str, Any], n_rows: int, n_unlabelled: int, n_bad: int, notes: list[str],
) -> dict[str, Any]:  # fmt: skip
    cv_auc = choice.cv[choice.kind]["auc"]
    gbm_part = None
    if choice.gbm_params is not None and gbm_features is not None:
        lgb_config = gbm.lgb_params(
            choice.gbm_params, n_rows, options.seed, options.threads, choice.monotone
        )
        gbm_part = {
            "params": choice.gbm_params.to_dict(), "rounds": choice.gbm_rounds,
            "lightgbm": lgb_config,
            "monotone": {f: d for f, d in zip(gbm_features, choice.monotone, strict=False) if d},
        }  # fmt: skip
    return {
        "format": CARD_FORMAT,
        "version": version,
        "created_at": created_at,
        "kind": choice.kind,
        "requested_kind": options.kind,
        "challenger": (
            ("scorecard" if choice.kind == "gbm" else "gbm") if options.kind == "auto" else None
        ),
        "seed": options.seed,
        "effort": options.effort,
        "threads": options.threads,
        "data": {
            **data.to_dict(),
            "rows_used": n_rows,
            "rows_without_target": n_unlabelled,
            "bad_rate": n_bad / n_rows,
        },
        "target": spec.to_dict(),
        "id_column": options.id_column,
        "excluded": list(options.exclude),
        "features": {
            "schema": schema.to_dict(),
            "engineered": choice.engineered,
            "gbm_features": gbm_features,
            "scorecard_features": [v.name for v in compiled.variables] if compiled else None,
            "declared_monotone": monotone,
        },
        "parameters": {
            "scaling": options.scaling.to_dict(),
            "gbm": gbm_part,
            "cv_plan": choice.cv.get("plan"),
        },
        "metrics": {"cv_auc": cv_auc, "cv": {k: v for k, v in choice.cv.items() if k != "plan"}},
        "decisions": choice.decisions,
        "notes": notes,
        "libraries": _versions(),
        "drift_reference": reference,
    }
