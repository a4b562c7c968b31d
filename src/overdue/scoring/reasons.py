"""Reason codes: the top adverse factors of each scored account, in plain zh-CN and en.

* Scorecard: a characteristic is adverse by the points the account's bin loses against the best
  bin of that characteristic; the text names the bin and the points lost.
* LightGBM: a feature is adverse by its own SHAP contribution (``pred_contrib=True``) to the
  log-odds of bad; only contributions that raise the risk count.

Texts depend only on (feature, bin) or the feature, so they are looked up, not formatted per row.
"""

from __future__ import annotations

import numba
import numpy as np
import pandas as pd

from overdue.scoring.gbm_compiled import largest_first
from overdue.scoring.scorecard import CompiledScorecard

MAX_REASONS = 10
NO_REASON = ""


def _top_k(badness: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Column positions of the k largest positive values per row (-1 where fewer), and values."""
    assert 0 < k <= MAX_REASONS
    n, m = badness.shape
    k_eff = min(k, m)
    if m == 0:
        return np.full((n, k), -1), np.zeros((n, k))
    if not np.isfinite(badness).all():  # NaN or infinite values: the sort itself
        order = np.argsort(-badness, axis=1, kind="stable")[:, :k_eff]
    else:  # k passes per row: the same columns as the stable sort (first of equals), faster
        order = _top_k_finite(np.ascontiguousarray(badness, dtype=np.float64), k_eff)
    values = np.take_along_axis(badness, order, axis=1)
    order = np.where(values > 0, order, -1)
    if k_eff < k:
        order = np.c_[order, np.full((n, k - k_eff), -1)]
        values = np.c_[values, np.zeros((n, k - k_eff))]
    return order, np.where(order >= 0, values, 0.0)


@numba.njit(parallel=True, cache=True)
def _top_k_finite(badness: np.ndarray, k: int) -> np.ndarray:
    """Per row (finite values, k ≤ columns): the columns of the k largest values, largest
    first, the first column of equal values first (a stable sort's order). One compiled pass
    per pick over the row (a million rows × 31 columns: 0.65 s of k numpy argmax passes)."""
    n = badness.shape[0]
    order = np.empty((n, k), dtype=np.int64)
    for i in numba.prange(n):
        largest_first(badness[i], k, order[i])
    return order


def scorecard_texts(card: CompiledScorecard) -> list[list[tuple[str, str]]]:
    """(en, zh) per variable and bin (plus the unknown-category entry last)."""
    out = []
    for variable in card.variables:
        best = variable.best_points
        texts = []
        for label, points in zip(variable.labels, variable.points, strict=True):
            lost = best - points
            texts.append((
                f"{variable.en}: {label} ({lost:.0f} points below its best bin)",
                f"{variable.zh}：{_zh_bin(label)}（比最佳分箱少 {lost:.0f} 分）",
            ))  # fmt: skip
        lost = best - variable.unknown_points
        texts.append((
            f"{variable.en}: a value not seen in training ({lost:.0f} points below its best bin)",
            f"{variable.zh}：训练中未出现的取值（比最佳分箱少 {lost:.0f} 分）",
        ))  # fmt: skip
        out.append(texts)
    return out


def _zh_bin(label: str) -> str:
    return "缺失" if label == "Missing" else label


def scorecard_reasons(
    card: CompiledScorecard, points: np.ndarray, index: np.ndarray, k: int
) -> pd.DataFrame:
    best = np.array([v.best_points for v in card.variables])
    lost = best[None, :] - points
    order, values = _top_k(lost, k)
    texts = scorecard_texts(card)
    names = np.array([v.name for v in card.variables] + [NO_REASON], dtype=object)
    columns: dict[str, np.ndarray] = {}
    for r in range(k):
        pos = order[:, r]
        columns[f"reason_{r + 1}"] = names[pos]  # -1 picks NO_REASON
        en = np.full(len(pos), NO_REASON, dtype=object)
        zh = np.full(len(pos), NO_REASON, dtype=object)
        for j, variable_texts in enumerate(texts):
            rows = np.flatnonzero(pos == j)
            if len(rows) == 0:
                continue
            bins = index[rows, j]  # -1 = unknown category = the last text
            lookup_en = np.array([t[0] for t in variable_texts], dtype=object)
            lookup_zh = np.array([t[1] for t in variable_texts], dtype=object)
            en[rows], zh[rows] = lookup_en[bins], lookup_zh[bins]
        columns[f"reason_{r + 1}_en"] = en
        columns[f"reason_{r + 1}_zh"] = zh
        columns[f"reason_{r + 1}_points_lost"] = np.round(values[:, r], 1)
    return pd.DataFrame(columns)


def _value_text(column: pd.Series) -> pd.Series:
    """Values as short text: categories by name, whole numbers without '.0', missing as 'missing'."""
    if isinstance(column.dtype, pd.CategoricalDtype):
        text = column.astype(object).astype(str)
    else:
        numbers = column.to_numpy(dtype=np.float64, na_value=np.nan)
        text = pd.Series([f"{v:.6g}" for v in numbers], index=column.index, dtype=object)
    return text.where(column.notna(), "missing")


def gbm_reasons(
    contrib: np.ndarray, values: pd.DataFrame, descriptions: list[tuple[str, str]], k: int
) -> pd.DataFrame:
    """Top-k positive SHAP contributions per row, named, with the row's value in the text."""
    features = list(values.columns)
    assert contrib.shape[1] == len(features) == len(descriptions)
    order, impact = _top_k(contrib, k)
    names = np.array([*features, NO_REASON], dtype=object)
    columns: dict[str, np.ndarray] = {}
    for r in range(k):
        pos = order[:, r]
        value = np.full(len(pos), NO_REASON, dtype=object)
        en = np.full(len(pos), NO_REASON, dtype=object)
        zh = np.full(len(pos), NO_REASON, dtype=object)
        for j in np.unique(pos[pos >= 0]):
            rows = np.flatnonzero(pos == j)
            text = _value_text(values.iloc[rows, j])
            desc_en, desc_zh = descriptions[j]
            value[rows] = text.to_numpy()
            en[rows] = (desc_en + " = " + text + " raises the risk").to_numpy()
            zh[rows] = (desc_zh + " = " + text + "，推高了违约风险").to_numpy()
        columns[f"reason_{r + 1}"] = names[pos]
        columns[f"reason_{r + 1}_en"] = en
        columns[f"reason_{r + 1}_zh"] = zh
        columns[f"reason_{r + 1}_value"] = value
        columns[f"reason_{r + 1}_logodds"] = np.round(impact[:, r], 4)
    return pd.DataFrame(columns)
