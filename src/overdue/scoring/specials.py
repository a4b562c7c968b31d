"""Sentinel codes in numeric columns ("-1 = no account", "999 = never"): declared or found.

Each code gets its own bin in the scorecard and its own indicator for LightGBM, and is left out of
row-wise aggregates. Declared with ``--special COL=V1,V2`` (repeatable); otherwise found by these
rules, which look at the values only, never at column names:

* low codes: 1 to 3 distinct negative whole numbers, each at least 0.5 % of the rows, while at least
  half the rows are >= 0 and take at least 3 distinct values (a count or a status that uses -1/-2
  for "not applicable");
* high codes: the largest value or two are all nines (99, 999, 9999 … or 98, 998 …), each at least
  0.5 % of the rows, and more than twice the next largest value (a "never" stored as a number).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from overdue.errors import BadInput

MIN_CODE_SHARE = 0.005
MAX_LOW_CODES = 3
MAX_HIGH_CODES = 2
MAX_DECLARED = 50
NINES = tuple(float(10**k - 1) for k in range(2, 10)) + tuple(
    float(10**k - 2) for k in range(2, 10)
)


def parse_declared(
    options: list[str], frame: pd.DataFrame, file: str
) -> dict[str, list[float | str]]:
    """``["COL=V1,V2", ...]`` → {column: [codes]}; numbers for numeric columns, text otherwise."""
    declared: dict[str, list[float | str]] = {}
    if len(options) > MAX_DECLARED:
        raise BadInput(f"--special: at most {MAX_DECLARED} options")
    for option in options:
        column, sep, raw = option.partition("=")
        column = column.strip()
        if not sep or not column or not raw.strip():
            raise BadInput(f"--special {option!r}: expected COL=V1,V2")
        if column not in frame.columns:
            raise BadInput(f"{file}: --special names unknown column {column!r}")
        texts = [v.strip() for v in raw.split(",") if v.strip()]
        codes: list[float | str] = []
        if pd.api.types.is_numeric_dtype(frame[column]):
            for text in texts:
                try:
                    codes.append(float(text))
                except ValueError:
                    raise BadInput(
                        f"--special {option!r}: {text!r} is not a number, but column {column!r} is"
                    ) from None
        else:
            codes.extend(texts)
        declared.setdefault(column, [])
        declared[column].extend(c for c in codes if c not in declared[column])
    return declared


def _low_codes(values: np.ndarray) -> list[float]:
    negative = values[values < 0]
    if len(negative) == 0 or len(negative) * 2 > len(values):
        return []
    codes, counts = np.unique(negative, return_counts=True)
    if len(codes) > MAX_LOW_CODES or not np.all(codes == np.round(codes)):
        return []
    if np.any(counts < MIN_CODE_SHARE * len(values)):
        return []
    if len(np.unique(values[values >= 0])) < 3:
        return []
    return [float(c) for c in codes]


def _high_codes(values: np.ndarray) -> list[float]:
    distinct, counts = np.unique(values, return_counts=True)
    found: list[float] = []
    while len(found) < MAX_HIGH_CODES and len(distinct) - len(found) >= 4:
        i = len(distinct) - 1 - len(found)
        if float(distinct[i]) not in NINES or counts[i] < MIN_CODE_SHARE * len(values):
            break
        found.append(float(distinct[i]))
    if not found:
        return []
    rest_max = float(distinct[len(distinct) - 1 - len(found)])
    return sorted(found) if rest_max < min(found) / 2 else []


def detect(column: pd.Series) -> list[float]:
    """Sentinel codes found in a numeric column by the rules above (sorted)."""
    values = column.to_numpy(dtype=np.float64, na_value=np.nan)
    values = values[np.isfinite(values)]
    if len(values) == 0:
        return []
    return sorted(_low_codes(values) + _high_codes(values))
