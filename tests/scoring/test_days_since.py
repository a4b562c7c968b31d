"""``features._days_since`` (days from a column of dates to one day) equals ``features._days``
of a column holding that day on every row, the form ``finish`` used before."""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from overdue.scoring.features import _days, _days_since

DATES = st.one_of(st.none(), st.dates(date(1990, 1, 1), date(2040, 12, 31)))


@settings(max_examples=200, deadline=None)
@given(day=st.dates(date(2000, 1, 1), date(2035, 12, 31)), values=st.lists(DATES, max_size=30),
       as_objects=st.booleans())  # fmt: skip
def test_days_since_equals_days_of_a_constant_column(
    day: date, values: list[date | None], as_objects: bool
) -> None:
    """Dates as Python objects (Spark's rows) or as datetime64 (the daily path), with gaps."""
    column = pd.Series(values, dtype="object")
    if not as_objects:
        column = pd.to_datetime(column)
    expected = _days(pd.Series([day] * len(column)), column)
    got = _days_since(day, column)
    np.testing.assert_array_equal(got, expected)  # NaN where either is NaN
    assert got.dtype == np.float64


def test_days_since_counts_calendar_days() -> None:
    day = date(2024, 3, 1)
    got = _days_since(day, pd.Series([day - timedelta(days=29), day, None, day + timedelta(days=1)]))
    assert got[0] == 29.0 and got[1] == 0.0 and np.isnan(got[2]) and got[3] == -1.0
