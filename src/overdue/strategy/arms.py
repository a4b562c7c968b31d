"""Champion/challenger arms and the random hold-out, by deterministic hashing of the customer id.

A customer's draw is ``u = sha256(salt | customer_id)`` read as a number in [0, 1). The hold-out
takes ``u < holdout_share``; the rest of the unit interval is cut into the arms in file order
(the champion first, then each challenger by its share). Every account of one customer therefore
lands in the same arm, and the same salt gives the same arms on every day and every machine.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Final

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

HOLDOUT: Final = "holdout"
CHAMPION: Final = "champion"
_SCALE: Final = float(2**64)
MAX_REMEMBERED: Final = 4_000_000  # draws kept between calls (a daily run hashes the same ids)
_remembered: dict[tuple[str, str], float] = {}


def _draw(prefix: bytes, cid: str) -> float:
    digest = hashlib.sha256(prefix + cid.encode()).digest()
    return int.from_bytes(digest[:8], "big") / _SCALE


def unit_draws(customer_ids: Sequence[str], salt: str) -> npt.NDArray[np.float64]:
    """One draw in [0, 1) per customer id: the first 8 bytes of sha256(salt|id) over 2**64.

    Draws are pure functions of (salt, id), so they are remembered between calls (at most
    ``MAX_REMEMBERED``; the simulator decides for the same customers every day)."""
    prefix = f"{salt}|".encode()
    known = _remembered
    if len(known) + len(customer_ids) > MAX_REMEMBERED:
        known.clear()
    out = np.empty(len(customer_ids), dtype=np.float64)
    for i, cid in enumerate(customer_ids):
        key = (salt, cid)
        draw = known.get(key)
        if draw is None:
            draw = known[key] = _draw(prefix, cid)
        out[i] = draw
    return out


def assign_arms(
    customer_ids: pa.Array | pa.ChunkedArray,
    salt: str,
    holdout_share: float,
    arms: Sequence[tuple[str, float]],
) -> pa.Array:
    """The arm of every row's customer (hashing each distinct customer once).

    ``arms`` lists (name, share) with the champion first; the shares of the arms are shares of the
    customers outside the hold-out and must sum to 1.
    """
    assert 0.0 <= holdout_share < 1.0, holdout_share
    total = sum(share for _, share in arms)
    assert arms and abs(total - 1.0) < 1e-9, f"arm shares sum to {total}, not 1"
    encoded = pc.dictionary_encode(customer_ids)
    if isinstance(encoded, pa.ChunkedArray):
        encoded = encoded.combine_chunks()
    distinct = encoded.dictionary.to_pylist()
    draws = unit_draws(distinct, salt)
    names = np.array([HOLDOUT] + [name for name, _ in arms], dtype=object)
    inside = (draws - holdout_share) / (1.0 - holdout_share)
    edges = np.cumsum([share for _, share in arms])[:-1]
    arm_index = np.searchsorted(edges, inside, side="right") + 1
    arm_index = np.where(draws < holdout_share, 0, arm_index)
    per_customer = names[arm_index]
    indices = encoded.indices.to_numpy(zero_copy_only=False)
    return pa.array(per_customer[indices], type=pa.string())
