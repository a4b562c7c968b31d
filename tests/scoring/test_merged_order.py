"""``daily_items.merged_order`` (two tables each in (code, id) order merged) equals a stable
sort of the two concatenated, and declines sides that are not in order."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st

from overdue.scoring import daily_items

TEXT = st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=0x4E5F), max_size=5)
ROWS = st.lists(st.tuples(st.integers(0, 2), TEXT), max_size=40)


def _key(row: tuple[int, str]) -> tuple[int, bytes]:
    return row[0], row[1].encode()  # byte order (UTF-8), as the Arrow sort


# ids of one byte width: compared as integer keys (``id_keys``)
ASCII_ROWS = st.lists(st.tuples(st.integers(0, 2), st.text(alphabet="A09z", min_size=6,
                                                          max_size=6)), max_size=40)  # fmt: skip


@settings(max_examples=300, deadline=None)
@given(data=st.data(), rows=st.sampled_from([ROWS, ASCII_ROWS]), sort_a=st.booleans(),
       sort_b=st.booleans())  # fmt: skip
def test_equals_a_stable_sort(data: st.DataObject, rows, sort_a: bool, sort_b: bool) -> None:
    a, b = data.draw(rows), data.draw(rows)
    a = sorted(a, key=_key) if sort_a else a
    b = sorted(b, key=_key) if sort_b else b
    got = daily_items.merged_order(
        np.array([c for c, _ in a], np.int64), pa.array([s for _, s in a], pa.string()),
        np.array([c for c, _ in b], np.int64), pa.array([s for _, s in b], pa.string()),
    )  # fmt: skip
    both = [*a, *b]
    in_order = a == sorted(a, key=_key) and b == sorted(b, key=_key)
    if not in_order:
        assert got is None
        return
    assert got is not None
    expected = sorted(range(len(both)), key=lambda k: _key(both[k]))  # stable
    assert got.tolist() == expected


@settings(max_examples=100, deadline=None)
@given(fresh=ROWS, carried=ROWS, sort_carried=st.booleans(), encoded=st.booleans(),
       dropped=st.sets(st.integers(0, 40)))  # fmt: skip
def test_scores_in_order_equal_a_full_sort(
    fresh, carried, sort_carried: bool, encoded: bool, dropped: set[int]
) -> None:
    """The daily write's order (fresh rows sorted, merged into the carried ones: the previous
    rows not ``dropped``) is the full sort's, whether or not the carried rows come in order,
    and whether the carried rows' model column is dictionary-encoded (as the scores' Arrow
    copy keeps it: then so is the result's)."""
    from overdue.scoring.score_eod import SCORE_ORDER, _in_score_order, _recoded

    models = ["early_warning", "collection", "z"]
    carried = sorted(carried, key=lambda r: (models[r[0]], r[1].encode())) if sort_carried else carried

    def table(rows: list[tuple[int, str]], first: int) -> pa.Table:
        return pa.table({"account_id": pa.array([s for _, s in rows], pa.string()),
                         "model": pa.array([models[c] for c, _ in rows], pa.string()),
                         "row": pa.array(range(first, first + len(rows)), pa.int64())})  # fmt: skip

    f, c = table(fresh, 0), table(carried, len(fresh))
    kept = np.array([k for k in range(len(carried)) if k not in dropped], np.int64)
    expected = pa.concat_tables([f, c.take(pa.array(kept, pa.int64()))]).sort_by(SCORE_ORDER)
    got = _in_score_order(f, _recoded(c, True) if encoded else c, kept)
    assert pa.types.is_dictionary(got.schema.field("model").type) == encoded
    assert _recoded(got, False).equals(expected)
