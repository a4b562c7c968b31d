"""The simulation's summary: per arm, totals and ratios with 95 % confidence intervals.

Intervals use the normal approximation over customers (customers are the independent units: the
arm is drawn per customer). A total Σx over the n customers of an arm gets n·x̄ ± 1.96·√n·s;
a ratio Σy/Σx (recovered per contact) gets the delta-method interval
r ± 1.96·√(Σ(y − r·x)² / (Σx)²); a share of accounts (roll rates) the binomial normal interval.
"""

from __future__ import annotations

import math
from typing import Any, Final

import numpy as np
import numpy.typing as npt

Z95: Final = 1.959964


def total_ci(x: npt.NDArray[Any]) -> dict[str, float]:
    """Σx with its 95 % interval (normal approximation over customers)."""
    x = np.asarray(x, dtype=np.float64)
    n = x.size
    if n == 0:
        return {"value": 0.0, "low": 0.0, "high": 0.0}
    total = float(x.sum())
    half = Z95 * math.sqrt(n) * float(x.std(ddof=1)) if n > 1 else 0.0
    return {"value": total, "low": total - half, "high": total + half}


def mean_ci(x: npt.NDArray[Any]) -> dict[str, float]:
    """x̄ per customer with its 95 % interval."""
    x = np.asarray(x, dtype=np.float64)
    n = x.size
    if n == 0:
        return {"value": 0.0, "low": 0.0, "high": 0.0}
    mean = float(x.mean())
    half = Z95 * float(x.std(ddof=1)) / math.sqrt(n) if n > 1 else 0.0
    return {"value": mean, "low": mean - half, "high": mean + half}


def ratio_ci(y: npt.NDArray[Any], x: npt.NDArray[Any]) -> dict[str, float]:
    """Σy / Σx with the delta-method 95 % interval (customers as units)."""
    y = np.asarray(y, dtype=np.float64)
    x = np.asarray(x, dtype=np.float64)
    sx = float(x.sum())
    if sx <= 0:
        return {"value": 0.0, "low": 0.0, "high": 0.0}
    r = float(y.sum()) / sx
    half = Z95 * math.sqrt(float(((y - r * x) ** 2).sum())) / sx
    return {"value": r, "low": r - half, "high": r + half}


def share_ci(hits: int, n: int) -> dict[str, float]:
    """A share with its binomial normal-approximation 95 % interval."""
    if n <= 0:
        return {"value": 0.0, "low": 0.0, "high": 0.0, "n": 0}
    p = hits / n
    half = Z95 * math.sqrt(p * (1 - p) / n)
    return {"value": p, "low": max(0.0, p - half), "high": min(1.0, p + half), "n": n}


def difference_ci(a: npt.NDArray[Any], b: npt.NDArray[Any]) -> dict[str, float]:
    """Mean of a − mean of b (two independent groups), 95 % interval (Welch, normal)."""
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    if a.size < 2 or b.size < 2:
        return {"value": 0.0, "low": 0.0, "high": 0.0}
    d = float(a.mean() - b.mean())
    half = Z95 * math.sqrt(float(a.var(ddof=1)) / a.size + float(b.var(ddof=1)) / b.size)
    return {"value": d, "low": d - half, "high": d + half}


ROLL_STATES: Final = ("M0", "M1", "M2", "M3", "M4", "M5", "M6", "M7")


def roll_rates(start_bucket: list[str], end_bucket: list[str]) -> dict[str, Any]:
    """Start → end bucket counts (cn M-buckets) and the headline rates with intervals."""
    matrix: dict[str, dict[str, int]] = {}
    for s, e in zip(start_bucket, end_bucket, strict=True):
        row = matrix.setdefault(s, {})
        row[e] = row.get(e, 0) + 1
    m0 = matrix.get("M0", {})
    m1 = matrix.get("M1", {})
    n0, n1 = sum(m0.values()), sum(m1.values())
    worse_than_m1 = sum(v for k, v in m1.items() if k not in ("M0", "M1"))
    return {
        "matrix": {s: dict(sorted(row.items())) for s, row in sorted(matrix.items())},
        "m0_to_overdue": share_ci(n0 - m0.get("M0", 0), n0),
        "m1_cure": share_ci(m1.get("M0", 0), n1),
        "m1_to_m2_plus": share_ci(worse_than_m1, n1),
    }
