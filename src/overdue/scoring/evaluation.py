"""Model measures with numpy only: AUC, KS, Gini, gains and lift by decile, calibration, PSI, CSI.

Conventions: ``y`` is 0/1 with 1 = bad (the event); ``risk`` is any number that grows with the risk
of being bad (a probability of default, or minus a score). Ties are handled exactly: AUC counts a
tied pair as one half (Mann-Whitney with average ranks), KS only compares the two cumulative
distributions at distinct risk values.

Stability (domain doc §3): PSI < 0.1 stable, 0.1-0.25 watch, > 0.25 shifted. The same formula over
one characteristic's bins is its CSI.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd

PSI_WATCH = 0.1
PSI_SHIFTED = 0.25
# An empty bin would make ln(a/e) infinite: shares are floored at this value (a common convention).
PSI_FLOOR = 1e-4
MAX_BINS = 1000


@dataclass(frozen=True)
class Summary:
    auc: float
    ks: float
    gini: float
    n: int
    base_rate: float

    def to_dict(self) -> dict[str, float | int]:
        return asdict(self)


def _check(y: np.ndarray, risk: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    y_arr = np.asarray(y)
    risk_arr = np.asarray(risk, dtype=np.float64)
    assert y_arr.shape == risk_arr.shape and y_arr.ndim == 1, "y and risk: same length, 1-D"
    assert np.isin(y_arr, (0, 1)).all(), "y must be 0/1"
    assert np.isfinite(risk_arr).all(), "risk must be finite"
    return y_arr.astype(np.int8), risk_arr


def _both_classes(y: np.ndarray) -> None:
    n_bad = int(y.sum())
    if n_bad == 0 or n_bad == len(y):
        raise ValueError("AUC and KS need both good and bad rows")


def _average_ranks(values: np.ndarray) -> np.ndarray:
    """1-based ranks, ties get the mean of their ranks."""
    order = np.argsort(values, kind="mergesort")
    sorted_values = values[order]
    starts = np.r_[True, sorted_values[1:] != sorted_values[:-1]]
    group = np.cumsum(starts) - 1
    first = np.flatnonzero(starts)
    last = np.r_[first[1:], len(values)] - 1
    mean_rank = (first + last) / 2.0 + 1.0
    ranks = np.empty(len(values), dtype=np.float64)
    ranks[order] = mean_rank[group]
    return ranks


def auc(y: np.ndarray, risk: np.ndarray) -> float:
    """Probability that a random bad row has higher risk than a random good one (ties = 1/2)."""
    y_arr, risk_arr = _check(y, risk)
    _both_classes(y_arr)
    n_bad = int(y_arr.sum())
    n_good = len(y_arr) - n_bad
    rank_sum = float(_average_ranks(risk_arr)[y_arr == 1].sum())
    return (rank_sum - n_bad * (n_bad + 1) / 2.0) / (n_bad * n_good)


def ks(y: np.ndarray, risk: np.ndarray) -> float:
    """Max distance between the cumulative distributions of risk among bads and among goods."""
    y_arr, risk_arr = _check(y, risk)
    _both_classes(y_arr)
    order = np.argsort(-risk_arr, kind="mergesort")
    sorted_risk = risk_arr[order]
    bad = y_arr[order].astype(np.float64)
    cum_bad = np.cumsum(bad) / bad.sum()
    cum_good = np.cumsum(1.0 - bad) / (1.0 - bad).sum()
    # Only compare at the end of a run of equal risk values: a threshold cannot split ties.
    ends = np.r_[sorted_risk[1:] != sorted_risk[:-1], True]
    return float(np.max(np.abs(cum_bad[ends] - cum_good[ends])))


def gini(y: np.ndarray, risk: np.ndarray) -> float:
    return 2.0 * auc(y, risk) - 1.0


def summary(y: np.ndarray, risk: np.ndarray) -> Summary:
    y_arr, risk_arr = _check(y, risk)
    area = auc(y_arr, risk_arr)
    return Summary(
        auc=area,
        ks=ks(y_arr, risk_arr),
        gini=2.0 * area - 1.0,
        n=len(y_arr),
        base_rate=float(y_arr.mean()),
    )


def _rank_groups(risk: np.ndarray, n_groups: int) -> np.ndarray:
    """Group 0 = riskiest tenth (for n_groups=10); equal risk values always share a group."""
    assert 1 <= n_groups <= MAX_BINS
    order = np.argsort(-risk, kind="mergesort")
    position = np.empty(len(risk), dtype=np.int64)
    position[order] = np.arange(len(risk))
    groups = (position * n_groups) // len(risk)
    # Ties: every member of a tie takes the group of its first (riskiest-ranked) member.
    frame = pd.DataFrame({"risk": risk, "group": groups})
    return frame.groupby("risk")["group"].transform("min").to_numpy()


def gains_table(y: np.ndarray, risk: np.ndarray, n_groups: int = 10) -> pd.DataFrame:
    """Gains and lift by risk decile, riskiest first: count, bads, bad rate, cumulative capture, lift."""
    y_arr, risk_arr = _check(y, risk)
    groups = _rank_groups(risk_arr, n_groups)
    frame = pd.DataFrame({"group": groups, "bad": y_arr, "risk": risk_arr})
    table = frame.groupby("group").agg(
        count=("bad", "size"), bads=("bad", "sum"), min_risk=("risk", "min"),
        max_risk=("risk", "max"),
    )  # fmt: skip
    table = table.reset_index()
    table["decile"] = table["group"] + 1
    total_bads = max(int(y_arr.sum()), 1)
    base_rate = y_arr.mean() if len(y_arr) else 0.0
    table["bad_rate"] = table["bads"] / table["count"]
    table["cum_count"] = table["count"].cumsum()
    table["cum_bads"] = table["bads"].cumsum()
    table["cum_bad_capture"] = table["cum_bads"] / total_bads
    table["cum_population"] = table["cum_count"] / len(y_arr)
    table["lift"] = table["bad_rate"] / base_rate if base_rate > 0 else np.nan
    table["cum_lift"] = (
        (table["cum_bads"] / table["cum_count"]) / base_rate if base_rate else np.nan
    )
    columns = ["decile", "count", "bads", "bad_rate", "min_risk", "max_risk", "cum_bad_capture",
               "cum_population", "lift", "cum_lift"]  # fmt: skip
    return table[columns]


def calibration_table(y: np.ndarray, probability: np.ndarray, n_groups: int = 10) -> pd.DataFrame:
    """Mean predicted probability against the observed bad rate, by decile of the prediction."""
    y_arr, p_arr = _check(y, probability)
    assert ((p_arr >= 0) & (p_arr <= 1)).all(), "probabilities must lie in [0, 1]"
    groups = _rank_groups(p_arr, n_groups)
    frame = pd.DataFrame({"group": groups, "bad": y_arr, "p": p_arr})
    table = frame.groupby("group").agg(
        count=("bad", "size"), predicted=("p", "mean"), observed=("bad", "mean"),
    )  # fmt: skip
    table = table.reset_index().sort_values("predicted").reset_index(drop=True)
    table["bin"] = np.arange(1, len(table) + 1)
    return table[["bin", "count", "predicted", "observed"]]


def brier(y: np.ndarray, probability: np.ndarray) -> float:
    y_arr, p_arr = _check(y, probability)
    return float(np.mean((p_arr - y_arr) ** 2))


def psi_from_counts(expected: np.ndarray, actual: np.ndarray) -> float:
    """PSI = sum (a - e) * ln(a / e) over bins, on shares floored at PSI_FLOOR."""
    e = np.asarray(expected, dtype=np.float64)
    a = np.asarray(actual, dtype=np.float64)
    assert e.shape == a.shape and e.ndim == 1 and len(e) <= MAX_BINS, "one count per bin"
    assert (e >= 0).all() and (a >= 0).all() and e.sum() > 0 and a.sum() > 0, "counts >= 0"
    e_share = np.maximum(e / e.sum(), PSI_FLOOR)
    a_share = np.maximum(a / a.sum(), PSI_FLOOR)
    return float(np.sum((a_share - e_share) * np.log(a_share / e_share)))


def stability_status(index: float) -> str:
    """The alert level of a PSI or CSI value: stable (< 0.1), watch (0.1-0.25), shifted (> 0.25)."""
    if index < PSI_WATCH:
        return "stable"
    if index <= PSI_SHIFTED:
        return "watch"
    return "shifted"


def quantile_edges(values: np.ndarray, n_bins: int = 10) -> np.ndarray:
    """Inner bin edges at the reference quantiles (distinct values only)."""
    assert 1 <= n_bins <= MAX_BINS
    finite = np.asarray(values, dtype=np.float64)
    finite = finite[np.isfinite(finite)]
    if len(finite) == 0:
        return np.array([], dtype=np.float64)
    qs = np.quantile(finite, np.linspace(0, 1, n_bins + 1)[1:-1])
    return np.unique(qs)


def bin_counts(values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Counts in (-inf, e1), [e1, e2), ..., [ek, inf), then one last bin for missing values."""
    arr = np.asarray(values, dtype=np.float64)
    missing = ~np.isfinite(arr)
    idx = np.searchsorted(edges, arr[~missing], side="right")
    counts = np.bincount(idx, minlength=len(edges) + 1)
    return np.r_[counts, int(missing.sum())]


def psi(reference: np.ndarray, current: np.ndarray, n_bins: int = 10) -> float:
    """PSI of ``current`` against ``reference``, on reference quantile bins (+ a missing bin)."""
    edges = quantile_edges(reference, n_bins)
    return psi_from_counts(bin_counts(reference, edges), bin_counts(current, edges))
