"""Account ids as integer keys, for the daily scoring's merges of sorted runs.

An id's bytes pack big-endian into unsigned 64-bit words, zeros after its last byte, and, when
the ids do not all have one width, a last word holds the id's length. Compared word by word,
the keys are in the ids' byte order (UTF-8 byte order is code point order: Arrow's order of
strings): a shorter id that is a prefix of a longer one pads with zeros and is then told apart
by its length. Merging sorted runs of keys compares a word or two where comparing strings
walked their bytes one at a time (``daily_items.positions_in``, ``daily_items.merged_order``).
"""

from __future__ import annotations

import numba
import numpy as np
import pyarrow as pa

from overdue.portfolio.fast_inputs import string_buffers

MAX_WORDS = 16  # words per key: ids of one width up to 128 bytes, of several up to 120


def keys(*columns: pa.Array) -> list[np.ndarray] | None:
    """Per column, its ids as keys (rows × words uint64, the same words for every column), or
    None when an id is null or the keys would take more than ``MAX_WORDS`` words."""
    if any(column.null_count for column in columns):
        return None
    parts = [string_buffers(column) for column in columns]
    lengths = [np.diff(offsets) for offsets, _data in parts]
    longest = max((int(each.max()) for each in lengths if len(each)), default=0)
    widths = {int(w) for each in lengths if len(each) for w in (each.min(), each.max())}
    with_length = len(widths) > 1
    words = max(1, (longest + 7) // 8) + int(with_length)
    if words > MAX_WORDS:
        return None
    if not with_length:  # one width: the bytes as a matrix, no loop per byte
        return [_pack_fixed(offsets, data, longest, words) for offsets, data in parts]
    return [_pack(offsets, data, words, with_length) for offsets, data in parts]


def _pack_fixed(offsets: np.ndarray, data: np.ndarray, width: int, words: int) -> np.ndarray:
    """``_pack`` for ids of ``width`` bytes each: rows of bytes, zero-padded to whole words,
    read as big-endian words."""
    n = len(offsets) - 1
    assert n == 0 or int(offsets[-1] - offsets[0]) == n * width, "ids of another width"
    padded = np.zeros((n, 8 * words), np.uint8)
    if n and width:
        padded[:, :width] = data[offsets[0] : offsets[0] + n * width].reshape(n, width)
    return padded.view(">u8").astype(np.uint64)


@numba.njit(cache=True, nogil=True)
def _pack(offsets: np.ndarray, data: np.ndarray, words: int, with_length: bool) -> np.ndarray:
    """Each id's bytes (``data[offsets[i]:offsets[i + 1]]``) big-endian in ``words`` words
    (zeros after its last byte); with ``with_length``, its length in the last word."""
    n = len(offsets) - 1
    out = np.zeros((n, words), np.uint64)
    for i in range(n):
        start, size = offsets[i], offsets[i + 1] - offsets[i]
        for k in range(size):
            out[i, k // 8] |= np.uint64(data[start + k]) << np.uint64(8 * (7 - k % 8))
        if with_length:
            out[i, words - 1] = size
    return out


@numba.njit(cache=True, inline="always")
def _cmp(a: np.ndarray, i: int, b: np.ndarray, j: int) -> int:
    """-1, 0 or 1: key ``a[i]`` against key ``b[j]`` (word by word)."""
    for w in range(a.shape[1]):
        if a[i, w] != b[j, w]:
            return -1 if a[i, w] < b[j, w] else 1
    return 0


@numba.njit(cache=True, nogil=True)
def run_starts(keys: np.ndarray) -> np.ndarray:
    """Where each run of non-decreasing keys starts, and the end (``len(keys)``)."""
    n = keys.shape[0]
    out = np.empty(n + 2, np.int64)
    out[0], found = 0, 1
    for i in range(1, n):
        if _cmp(keys, i - 1, keys, i) > 0:
            out[found] = i
            found += 1
    out[found] = n
    return out[: found + 1].copy()


@numba.njit(cache=True, inline="always")
def _lower_bound(b: np.ndarray, a: np.ndarray, i: int) -> int:
    """The first position of ``b`` (sorted) whose key is not below key ``a[i]``."""
    lo, hi = 0, b.shape[0]
    while lo < hi:
        mid = (lo + hi) >> 1
        if _cmp(b, mid, a, i) < 0:
            lo = mid + 1
        else:
            hi = mid
    return lo


@numba.njit(cache=True, nogil=True)
def search_sorted(a: np.ndarray, b: np.ndarray, out: np.ndarray) -> None:
    """``out[i]``: the first position of key ``a[i]`` in ``b``, one sorted run (left at -1 when
    absent), by binary search: ``a`` in any order."""
    for i in range(a.shape[0]):
        j = _lower_bound(b, a, i)
        if j < b.shape[0] and _cmp(b, j, a, i) == 0:
            out[i] = j


@numba.njit(cache=True, nogil=True)
def search_into_sorted(a: np.ndarray, b: np.ndarray, out: np.ndarray) -> None:
    """``search_sorted``'s ``out`` when ``a`` is the sorted run and ``b`` is in any order: each
    ``b[j]``, in order, looked up in ``a`` and given to the equal keys there not yet matched
    (an earlier ``j`` matched all of them: the first occurrence wins)."""
    for j in range(b.shape[0]):
        i = _lower_bound(a, b, j)
        while i < a.shape[0] and out[i] < 0 and _cmp(a, i, b, j) == 0:
            out[i] = j
            i += 1


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
