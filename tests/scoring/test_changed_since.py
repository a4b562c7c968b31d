"""The compiled change test of the daily scoring (``daily_items.changed_since``: each row
against the previous day's row at its position) equals the reference (``_changed_events`` on
the previous rows aligned by a take), for any event values, positions and missing accounts."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st

from overdue.scoring import daily_items

TEXTS = st.sampled_from(["", "current", "overdue", "M1", "M2", "M1 ", "é", "charged_off"])
NUMBERS = st.sampled_from([-1, 0, 1, 100, 2**40, -(2**40)])


def _events(draw: st.DrawFn, n: int, prefix: str) -> pa.Table:
    columns: dict[str, list] = {"account_id": [f"{prefix}{k}" for k in range(n)]}
    for name in daily_items.EVENT_SCHEMA.names[1:]:
        values = TEXTS if name in daily_items.STRING_CHANGE else NUMBERS
        columns[name] = draw(st.lists(values, min_size=n, max_size=n))
    return pa.table(columns, schema=daily_items.EVENT_SCHEMA)


@settings(max_examples=200, deadline=None)
@given(data=st.data())
def test_changed_since_is_the_aligned_comparison(data) -> None:
    now = _events(data.draw, data.draw(st.integers(0, 30)), "a")
    before = _events(data.draw, data.draw(st.integers(0, 30)), "b")
    if before.num_rows and data.draw(st.booleans()):  # some rows copied: unchanged accounts
        picks = data.draw(st.lists(st.integers(0, before.num_rows - 1), max_size=now.num_rows))
        for k, j in enumerate(picks):
            now = pa.concat_tables([now.slice(0, k), before.slice(j, 1), now.slice(k + 1)])
    at = np.asarray(data.draw(st.lists(st.integers(-1, before.num_rows - 1),
                                       min_size=now.num_rows, max_size=now.num_rows)),
                    np.int64)  # fmt: skip
    got = daily_items.changed_since(now, before, at)
    reference = daily_items._changed_events(now, daily_items._taken(before, at))
    assert got.dtype == bool
    assert got.tolist() == reference.to_pylist()
    # chunked inputs (two files' rows) give the same answer
    split = now.num_rows // 2
    chunked = pa.concat_tables([now.slice(0, split), now.slice(split)])
    assert daily_items.changed_since(chunked, before, at).tolist() == got.tolist()


def test_nulls_fall_back_to_the_reference() -> None:
    before = pa.table({"account_id": ["a", "b"], "status": ["current", None],
                       "bucket_cn": ["M0", "M0"], "paid_total_fen": [1, None],
                       "waived_total_fen": [0, 0], "overdue_before_penalty_fen": [0, 0]},
                      schema=daily_items.EVENT_SCHEMA)  # fmt: skip
    same = before.set_column(1, "status", pa.array(["current", ""]))
    same = same.set_column(3, "paid_total_fen", pa.array([1, -1]))  # nulls read as "" and -1
    moved = same.set_column(1, "status", pa.array(["current", "overdue"]))
    at = np.array([0, 1])
    for now, expected in ((same, [False, False]), (moved, [False, True])):
        got = daily_items.changed_since(now, before, at)
        assert got.tolist() == daily_items._changed_events(now, before).to_pylist() == expected
