"""``daily_items.positions_in`` (sorted runs merged pairwise) equals ``pc.index_in``."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from hypothesis import given, settings
from hypothesis import strategies as st

from overdue.scoring import daily_items, id_keys

TEXT = st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=0x4E5F), max_size=6)
# ids of one byte width (keys without a length word) and of several (with it)
ASCII_10 = st.text(alphabet="A09az~ ", min_size=10, max_size=10)
CJK_15 = st.text(alphabet="一丁七万丈三", min_size=5, max_size=5)  # 3 bytes each
ASCII_16 = st.text(alphabet="A09", min_size=16, max_size=16)
KINDS = {"any": TEXT, "ascii": ASCII_10, "cjk": CJK_15, "widest": ASCII_16}


def _reference(ids: pa.Array, value_set: pa.Array) -> list[int]:
    return pc.index_in(ids, value_set=value_set).fill_null(-1).to_pylist()


def _runs_of(draw_lists: list[list[str]], repeats: bool = False) -> list[str]:
    """Sorted runs; with ``repeats`` a string may come several times in a run."""
    return [s for run in draw_lists for s in (sorted(run) if repeats else sorted(set(run)))]


@settings(max_examples=300, deadline=None)
@given(
    data=st.data(),
    kind=st.sampled_from(sorted(KINDS)),
    shuffled=st.booleans(),
    cut=st.integers(0, 3),
    repeats=st.booleans(),
)
def test_equals_index_in(
    data: st.DataObject, kind: str, shuffled: bool, cut: int, repeats: bool
) -> None:
    """Sorted runs (the snapshot's layout) or any order (more runs than merged: the hash),
    ids present in several runs of the value set (the first wins), ids repeated within a run
    on either side (a state table's payments), slices; ids of any width (bytes compared) or
    of one width (integer keys)."""
    runs = st.lists(st.lists(KINDS[kind], max_size=30), min_size=1, max_size=4)
    a, b = data.draw(runs), data.draw(runs)
    ids, values = _runs_of(a, repeats), _runs_of(b, repeats)
    if shuffled:
        ids = list(np.random.default_rng(len(ids)).permutation(np.array(ids, dtype=object)))
    ids_arr = pa.array(ids, pa.string()).slice(min(cut, len(ids)))
    pad = "p" * len((values or ["p"])[0].encode())  # the same width: a slice of fixed ids
    values_arr = pa.array([pad, *values], pa.string()).slice(1)
    got = daily_items.positions_in(ids_arr, values_arr)
    assert got.tolist() == _reference(ids_arr, values_arr)


def test_a_snapshot_layout_without_a_hash() -> None:
    """Replayed and resumed runs on both days, new accounts, one gone: merged, not hashed."""
    previous = [f"A{k:09d}" for k in range(0, 3000)]
    replayed = [f"A{k:09d}" for k in range(0, 3100, 7)]
    resumed = [f"A{k:09d}" for k in range(1, 3000) if k % 7 and k != 1500]
    today = pa.array(replayed + resumed)
    before = pa.array(previous[::2] + previous[1::2])
    keys = id_keys.keys(today, before)
    assert keys is not None and len(id_keys.run_starts(keys[0])) - 1 <= daily_items.MAX_RUNS
    got = daily_items.positions_in(today, before)
    assert got.tolist() == _reference(today, before)
    assert (got < 0).sum() == sum(1 for k in range(0, 3100, 7) if k >= 3000)
    empty = pa.array([], pa.string())
    assert daily_items.positions_in(empty, before).tolist() == []
    assert daily_items.positions_in(today, empty).tolist() == [-1] * len(today)
    with_null = pa.array(["A000000001", None])
    assert daily_items.positions_in(with_null, before).tolist() == _reference(with_null, before)
