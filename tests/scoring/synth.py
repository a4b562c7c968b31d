"""A small synthetic credit table with the traits the trainer must handle."""

from __future__ import annotations

import numpy as np
import pandas as pd


def credit_table(n: int = 3000, seed: int = 0) -> pd.DataFrame:
    """Numeric columns, a numbered history (hist1..hist4) with a -1 code, a limit, text, NaN."""
    rng = np.random.default_rng(seed)
    limit = rng.choice([1000.0, 2000.0, 5000.0, 10000.0, 20000.0], size=n) * rng.uniform(
        0.8, 1.2, n
    )
    risk = rng.normal(size=n)
    hist = np.clip(np.round(risk[:, None] + rng.normal(scale=0.8, size=(n, 4))), 0, 6)
    none = rng.random(n) < 0.15
    hist[none] = -1  # "no bill": a sentinel code
    balance = np.abs(limit * (0.4 + 0.2 * risk + rng.normal(scale=0.2, size=n)))
    income = rng.lognormal(10, 0.5, size=n)
    income[rng.random(n) < 0.05] = np.nan
    region = rng.choice(["north", "south", "east", "west"], size=n, p=[0.4, 0.3, 0.2, 0.1])
    region = region.astype(object)
    region[rng.random(n) < 0.03] = None  # missing text
    logit = -1.6 + 1.5 * risk + 1.0 * (region == "west") - 0.2 * np.log(limit / 1000)
    bad = rng.random(n) < 1 / (1 + np.exp(-logit))
    frame = pd.DataFrame({
        "account": [f"A{i:06d}" for i in range(n)],
        "limit": limit.round(0),
        "balance": balance.round(2),
        "income": income.round(0),
        "region": region,
    })  # fmt: skip
    for k in range(4):
        frame[f"hist{k + 1}"] = hist[:, k]
    frame["status"] = np.where(bad, "default", "current")
    return frame
