"""The window-entry spread (``spread_days``): each account's warning window opens 0..S days
early by a stable hash of its id, so accounts sharing a due date take their entry score over
S + 1 days; S = 0 is the plain rule."""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import pandas as pd
import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st

from overdue.scoring.score_eod import MAX_SCORE_AGE_DAYS, needs_fresh_score, spread_offsets

IDS = st.text(alphabet=st.characters(min_codepoint=33, max_codepoint=0x4E5F), min_size=1,
              max_size=14)  # fmt: skip


def _flags(ids: list[str], due: list[date | None], as_of: date, warning_days: int) -> pd.DataFrame:
    dues = pd.to_datetime(pd.Series(due, dtype="object"))
    soon = [d is not None and as_of < d <= as_of + timedelta(days=warning_days) for d in due]
    return pd.DataFrame({"account_id": ids, "next_due_date": dues, "due_soon": soon,
                         "new_delinquent": [False] * len(ids), "changed": [False] * len(ids)})  # fmt: skip


@settings(max_examples=150, deadline=None)
@given(
    account=IDS,
    due=st.dates(date(2023, 1, 1), date(2030, 12, 31)),
    warning_days=st.integers(1, 10),
    spread_days=st.integers(0, 5),
)
def test_scored_on_its_own_opening_day_once(
    account: str, due: date, warning_days: int, spread_days: int
) -> None:
    """Scored every day until the day before (so never stale), an account with a due date
    gets a window-entry score on exactly one day: its window's opening day, ``due -
    warning_days - h`` with h in 0..S."""
    h = int(spread_offsets(pa.array([account]), spread_days)[0])
    assert 0 <= h <= spread_days
    opening = due - timedelta(days=warning_days + h)
    fresh_days = []
    for back in range(warning_days + spread_days + 3, 0, -1):
        as_of = due - timedelta(days=back)
        flags = _flags([account], [due], as_of, warning_days)
        yesterday = np.array([as_of - timedelta(days=1)], dtype="datetime64[D]")
        got = needs_fresh_score(flags, pa.array([account]), pa.array([account]), yesterday,
                                as_of, warning_days, spread_days=spread_days)  # fmt: skip
        if got[0]:
            fresh_days.append(as_of)
    assert fresh_days == [opening]


@settings(max_examples=60, deadline=None)
@given(
    accounts=st.lists(IDS, min_size=1, max_size=30, unique=True),
    offsets=st.lists(st.integers(-3, 20), min_size=30, max_size=30),
    ages=st.lists(st.integers(0, MAX_SCORE_AGE_DAYS + 3), min_size=30, max_size=30),
    warning_days=st.integers(0, 10),
    spread_days=st.integers(0, 4),
)
def test_spread_only_moves_window_entry_earlier(
    accounts: list[str], offsets: list[int], ages: list[int], warning_days: int, spread_days: int
) -> None:
    """Any account fresh by the plain rule is fresh with a spread, except one whose spread
    window opened earlier and was scored since; S = 0 is the plain rule exactly."""
    as_of = date(2024, 12, 3)
    n = len(accounts)
    due: list[date | None] = [as_of + timedelta(days=o) if o > 0 else None for o in offsets[:n]]
    flags = _flags(accounts, due, as_of, warning_days)
    ids = pa.array(accounts, pa.string())
    scored_on = np.array([as_of - timedelta(days=a) for a in ages[:n]], dtype="datetime64[D]")
    plain = needs_fresh_score(flags, ids, ids, scored_on, as_of, warning_days)
    zero = needs_fresh_score(flags, ids, ids, scored_on, as_of, warning_days, spread_days=0)
    spread = needs_fresh_score(flags, ids, ids, scored_on, as_of, warning_days,
                               spread_days=spread_days)  # fmt: skip
    assert list(zero) == list(plain)
    h = spread_offsets(ids, spread_days)
    for k in range(n):
        if due[k] is None:
            assert spread[k] == plain[k]
            continue
        opened = np.datetime64(due[k] - timedelta(days=warning_days + int(h[k])), "D")
        if plain[k] and not spread[k]:  # only: entered by the plain rule, scored in its own window
            assert scored_on[k] >= opened
        if spread[k] and not plain[k]:  # only: its own window opened, not scored since
            assert opened <= np.datetime64(as_of, "D") and scored_on[k] < opened


def test_offsets_are_stable_and_level() -> None:
    ids = pa.array([f"A{k:09d}" for k in range(1, 40_001)])
    h = spread_offsets(ids, 3)
    assert h.min() == 0 and h.max() == 3
    assert (np.abs(np.bincount(h) - 10_000) < 400).all(), np.bincount(h)
    # the same offsets for a slice, a chunked array and ids of mixed lengths
    assert list(spread_offsets(ids.slice(7, 9), 3)) == list(h[7:16])
    chunked = pa.chunked_array([ids.slice(0, 5), ids.slice(5, 6)])
    assert list(spread_offsets(chunked, 3)) == list(h[:11])
    mixed = pa.array(["A000000001", "B7", "A000000002"])
    assert list(spread_offsets(mixed, 3)[[0, 2]]) == list(h[:2])
    # pinned: a change of the hash moves every account's entry day
    assert list(h[:8]) == [0, 3, 2, 2, 3, 0, 3, 0]
    assert list(spread_offsets(ids[:3], 0)) == [0, 0, 0]
