"""Local clocks: UTC instants ↔ the customer's own wall clock, vectorised over time zones.

Offsets are looked up with ``zoneinfo`` once per distinct (zone, UTC day) — per quarter hour
on the days a zone changes its offset — and then applied
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
_MAX_DAY_CELLS: Final = 4_000_000  # (zone, UTC day) cells before falling back to sorting


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

    One lookup per distinct (zone, UTC day): where a zone has the same offset at the first and
    the last quarter hour of that day, every instant of the day gets it (no zone changes its
    offset and back within one day); the days with a change look up each distinct quarter hour
    (offsets change only on quarter hours)."""
    zones = tz if isinstance(tz, pa.Array | pa.ChunkedArray) else pa.array(tz, type=pa.string())
    encoded = pc.dictionary_encode(zones)
    if isinstance(encoded, pa.ChunkedArray):
        encoded = encoded.combine_chunks()
    names = encoded.dictionary.to_pylist()
    if utc_us.size == 0:
        return np.zeros(0, dtype=np.int64)
    zone_index = encoded.indices.to_numpy(zero_copy_only=False).astype(np.int64)
    quarters_per_day = US_PER_DAY // _QUARTER_US
    utc_day = utc_us // US_PER_DAY
    first_day = int(utc_day.min())
    n_days = int(utc_day.max()) - first_day + 1
    if n_days * len(names) > _MAX_DAY_CELLS:
        return _offsets_by_quarter(utc_us, zone_index, names)
    cell = zone_index * n_days + (utc_day - first_day)
    present = np.zeros(n_days * len(names), dtype=bool)
    present[cell] = True
    table = np.zeros(present.size, dtype=np.int64)
    mixed = np.zeros(present.size, dtype=bool)
    for key in np.flatnonzero(present).tolist():
        z, d = divmod(key, n_days)
        start = (first_day + d) * quarters_per_day
        table[key] = _offset_us(names[z], start)
        mixed[key] = _offset_us(names[z], start + quarters_per_day - 1) != table[key]
    out: npt.NDArray[np.int64] = table[cell]
    changing = mixed[cell]
    if changing.any():
        out[changing] = _offsets_by_quarter(utc_us[changing], zone_index[changing], names)
    return out


def _offsets_by_quarter(
    utc_us: npt.NDArray[np.int64], zone_index: npt.NDArray[np.int64], names: list[str]
) -> npt.NDArray[np.int64]:
    quarter = utc_us // _QUARTER_US
    keys = quarter * len(names) + zone_index
    distinct, inverse = np.unique(keys, return_inverse=True)
    values = np.empty(distinct.size, dtype=np.int64)
    for i, key in enumerate(distinct.tolist()):
        q, z = divmod(key, len(names))
        values[i] = _offset_us(names[z], q)
    out: npt.NDArray[np.int64] = values[inverse]
    return out


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
