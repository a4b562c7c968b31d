"""Drift between the training population and a current one: PSI of the score, CSI per input.

The reference (bin edges and counts on the training rows) is saved with the model. Numeric
columns: 10 quantile bins of the ordinary values, one bin for missing, one per sentinel code.
Categorical columns: one bin per kept level, one for other values, one for missing.
Alert levels: < 0.1 stable, 0.1-0.25 watch, > 0.25 shifted.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from overdue.scoring import evaluation
from overdue.scoring import features_generic as fg

N_BINS = 10


def _numeric_counts(raw: np.ndarray, specials: tuple[float, ...], edges: np.ndarray) -> np.ndarray:
    clean = fg.clean_numeric(raw, specials)
    is_special = np.isin(raw, np.asarray(specials)) if specials else np.zeros(len(raw), bool)
    counts = evaluation.bin_counts(clean[~is_special], edges)
    special_counts = [int(np.sum(raw == code)) for code in specials]
    return np.r_[counts, special_counts].astype(np.int64)


def _categorical_counts(values: np.ndarray, levels: tuple[str, ...]) -> np.ndarray:
    series = pd.Series(values, dtype=object)
    counts = [int((series == level).sum()) for level in (*levels, fg.OTHER)]
    return np.r_[counts, int(series.isna().sum())].astype(np.int64)


def feature_counts(frame: pd.DataFrame, spec: fg.ColumnSpec, entry: dict[str, Any]) -> np.ndarray:
    if spec.kind == "numeric":
        raw = fg.numeric_values(frame, spec.name)
        return _numeric_counts(raw, spec.specials, np.asarray(entry["edges"]))
    return _categorical_counts(fg.categorical_values(frame, spec), spec.levels)


def reference(frame: pd.DataFrame, schema: fg.FeatureSchema, scores: np.ndarray) -> dict[str, Any]:
    """Edges and counts of the score and of every input column on the training rows."""
    score_edges = evaluation.quantile_edges(scores, N_BINS)
    features: dict[str, Any] = {}
    for spec in schema.columns:
        if spec.kind == "numeric":
            raw = fg.numeric_values(frame, spec.name)
            edges = evaluation.quantile_edges(fg.clean_numeric(raw, spec.specials), N_BINS)
            entry: dict[str, Any] = {"edges": edges.tolist()}
        else:
            entry = {"edges": []}
        entry["counts"] = feature_counts(frame, spec, entry).tolist()
        features[spec.name] = entry
    return {
        "score": {
            "edges": score_edges.tolist(),
            "counts": evaluation.bin_counts(scores, score_edges).tolist(),
        },
        "features": features,
        "n": len(scores),
    }


def drift(
    ref: dict[str, Any], frame: pd.DataFrame, schema: fg.FeatureSchema, scores: np.ndarray
) -> dict[str, Any]:
    """PSI of the score and CSI of each input column against the saved reference."""
    score_edges = np.asarray(ref["score"]["edges"])
    score_psi = evaluation.psi_from_counts(
        np.asarray(ref["score"]["counts"]), evaluation.bin_counts(scores, score_edges)
    )
    csi: list[dict[str, Any]] = []
    for spec in schema.columns:
        entry = ref["features"][spec.name]
        current = feature_counts(frame, spec, entry)
        value = evaluation.psi_from_counts(np.asarray(entry["counts"]), current)
        csi.append(
            {"feature": spec.name, "csi": value, "status": evaluation.stability_status(value)}
        )
    csi.sort(key=lambda row: -row["csi"])
    return {
        "n_reference": ref["n"],
        "n_current": len(scores),
        "psi": score_psi,
        "status": evaluation.stability_status(score_psi),
        "csi": csi,
        "thresholds": {"watch": evaluation.PSI_WATCH, "shifted": evaluation.PSI_SHIFTED},
    }
