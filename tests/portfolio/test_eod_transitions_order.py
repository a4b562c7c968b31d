"""The transitions file skips its sort only when the rows are already in key order."""

from __future__ import annotations

from datetime import date, timedelta
from itertools import pairwise

import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st

from overdue.portfolio.snapshot_items import TRANSITION_ORDER, KeyOrder, in_key_order

rows = st.lists(
    st.tuples(
        st.sampled_from(["A1", "A2", "B1"]),
        st.integers(0, 3),
        st.sampled_from(["cn", "us"]),
        st.integers(0, 5),
    ),
    max_size=12,
)


def _table(values: list[tuple[str, int, str, int]]) -> pa.Table:
    return pa.table(
        {
            "account_id": pa.array([v[0] for v in values], pa.string()),
            "on": pa.array([date(2025, 1, 1) + timedelta(days=v[1]) for v in values], pa.date32()),
            "scheme": pa.array([v[2] for v in values], pa.string()),
            "dpd": pa.array([v[3] for v in values], pa.int32()),
        }
    )


@settings(deadline=None)  # shared, loaded machine
@given(rows)
def test_in_key_order_exactly_when_sorting_changes_nothing(values: list) -> None:
    table = _table(values)
    keys = [(v[0], v[1], v[2]) for v in values]
    assert in_key_order(table) == (keys == sorted(keys))
    if in_key_order(table):
        assert table.sort_by(list(TRANSITION_ORDER)).equals(table)


@settings(deadline=None)  # shared, loaded machine
@given(rows)
def test_sorted_rows_arein_key_order(values: list) -> None:
    table = _table(values).sort_by(list(TRANSITION_ORDER))
    assert in_key_order(table)


def test_a_null_key_is_never_taken_as_ordered() -> None:
    table = _table([("A1", 0, "cn", 1), ("A2", 1, "us", 2)])
    table = table.set_column(0, "account_id", pa.array(["A1", None], pa.string()))
    assert not in_key_order(table)


@settings(deadline=None)  # shared, loaded machine
@given(rows, st.lists(st.integers(0, 12), max_size=4))
def test_key_order_over_pieces_is_the_order_of_the_whole(values: list, cuts: list[int]) -> None:
    """The batch checks the order of its transition rows batch by batch (``KeyOrder``): the
    answer is the whole table's, wherever the batches are cut."""
    table = _table(values)
    bounds = sorted({0, table.num_rows, *(min(c, table.num_rows) for c in cuts)})
    order = KeyOrder()
    for lo, hi in pairwise(bounds):
        order.add(table.slice(lo, hi - lo))
    assert order.ordered == in_key_order(table)
