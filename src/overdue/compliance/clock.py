"""Local clocks: UTC instants ↔ the customer's own wall clock, vectorised over time zones.

Offsets are looked up with ``zoneinfo`` once per distinct (zone, quarter hour) and then applied
to every row with numpy, so daylight-saving changes are honoured without a per-row call.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from typing import Final
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

US_PER_MINUTE: Final = 60_000_000
US_PER_DAY: Final = 86_400_000_000
_QUARTER_US: Final = 15 * US_PER_MINUTE
_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)


@lru_cache(maxsize=1024)
def zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {name!r}") from None


@lru_cache(maxsize=200_000)
def _offset_us(tz_name: str, quarter: int) -> int:
    instant = _EPOCH + timedelta(microseconds=quarter * _QUARTER_US)
    offset = instant.astimezone(zone(tz_name)).utcoffset()
    assert offset is not None
    return int(offset.total_seconds()) * 1_000_000


def utc_offsets_us(
    utc_us: npt.NDArray[np.int64], tz: npt.NDArray[np.object_] | pa.Array | pa.ChunkedArray
) -> npt.NDArray[np.int64]:
    """The UTC offset (µs) of each zone at each instant.

    Offsets change only on quarter hours, so one lookup per distinct (zone, quarter hour)."""
    zones = tz if isinstance(tz, pa.Array | pa.ChunkedArray) else pa.array(tz, type=pa.string())
    encoded = pc.dictionary_encode(zones)
    if isinstance(encoded, pa.ChunkedArray):
        encoded = encoded.combine_chunks()
    names = encoded.dictionary.to_pylist()
    zone_index = encoded.indices.to_numpy(zero_copy_only=False).astype(np.int64)
    quarter = utc_us // _QUARTER_US
    keys = quarter * len(names) + zone_index
    distinct, inverse = np.unique(keys, return_inverse=True)
    values = np.empty(distinct.size, dtype=np.int64)
    for i, key in enumerate(distinct.tolist()):
        q, z = divmod(key, len(names))
        values[i] = _offset_us(names[z], q)
    return values[inverse]


def local_parts(
    utc_us: npt.NDArray[np.int64], tz: npt.NDArray[np.object_] | pa.Array | pa.ChunkedArray
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """(local day number since 1970-01-01, local minute of the day) of each instant."""
    local = utc_us + utc_offsets_us(utc_us, tz)
    return local // US_PER_DAY, (local % US_PER_DAY) // US_PER_MINUTE


def utc_for_local(day: date, minute: int, tz_name: str) -> int:
    """The UTC instant (µs since epoch) of local wall-clock ``minute`` on ``day`` in the zone.

    A time that does not exist (spring forward) moves forward by the gap; an ambiguous one
    (fall back) takes the first occurrence (``fold=0``)."""
    assert 0 <= minute < 24 * 60, minute
    wall = datetime(day.year, day.month, day.day, minute // 60, minute % 60, tzinfo=zone(tz_name))
    instant = wall.astimezone(UTC)  # zoneinfo reads a missing time with the offset before it
    return (instant - _EPOCH) // timedelta(microseconds=1)
