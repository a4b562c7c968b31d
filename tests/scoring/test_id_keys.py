"""``id_keys``: ids as big-endian words (and a length word when their widths differ) keep
the ids' byte order."""

from __future__ import annotations

import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st

from overdue.scoring import id_keys

TEXT = st.text(alphabet=st.characters(min_codepoint=0, max_codepoint=0x4E5F), max_size=20)
FIXED = {1: "A09az~", 3: "一丁七万"}  # UTF-8 bytes per character


def _same_order(a: list[str], b: list[str]) -> None:
    keys = id_keys.keys(pa.array(a, pa.string()), pa.array(["pad", *b], pa.string()).slice(1))
    assert keys is not None
    for i, x in enumerate(a):
        for j, y in enumerate(b):
            kx, ky = tuple(keys[0][i].tolist()), tuple(keys[1][j].tolist())
            assert (kx < ky) == (x.encode() < y.encode()) and (kx == ky) == (x == y)


@settings(max_examples=200, deadline=None)
@given(a=st.lists(TEXT, max_size=20), b=st.lists(TEXT, max_size=20))
def test_key_order_is_byte_order(a: list[str], b: list[str]) -> None:
    """Any widths (NUL bytes, prefixes of one another, the empty id)."""
    _same_order(a, b)


@settings(max_examples=100, deadline=None)
@given(data=st.data(), bytes_per_char=st.sampled_from(sorted(FIXED)), chars=st.integers(0, 12))
def test_key_order_for_one_width(data: st.DataObject, bytes_per_char: int, chars: int) -> None:
    """Ids of one width: no length word."""
    text = st.text(alphabet=FIXED[bytes_per_char], min_size=chars, max_size=chars)
    a, b = data.draw(st.lists(text, max_size=20)), data.draw(st.lists(text, max_size=20))
    _same_order(a, b)
    keys = id_keys.keys(pa.array(a, pa.string()), pa.array(b, pa.string()))
    words = max(1, (chars * bytes_per_char + 7) // 8) if a or b else 1
    assert keys is not None and keys[0].shape[1] == words


def test_prefixes_and_nul_bytes_differ() -> None:
    ids = ["ab", "ab\x00", "ab\x00\x00", "a", "", "ab\x00c"]
    _same_order(ids, ids)


def test_no_keys_for_nulls_or_long_ids() -> None:
    assert id_keys.keys(pa.array(["ab", None])) is None
    assert id_keys.keys(pa.array(["x" * 129])) is None
    assert id_keys.keys(pa.array(["x" * 128])) is not None  # 16 words, one width
    assert id_keys.keys(pa.array(["x" * 120, "x"])) is not None  # 15 words and the length
    assert id_keys.keys(pa.array(["x" * 121, "x"])) is None


def test_run_starts_and_a_sliced_column() -> None:
    column = pa.array(["zz", "aa", "ab", "ab", "aa", "b"]).slice(1)
    keys = id_keys.keys(column)
    assert keys is not None
    assert id_keys.run_starts(keys[0]).tolist() == [0, 3, 5]
