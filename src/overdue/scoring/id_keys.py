"""Account ids of one byte width as integer keys, for the daily scoring's merges.

An id of at most ``MAX_WIDTH`` bytes packs big-endian into two unsigned 64-bit words (the
first eight bytes, then the rest), so when every id has the same width the words' order is
the ids' byte order (UTF-8 byte order is code point order: Arrow's order of strings). Merging
sorted runs of keys compares two integers where the byte form compared up to a dozen bytes a
step (``daily_items.positions_in``, ``daily_items.merged_order`` use these first and keep the
byte form for ids of mixed widths).
"""

from __future__ import annotations

import numba
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

MAX_WIDTH = 16  # bytes: two 64-bit words


def buffers(column: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """A string array's offsets (int64, rebased at 0) and bytes."""
    column = pc.cast(column, pa.large_string())
    offsets = np.frombuffer(column.buffers()[1], np.int64)[column.offset :][: len(column) + 1]
    data = np.frombuffer(column.buffers()[2], np.uint8) if len(column) else np.zeros(0, np.uint8)
    return offsets - offsets[0] if len(offsets) else np.zeros(1, np.int64), data[offsets[0] :]


def fixed_keys(*columns: pa.Array) -> list[np.ndarray] | None:
    """Per column, its ids as keys (n × 2 uint64: bytes 0-7 big-endian in word 0, bytes 8-15
    in word 1, zeros past the last byte), when no id is null and every id of every column has
    the same width of 1..``MAX_WIDTH`` bytes; else None."""
    widths: set[int] = set()
    parts = []
    for column in columns:
        if column.null_count:
            return None
        offsets, data = buffers(column)
        lengths = np.diff(offsets)
        if len(lengths):
            widths.add(int(lengths[0]))
            if not (lengths == lengths[0]).all():
                return None
        parts.append((len(lengths), data))
    width = next(iter(widths), 1)
    if len(widths) > 1 or not 0 < width <= MAX_WIDTH:
        return None
    return [_pack(data, n, width) for n, data in parts]


@numba.njit(cache=True, nogil=True)
def _pack(data: np.ndarray, n: int, width: int) -> np.ndarray:
    """``n`` ids of ``width`` bytes back to back in ``data`` as ``fixed_keys``'s words."""
    keys = np.zeros((n, 2), np.uint64)
    head = min(width, 8)
    for i in range(n):
        start = i * width
        word = np.uint64(0)
        for k in range(head):
            word = (word << np.uint64(8)) | np.uint64(data[start + k])
        keys[i, 0] = word << np.uint64(8 * (8 - head))
        if width > head:  # (a shift by 64 bits is undefined)
            word = np.uint64(0)
            for k in range(head, width):
                word = (word << np.uint64(8)) | np.uint64(data[start + k])
            keys[i, 1] = word << np.uint64(8 * (8 - (width - head)))
    return keys


@numba.njit(cache=True, inline="always")
def _cmp(a: np.ndarray, i: int, b: np.ndarray, j: int) -> int:
    """-1, 0 or 1: key ``a[i]`` against key ``b[j]``."""
    if a[i, 0] != b[j, 0]:
        return -1 if a[i, 0] < b[j, 0] else 1
    if a[i, 1] != b[j, 1]:
        return -1 if a[i, 1] < b[j, 1] else 1
    return 0


def run_starts(keys: np.ndarray) -> np.ndarray:
    """Where each run of non-decreasing keys starts, and the end (``len(keys)``)."""
    hi, lo = keys[:, 0], keys[:, 1]
    down = (hi[1:] < hi[:-1]) | ((hi[1:] == hi[:-1]) & (lo[1:] < lo[:-1]))
    return np.concatenate([[0], np.flatnonzero(down) + 1, [len(keys)]]).astype(np.int64)


@numba.njit(cache=True, nogil=True)
def merge_runs(
    a: np.ndarray, a_runs: np.ndarray, b: np.ndarray, b_runs: np.ndarray, out: np.ndarray
) -> None:
    """``out[i]``: the first position of key ``a[i]`` in ``b`` (left at -1 when absent), by
    merging every sorted run of ``a`` with every sorted run of ``b`` (``b``'s in order, so the
    first occurrence wins; a match leaves ``j`` in place, so a key repeated in ``a`` matches
    again)."""
    for r in range(len(a_runs) - 1):
        for q in range(len(b_runs) - 1):
            i, j = a_runs[r], b_runs[q]
            while i < a_runs[r + 1] and j < b_runs[q + 1]:
                c = _cmp(a, i, b, j)
                if c == 0:
                    if out[i] < 0:
                        out[i] = j
                    i += 1
                elif c < 0:
                    i += 1
                else:
                    j += 1


@numba.njit(cache=True, inline="always")
def _code_cmp(ca: np.ndarray, a: np.ndarray, i: int, cb: np.ndarray, b: np.ndarray, j: int) -> int:
    if ca[i] != cb[j]:
        return -1 if ca[i] < cb[j] else 1
    return _cmp(a, i, b, j)


@numba.njit(cache=True, nogil=True)
def in_code_order(codes: np.ndarray, keys: np.ndarray) -> bool:
    """Whether the rows are in (code, key) order."""
    for k in range(1, len(codes)):  # noqa: SIM110 (a plain loop compiles best)
        if _code_cmp(codes, keys, k - 1, codes, keys, k) > 0:
            return False
    return True


@numba.njit(cache=True, nogil=True)
def merge_code_order(
    ca: np.ndarray, a: np.ndarray, cb: np.ndarray, b: np.ndarray, out: np.ndarray
) -> None:
    """Positions into ``a`` then ``b`` (``b``'s shifted by ``len(a)``) in (code, key) order,
    ``a`` first on ties (a stable sort of ``a`` + ``b``); both sides already in that order."""
    i, j, k, na, nb = 0, 0, 0, len(ca), len(cb)
    while i < na and j < nb:
        if _code_cmp(ca, a, i, cb, b, j) <= 0:
            out[k] = i
            i += 1
        else:
            out[k] = na + j
            j += 1
        k += 1
    while i < na:
        out[k] = i
        i += 1
        k += 1
    while j < nb:
        out[k] = na + j
        j += 1
        k += 1
