"""``fast_ledger.sort_rows``: a stable sort of a segment by two keys, on rows or, through a
transposed view, on columns (the items matrix keeps one column per item)."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from overdue.portfolio import fast_ledger as fl

ROWS = st.lists(st.tuples(st.integers(0, 3), st.integers(0, 3)), max_size=2 * fl.SMALL_SORT + 5)


def _expected(keys: list[tuple[int, int]], lo: int, hi: int) -> list[int]:
    """Row numbers (the third field) after a stable sort of ``lo:hi`` by the two keys."""
    order = list(range(len(keys)))
    order[lo:hi] = sorted(range(lo, hi), key=lambda r: keys[r])
    return order


@settings(max_examples=150, deadline=None)
@given(keys=ROWS, data=st.data(), transposed=st.booleans())
def test_a_segment_sorted_stably_by_two_keys(keys, data, transposed: bool) -> None:
    lo = data.draw(st.integers(0, len(keys)))
    hi = data.draw(st.integers(lo, len(keys)))
    m = np.array([[k1, k2, r] for r, (k1, k2) in enumerate(keys)], np.int64).reshape(-1, 3)
    if transposed:  # one column per entry, as the items matrix
        columns = np.ascontiguousarray(m.T)
        fl.sort_rows(columns.T, lo, hi, 0, 1)
        got = columns[2].tolist()
    else:
        fl.sort_rows(m, lo, hi, 0, 1)
        got = m[:, 2].tolist()
    assert got == _expected(keys, lo, hi)
