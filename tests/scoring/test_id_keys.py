"""``id_keys``: ids of one byte width as two big-endian words keep the ids' byte order."""

from __future__ import annotations

import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st

from overdue.scoring import id_keys

WIDTH_CHARS = {1: "A09az~", 3: "一丁七万"}  # UTF-8 bytes per character


@settings(max_examples=200, deadline=None)
@given(data=st.data(), bytes_per_char=st.sampled_from(sorted(WIDTH_CHARS)), chars=st.integers(1, 5))
def test_key_order_is_byte_order(data: st.DataObject, bytes_per_char: int, chars: int) -> None:
    if bytes_per_char == 1:
        chars = data.draw(st.integers(1, 16))
    text = st.text(alphabet=WIDTH_CHARS[bytes_per_char], min_size=chars, max_size=chars)
    a, b = data.draw(st.lists(text, max_size=20)), data.draw(st.lists(text, max_size=20))
    keys = id_keys.fixed_keys(pa.array(a, pa.string()), pa.array(b, pa.string()).slice(0))
    assert keys is not None
    for i, x in enumerate(a):
        for j, y in enumerate(b):
            kx, ky = tuple(keys[0][i].tolist()), tuple(keys[1][j].tolist())
            assert (kx < ky) == (x.encode() < y.encode()) and (kx == ky) == (x == y)


def test_no_keys_for_mixed_widths_nulls_or_wide_ids() -> None:
    assert id_keys.fixed_keys(pa.array(["ab", "abc"])) is None
    assert id_keys.fixed_keys(pa.array(["ab"]), pa.array(["abc"])) is None
    assert id_keys.fixed_keys(pa.array(["ab", None])) is None
    assert id_keys.fixed_keys(pa.array(["x" * 17])) is None
    assert id_keys.fixed_keys(pa.array(["x" * 16])) is not None
    assert id_keys.fixed_keys(pa.array(["é"]), pa.array(["ab"])) is not None  # both 2 bytes


def test_run_starts_and_a_sliced_column() -> None:
    column = pa.array(["zz", "aa", "ab", "ab", "aa", "ba"]).slice(1)
    keys = id_keys.fixed_keys(column)
    assert keys is not None
    assert id_keys.run_starts(keys[0]).tolist() == [0, 3, 5]
