"""``daily_items.positions_in`` (sorted runs merged pairwise, or looked up by binary search in
a sorted side) equals ``pc.index_in``."""

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
    shuffled=st.sampled_from(["neither", "ids", "values", "both"]),
    cut=st.integers(0, 3),
    repeats=st.booleans(),
)
def test_equals_index_in(
    data: st.DataObject, kind: str, shuffled: str, cut: int, repeats: bool
) -> None:
    """Sorted runs (the snapshot's layout) or any order on one side (a binary search in the
    other, when it is one run) or on both (more runs than merged: the hash),
    ids present in several runs of the value set (the first wins), ids repeated within a run
    on either side (a state table's payments), slices; ids of any width (bytes compared) or
    of one width (integer keys)."""
    runs = st.lists(st.lists(KINDS[kind], max_size=30), min_size=1, max_size=4)
    a, b = data.draw(runs), data.draw(runs)
    ids, values = _runs_of(a, repeats), _runs_of(b, repeats)
    rng = np.random.default_rng(len(ids) + 7 * len(values))
    if shuffled in ("ids", "both"):
        ids = list(rng.permutation(np.array(ids, dtype=object)))
    if shuffled in ("values", "both"):
        values = list(rng.permutation(np.array(values, dtype=object)))
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


def test_each_way_of_matching() -> None:
    """The merge, both binary searches and the hash give ``pc.index_in``'s positions on a
    layout that picks each (one side sorted, the other in many runs; repeated ids)."""
    sorted_ids = [f"A{k:09d}" for k in range(0, 400, 2)]
    scattered = [f"A{k:09d}" for k in np.random.default_rng(1).integers(0, 420, 300)]
    with_repeats = sorted(sorted_ids + sorted_ids[::3])
    cases = [
        (sorted_ids, with_repeats),  # one run each: the merge
        (scattered, with_repeats),  # ``ids`` scattered, the value set sorted
        (with_repeats, scattered),  # the value set scattered: the first occurrence wins
        (scattered, scattered[::-1]),  # both scattered: the hash
    ]
    for ids, values in cases:
        a, b = pa.array(ids, pa.string()), pa.array(values, pa.string())
        assert daily_items.positions_in(a, b).tolist() == _reference(a, b)
