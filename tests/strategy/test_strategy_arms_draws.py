"""The remembered arm draws equal freshly hashed ones (sha256(salt|id), first 8 bytes / 2**64)."""

from __future__ import annotations

import hashlib

from hypothesis import given, settings
from hypothesis import strategies as st

from overdue.strategy import arms


def _fresh(ids: list[str], salt: str) -> list[float]:
    return [
        int.from_bytes(hashlib.sha256(f"{salt}|{c}".encode()).digest()[:8], "big") / 2**64
        for c in ids
    ]


@settings(max_examples=100, deadline=None)
@given(ids=st.lists(st.text(max_size=10), max_size=30), salt=st.sampled_from(["a", "b", "x|y"]))
def test_remembered_draws_equal_fresh_ones(ids: list[str], salt: str) -> None:
    first = arms.unit_draws(ids, salt).tolist()
    again = arms.unit_draws(list(reversed(ids)), salt).tolist()
    assert first == _fresh(ids, salt)
    assert again == list(reversed(first))


def test_the_memory_is_bounded() -> None:
    arms.unit_draws([f"C{i}" for i in range(10)], "bounded")
    assert len(arms._remembered) <= arms.MAX_REMEMBERED
