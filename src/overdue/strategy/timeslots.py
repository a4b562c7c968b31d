"""Planned UTC instants as the customer's local time: ISO 8601 text with the offset, and the hour.

Instants and zones repeat a lot (a few send times, a few zones a day), so each distinct
(instant, zone) pair is converted once with :mod:`zoneinfo` and mapped back.
"""

from __future__ import annotations

from datetime import UTC, datetime
from functools import lru_cache
from typing import Final
from zoneinfo import ZoneInfo

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

MAX_DISTINCT: Final = 1_000_000  # distinct (instant, zone) pairs in one call


@lru_cache(maxsize=256)
def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def local_iso(instant: datetime, zone: str) -> str:
    """``2024-07-02T10:00:00+08:00`` for an aware UTC instant and an IANA zone."""
    return instant.astimezone(_zone(zone)).isoformat(timespec="seconds")


def local_times(
    utc: pa.ChunkedArray | pa.Array, zones: pa.ChunkedArray | pa.Array
) -> tuple[pa.Array, npt.NDArray[np.int64]]:
    """(local ISO 8601 strings, local hour) for each row."""
    n = len(utc)
    if n == 0:
        return pa.array([], pa.string()), np.zeros(0, dtype=np.int64)
    micros = pc.cast(utc, pa.int64()).to_numpy(zero_copy_only=False)
    zone_codes = pc.dictionary_encode(zones)
    if isinstance(zone_codes, pa.ChunkedArray):
        zone_codes = zone_codes.combine_chunks()
    zone_names = zone_codes.dictionary.to_pylist()
    zone_index = zone_codes.indices.to_numpy(zero_copy_only=False).astype(np.int64)
    pairs = np.stack([micros, zone_index], axis=1)
    distinct, inverse = np.unique(pairs, axis=0, return_inverse=True)
    assert len(distinct) <= MAX_DISTINCT
    texts, hours = [], []
    for us, zi in distinct.tolist():
        instant = datetime.fromtimestamp(us / 1_000_000, tz=UTC)
        local = instant.astimezone(_zone(zone_names[zi]))
        texts.append(local.isoformat(timespec="seconds"))
        hours.append(local.hour)
    inverse = inverse.reshape(-1)
    text = pa.array(np.array(texts, dtype=object)[inverse], pa.string())
    return text, np.array(hours, dtype=np.int64)[inverse]
