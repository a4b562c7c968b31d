"""Which previous scores are current (``score_eod._current``) and how many rows hold a value
(``score_eod._count``): the dictionary shortcut equals a plain comparison of the strings."""

from __future__ import annotations

from typing import Any, cast

import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st

from overdue.scoring import score_eod
from overdue.scoring.score_eod import BookModel

NAMES = ["early_warning", "collection", "retired"]
VERSIONS = ["v1", "v2", "v10"]


def _models(chosen: dict[str, str]) -> list[BookModel]:
    model = cast(Any, None)  # only the name and version are read
    target = cast(Any, None)
    return [BookModel(name, version, model, target) for name, version in chosen.items()]


def _column(values: list[str], encoded: bool, split: int) -> pa.ChunkedArray:
    """One or two chunks; dictionary-encoded (each chunk its own dictionary) or plain."""
    parts = [values[:split], values[split:]] if 0 < split < len(values) else [values]
    arrays = [pa.array(part, pa.string()) for part in parts]
    if encoded:
        arrays = [a.dictionary_encode() for a in arrays]
    return pa.chunked_array(arrays, arrays[0].type)


@settings(max_examples=150, deadline=None)
@given(
    rows=st.lists(st.tuples(st.sampled_from(NAMES), st.sampled_from(VERSIONS)), max_size=40),
    chosen=st.dictionaries(st.sampled_from(NAMES), st.sampled_from(VERSIONS), max_size=3),
    encoded=st.booleans(),
    split=st.integers(0, 40),
)
def test_current_and_count_equal_plain_comparisons(
    rows: list[tuple[str, str]], chosen: dict[str, str], encoded: bool, split: int
) -> None:
    names, versions = [r[0] for r in rows], [r[1] for r in rows]
    table = pa.table({
        "model": _column(names, encoded, split),
        "model_version": _column(versions, encoded, split),
    })  # fmt: skip
    got = score_eod._current(table, _models(chosen))
    assert got.tolist() == [chosen.get(n) == v for n, v in rows]
    for name in NAMES:
        assert score_eod._count(table["model"], name) == names.count(name)
