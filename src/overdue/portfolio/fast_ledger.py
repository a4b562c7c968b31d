"""The compiled end-of-day ledger: ``overdue.domain.engine`` ported to integer fen under numba.

This is a literal port of ``AccountLedger.advance`` (event-driven: the full day routine on
eventful days, a fast-forward over quiet stretches) and ``ledger_state``, over every account of
an Arrow batch at once. Money is int64 fen; the daily penalty is ``round_half_up(base × rate)``
with the policy's rate as an exact reduced fraction ``num / den``, computed as
``(2·base·num + den) // (2·den)``. Each account is first proved free of int64 overflow
(``within_bounds``); one that cannot be, that ``fast_inputs`` flagged, or that breaks an
assertion of the engine here is marked ``O_FAIL`` and the caller (``fast_kernel``) runs it
through the Python reference kernel instead.

Layouts (all int64, one row per record, column indexes below; ``items`` transposed):
- ``items``: one column per item and one row per field (``ITEM_COLS`` × items: the output's
  columns as they are, no transpose); per account a contiguous segment of columns
  ``item_off[a]:item_off[a+1]`` (previous-snapshot items first, then the new ones); this module
  sorts each segment by (due date, seq) and updates the state rows in place: it is the output
  item state.
- ``pays`` / ``waivers`` / ``revs``: per account segments, sorted here by (date, entry seq).
- ``accts``: the resume state and flags; ``policies``: one row per policy; ``out``: the figures.
"""

from __future__ import annotations

import os
from typing import Any


def _writable(folder: str) -> bool:
    try:
        os.makedirs(folder, exist_ok=True)
    except OSError:
        return False
    return os.access(folder, os.W_OK | os.X_OK)


def _default_cache_dir() -> str:
    """The user's cache folder, or a private temporary one where that is not writable."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    folder = os.path.join(base, "overdue", "numba")
    if _writable(folder):
        return folder
    import tempfile

    uid = os.getuid() if hasattr(os, "getuid") else "user"
    return os.path.join(tempfile.gettempdir(), f"overdue-numba-{uid}")


# Compiled code is cached outside the package (which may be read-only), and in a folder that can
# be written (numba refuses to compile a cached function otherwise): set before numba loads.
if "NUMBA_CACHE_DIR" not in os.environ:
    os.environ["NUMBA_CACHE_DIR"] = _default_cache_dir()

import numpy as np  # noqa: E402
from numba import njit, types  # noqa: E402
from numba.core import cgutils  # noqa: E402
from numba.extending import intrinsic  # noqa: E402

from overdue.domain.engine import MAX_HISTORY_DAYS  # noqa: E402  (the bound on eventful days)

NO_DAY = -(1 << 40)  # a null date
SMALL_SORT = 32  # segments up to this size are insertion-sorted, larger ones merge-sorted

# items (rows of the transposed matrix): the input fields, then the ledger state (unpaid
# components in COMPONENTS order)
I_DUE, I_SEQ, I_PRIN, I_INT, I_FEE, I_MIN, I_SRC = 0, 1, 2, 3, 4, 5, 6
U_FEE, U_PEN, U_INT, U_PRIN = 7, 8, 9, 10
I_PROV, I_ACCR, I_PDAYS, I_PAID, I_WAIVED, I_LATE, I_CLOSED, I_REVOLVED = range(11, 19)
I_HASH = 19
ITEM_COLS = 20
U0 = U_FEE  # unpaid column of component c is U0 + c (fee 0, penalty 1, interest 2, principal 3)

# payments, reversals, waivers
P_DATE, P_AMOUNT, P_SEQ, P_KEPT, P_SRC = 0, 1, 2, 3, 4
PAY_COLS = 5
R_DATE, R_SRC = 0, 1
REV_COLS = 2
W_DATE, W_COMP, W_AMOUNT, W_SEQ = 0, 1, 2, 3
WAIVER_COLS = 4

# accounts: flags and the previous snapshot's state (resume rows)
A_POL, A_SKIP, A_RESUME = 0, 1, 2
A_CREDIT, A_PAID, A_WAIVED, A_REVOLVED, A_RECOVERED = 3, 4, 5, 6, 7
A_DPD, A_MAXDPD, A_RUNSTART, A_CHARGED, A_BCN, A_BUS = 8, 9, 10, 11, 12, 13
ACCT_COLS = 14

# policies
Q_GRACE, Q_TOL, Q_NUM, Q_DEN, Q_BASE_PI, Q_O0 = 0, 1, 2, 3, 4, 5  # Q_O0..Q_O0+3: order
Q_WO, Q_ACCRUE, Q_LATE = 9, 10, 11
POLICY_COLS = 12

# the running state of one account
S_CREDIT, S_PAID, S_WAIVED, S_REVOLVED, S_RECOVERED = 0, 1, 2, 3, 4
S_DPD, S_MAXDPD, S_RUNSTART, S_CHARGED, S_BCN, S_BUS, S_STATUS, S_OLDEST = range(5, 13)
S_FAIL, S_NT = 13, 14  # S_NT: transitions of the account so far
STATE_COLS = 15

# output figures per account
O_STATUS, O_DPD, O_BCN, O_BUS, O_OLDEST_DATE, O_OLDEST_ITEM = 0, 1, 2, 3, 4, 5
O_OPRIN, O_OINT, O_OFEE, O_PENALTY_OUT, O_TOTAL, O_PACCR = 6, 7, 8, 9, 10, 11
O_CREDIT, O_REVOLVED, O_PAID, O_WAIVED, O_DELINQ, O_MAXDPD = 12, 13, 14, 15, 16, 17
O_CHARGED, O_RECOVERED, O_RUNSTART, O_FAIL, O_NTR = 18, 19, 20, 21, 22
OUT_COLS = 23

# transitions: on, scheme (0 cn, 1 us), from code, to code, dpd
T_ON, T_SCHEME, T_FROM, T_TO, T_DPD = 0, 1, 2, 3, 4
TRANSITION_COLS = 5

# status codes (names in fast_kernel.STATUS_NAMES)
ST_CURRENT, ST_IN_GRACE, ST_OVERDUE, ST_CHARGED_OFF, ST_SETTLED = 0, 1, 2, 3, 4

THRESHOLD_DPDS = (30, 31, 60, 61, 90, 91, 120, 121, 150, 151, 180, 181)


# -- sorting and ids --------------------------------------------------------------------------


@njit(cache=True, inline="always")
def _row_after(m: np.ndarray, i: int, j: int, k1: int, k2: int) -> bool:
    """Row i sorts strictly after row j by (k1, k2)."""
    return m[i, k1] > m[j, k1] or (m[i, k1] == m[j, k1] and m[i, k2] > m[j, k2])


@njit(cache=True)
def sort_rows(m: np.ndarray, lo: int, hi: int, k1: int, k2: int) -> None:
    """Stable sort of rows ``lo:hi`` of ``m`` by (column k1, column k2), in place."""
    sorted_already = True
    for i in range(lo + 1, hi):
        if _row_after(m, i - 1, i, k1, k2):
            sorted_already = False
            break
    if sorted_already:
        return
    if hi - lo > SMALL_SORT:
        seg = m[lo:hi].copy()
        order = np.argsort(seg[:, k2], kind="mergesort")
        order = order[np.argsort(seg[order, k1], kind="mergesort")]
        for r in range(hi - lo):
            m[lo + r, :] = seg[order[r], :]
        return
    for i in range(lo + 1, hi):  # insertion sort by adjacent swaps: no allocation
        j = i
        while j > lo and _row_after(m, j - 1, j, k1, k2):
            for c in range(m.shape[1]):
                m[j - 1, c], m[j, c] = m[j, c], m[j - 1, c]
            j -= 1


@njit(cache=True, inline="always")
def _same_bytes(
    off_a: np.ndarray, data_a: np.ndarray, i: int, off_b: np.ndarray, data_b: np.ndarray, j: int
) -> bool:
    n = off_a[i + 1] - off_a[i]
    if n != off_b[j + 1] - off_b[j]:
        return False
    a, b = off_a[i], off_b[j]
    for k in range(n):  # noqa: SIM110 (a plain loop compiles best)
        if data_a[a + k] != data_b[b + k]:
            return False
    return True


TRANSPOSE_BLOCK_ROWS = 256  # rows read per block while writing the columns (stays in cache)


@njit(cache=True, nogil=True)
def columns_of(rows: np.ndarray) -> np.ndarray:
    """The (n × k) row-major matrix as k contiguous columns (k × n), copied block by block: a
    quarter of the time of k strided column copies (760k items × 20 columns: 34 vs 123 ms)."""
    n, k = rows.shape
    out = np.empty((k, n), rows.dtype)
    for i0 in range(0, n, TRANSPOSE_BLOCK_ROWS):
        i1 = min(n, i0 + TRANSPOSE_BLOCK_ROWS)
        for j in range(k):
            for i in range(i0, i1):
                out[j, i] = rows[i, j]
    return out


@njit(cache=True, nogil=True)
def string_hashes(offsets: np.ndarray, data: np.ndarray) -> np.ndarray:
    """FNV-1a of each string (to find duplicate item ids fast); exact bytes decide."""
    n = offsets.shape[0] - 1
    out = np.empty(n, np.int64)
    for i in range(n):
        h = np.uint64(14695981039346656037)
        for k in range(offsets[i], offsets[i + 1]):
            h = (h ^ np.uint64(data[k])) * np.uint64(1099511628211)
        out[i] = np.int64(h)
    return out


@njit(cache=True, inline="always")
def _has_duplicate_id(
    items: np.ndarray, lo: int, hi: int, id_off: np.ndarray, id_data: np.ndarray
) -> bool:
    """Two items of the segment with the same id (``add_items`` asserts there are none)."""
    if hi - lo <= SMALL_SORT:
        for i in range(lo, hi):
            for j in range(i + 1, hi):
                if items[I_HASH, i] == items[I_HASH, j] and _same_bytes(
                    id_off, id_data, items[I_SRC, i], id_off, id_data, items[I_SRC, j]
                ):
                    return True
        return False
    hashes = items[I_HASH, lo:hi].copy()
    order = np.argsort(hashes)
    start = 0
    for r in range(1, hi - lo + 1):
        if r < hi - lo and hashes[order[r]] == hashes[order[start]]:
            continue
        for x in range(start, r):
            for y in range(x + 1, r):
                if _same_bytes(
                    id_off,
                    id_data,
                    items[I_SRC, lo + order[x]],
                    id_off,
                    id_data,
                    items[I_SRC, lo + order[y]],
                ):
                    return True
        start = r
    return False


# -- the ledger's rules -----------------------------------------------------------------------


@njit(cache=True, inline="always")
def _owed(items: np.ndarray, i: int) -> int:
    return items[U_FEE, i] + items[U_PEN, i] + items[U_INT, i] + items[U_PRIN, i]


@njit(cache=True, inline="always")
def _is_open(items: np.ndarray, i: int, tolerance: int) -> bool:
    return items[I_CLOSED, i] == 0 and _owed(items, i) > tolerance


@njit(cache=True, inline="always")
def _daily_penalty(items: np.ndarray, i: int, q: np.ndarray) -> int:
    base = items[U_PRIN, i]
    if q[Q_BASE_PI] != 0:
        base += items[U_INT, i]
    return (2 * base * q[Q_NUM] + q[Q_DEN]) // (2 * q[Q_DEN])


@njit(cache=True, inline="always")
def _oldest_past_due(items: np.ndarray, lo: int, hi: int, day: int, tolerance: int) -> int:
    """The open item due before ``day`` that is first by (due date, seq); -1 if none."""
    for i in range(lo, hi):
        if items[I_DUE, i] >= day:
            break
        if _is_open(items, i, tolerance):
            return i
    return -1


@njit(cache=True, inline="always")
def _pay_item(items: np.ndarray, i: int, remaining: int, q: np.ndarray) -> int:
    for r in range(4):
        col = U0 + q[Q_O0 + r]
        take = min(remaining, items[col, i])
        if take > 0:
            items[col, i] -= take
            items[I_PAID, i] += take
            remaining -= take
    return remaining


@njit(cache=True, inline="always")
def _settle_grace_windows(items: np.ndarray, lo: int, hi: int, day: int, q: np.ndarray) -> None:
    window_end = day - 1 - q[Q_GRACE]
    for i in range(lo, hi):
        due = items[I_DUE, i]
        if due > window_end:
            break
        if due != window_end:
            continue
        if _is_open(items, i, q[Q_TOL]):
            items[U_PEN, i] += items[I_PROV, i]
            items[I_ACCR, i] += items[I_PROV, i]
            items[U_FEE, i] += q[Q_LATE]
            items[I_LATE, i] = q[Q_LATE]
        else:
            items[I_PDAYS, i] = 0
        items[I_PROV, i] = 0


@njit(cache=True, inline="always")
def _apply_credit_on_due_date(
    items: np.ndarray, lo: int, hi: int, day: int, q: np.ndarray, st: np.ndarray
) -> None:
    if st[S_CREDIT] == 0:
        return
    remaining = st[S_CREDIT]
    for i in range(lo, hi):
        due = items[I_DUE, i]
        if due > day:
            break
        if due == day:
            remaining = _pay_item(items, i, remaining, q)
    st[S_CREDIT] = remaining


@njit(cache=True, inline="always")
def _accrue_penalty(
    items: np.ndarray, lo: int, hi: int, day: int, q: np.ndarray, st: np.ndarray
) -> None:
    if st[S_CHARGED] != NO_DAY and q[Q_ACCRUE] == 0:
        return
    for i in range(lo, hi):
        due = items[I_DUE, i]
        if due >= day:
            break
        if not _is_open(items, i, q[Q_TOL]):
            continue
        penalty = _daily_penalty(items, i, q)
        items[I_PDAYS, i] += 1
        if day <= due + q[Q_GRACE]:
            items[I_PROV, i] += penalty
        else:
            items[U_PEN, i] += penalty
            items[I_ACCR, i] += penalty


@njit(cache=True, inline="always")
def _apply_payment(
    items: np.ndarray, lo: int, hi: int, day: int, amount: int, q: np.ndarray, st: np.ndarray
) -> None:
    st[S_PAID] += amount
    if st[S_CHARGED] != NO_DAY and day > st[S_CHARGED]:
        st[S_RECOVERED] += amount
    remaining = amount
    for i in range(lo, hi):
        if items[I_DUE, i] > day:
            break
        if _is_open(items, i, q[Q_TOL]):
            remaining = _pay_item(items, i, remaining, q)
    st[S_CREDIT] += remaining


@njit(cache=True, inline="always")
def _apply_waiver(
    items: np.ndarray, lo: int, hi: int, day: int, component: int, amount: int, st: np.ndarray
) -> None:
    remaining = amount
    col = U0 + component
    for i in range(lo, hi):
        if items[I_DUE, i] > day or remaining == 0:
            break
        cut = min(remaining, items[col, i])
        items[col, i] -= cut
        items[I_WAIVED, i] += cut
        remaining -= cut
        st[S_WAIVED] += cut


@njit(cache=True, inline="always")
def _judge_minimums(
    items: np.ndarray, lo: int, hi: int, day: int, q: np.ndarray, st: np.ndarray
) -> None:
    judged_due = day - q[Q_GRACE]
    for i in range(lo, hi):
        due = items[I_DUE, i]
        if due > judged_due:
            break
        if items[I_MIN, i] < 0 or due != judged_due or items[I_CLOSED, i] != 0:
            continue
        if items[I_PAID, i] >= items[I_MIN, i]:
            items[I_CLOSED, i] = 1
            owed = _owed(items, i)
            items[I_REVOLVED, i] = owed
            st[S_REVOLVED] += owed
            for c in range(4):
                items[U0 + c, i] = 0


@njit(cache=True, inline="always")
def _status(
    items: np.ndarray, lo: int, olo: int, hi: int, day: int, q: np.ndarray, st: np.ndarray
) -> int:
    """The account's status; no item of ``lo:olo`` is open (``_first_open``)."""
    if st[S_CHARGED] != NO_DAY:
        return ST_CHARGED_OFF
    dpd = st[S_DPD]
    if dpd >= 1:
        return ST_IN_GRACE if dpd <= q[Q_GRACE] else ST_OVERDUE
    if st[S_REVOLVED] != 0 or (hi > lo and items[I_DUE, hi - 1] > day):
        return ST_CURRENT
    for i in range(olo, hi):
        if _is_open(items, i, q[Q_TOL]):
            return ST_CURRENT
    return ST_SETTLED


@njit(cache=True, inline="always")
def _push_transition(
    trans: np.ndarray,
    st: np.ndarray,
    day: int,
    scheme: int,
    old: int,
    new: int,
    dpd: int,
    previous: int,
) -> None:
    if previous != NO_DAY and day <= previous:
        return  # only the transitions after the resumed snapshot are reported
    n = st[S_NT]
    trans[n, T_ON] = day  # run_accounts keeps room for a whole account's transitions
    trans[n, T_SCHEME] = scheme
    trans[n, T_FROM] = old
    trans[n, T_TO] = new
    trans[n, T_DPD] = dpd
    st[S_NT] = n + 1


@njit(cache=True, _nrt=False)  # type: ignore[call-overload]  # allocates nothing (see advance)
def close_day(
    items: np.ndarray,
    lo: int,
    olo: int,
    hi: int,
    day: int,
    q: np.ndarray,
    st: np.ndarray,
    trans: np.ndarray,
    previous: int,
) -> None:
    """DPD, max DPD, run start, charge-off, status and bucket transitions at the end of day;
    no item of ``lo:olo`` is open (``_first_open``)."""
    oldest = _oldest_past_due(items, olo, hi, day, q[Q_TOL])
    dpd = 0 if oldest < 0 else day - items[I_DUE, oldest]
    st[S_OLDEST] = oldest
    st[S_DPD] = dpd
    st[S_MAXDPD] = max(st[S_MAXDPD], dpd)
    if dpd >= 1:
        if st[S_RUNSTART] == NO_DAY:
            st[S_RUNSTART] = day
    else:
        st[S_RUNSTART] = NO_DAY
    if st[S_CHARGED] == NO_DAY and dpd >= q[Q_WO]:
        st[S_CHARGED] = day
    status = _status(items, lo, olo, hi, day, q, st)
    st[S_STATUS] = status
    cn = 0
    if dpd != 0 and status in (ST_OVERDUE, ST_CHARGED_OFF):
        cn = min(7, (dpd - 1) // 30 + 1)
    us = min(6, dpd // 30)
    if cn != st[S_BCN]:
        _push_transition(trans, st, day, 0, st[S_BCN], cn, dpd, previous)
    if us != st[S_BUS]:
        _push_transition(trans, st, day, 1, st[S_BUS], us, dpd, previous)
    st[S_BCN] = cn
    st[S_BUS] = us


@njit(cache=True, inline="always")
def _run_quiet_days(
    items: np.ndarray, lo: int, hi: int, first: int, last: int, q: np.ndarray, st: np.ndarray
) -> None:
    """Days on which only accrual and the DPD count move (``AccountLedger._run_quiet_days``)."""
    k = last - first + 1
    accruing = st[S_CHARGED] == NO_DAY or q[Q_ACCRUE] != 0
    if accruing:
        for i in range(lo, hi):
            due = items[I_DUE, i]
            if due >= first:
                break
            if not _is_open(items, i, q[Q_TOL]):
                continue
            penalty = _daily_penalty(items, i, q) * k
            items[I_PDAYS, i] += k
            if last <= due + q[Q_GRACE]:
                items[I_PROV, i] += penalty
            else:
                items[U_PEN, i] += penalty
                items[I_ACCR, i] += penalty
    oldest = _oldest_past_due(items, lo, hi, last, q[Q_TOL])
    st[S_DPD] = 0 if oldest < 0 else last - items[I_DUE, oldest]
    st[S_MAXDPD] = max(st[S_MAXDPD], st[S_DPD])
    if st[S_DPD] != 0 and st[S_RUNSTART] == NO_DAY:
        st[S_FAIL] = 1  # the engine asserts: a quiet stretch cannot start a run


@njit(cache=True, inline="always")
def _next_eventful_day(
    items: np.ndarray,
    lo: int,
    hi: int,
    following: int,
    last: int,
    next_event: int,
    q: np.ndarray,
    st: np.ndarray,
) -> int:
    """``AccountLedger._next_eventful_day``: the first candidate or DPD threshold day."""
    best = last + 1
    if following <= next_event < best:
        best = next_event
    g = q[Q_GRACE]
    for i in range(lo, hi):
        due = items[I_DUE, i]
        if due >= best:
            break  # items are sorted by due date: later ones only have later days
        for d in (due, due + 1, due + g, due + g + 1):
            if following <= d < best:
                best = d
    oldest = st[S_OLDEST]
    if oldest >= 0:
        due = items[I_DUE, oldest]
        w = q[Q_WO]
        for t in (1, g, g + 1, w, w + 1):
            if following <= due + t < best:
                best = due + t
        for t in THRESHOLD_DPDS:
            if following <= due + t < best:
                best = due + t
    return best


@njit(cache=True, inline="always")
def _first_open(items: np.ndarray, i: int, hi: int, tolerance: int) -> int:
    """The first item of ``i:hi`` that is open (``hi`` if none)."""
    while i < hi and not _is_open(items, i, tolerance):
        i += 1
    return i


@njit(cache=True, inline="always")
def _first_due(items: np.ndarray, i: int, hi: int, day: int) -> int:
    """The first item of ``i:hi`` due on or after ``day`` (``hi`` if none)."""
    while i < hi and items[I_DUE, i] < day:
        i += 1
    return i


@njit(cache=True, inline="always")
def _next_payment(pays: np.ndarray, p: int, phi: int) -> int:
    while p < phi and pays[p, P_KEPT] == 0:
        p += 1
    return p


# ``advance`` and ``close_day`` (and what they inline) allocate nothing, so they are compiled
# without numba's runtime (``_nrt=False``): no reference counting at all. With it, numba kept
# calls to NRT_incref / NRT_decref around the day loop's array uses (no-ops on the borrowed
# arrays, but calls): over the 1M rebuild's batches the compiled loop took 2.6 s of CPU with
# them and 1.2 s without. Code that allocates does not compile here (numba refuses it).
@njit(cache=True, _nrt=False)  # type: ignore[call-overload]  # (numba stubs lack _nrt)
def advance(
    items: np.ndarray,
    lo: int,
    hi: int,
    pays: np.ndarray,
    plo: int,
    phi: int,
    waivers: np.ndarray,
    wlo: int,
    whi: int,
    first: int,
    last: int,
    q: np.ndarray,
    st: np.ndarray,
    trans: np.ndarray,
    previous: int,
) -> None:
    """``AccountLedger.advance``: run days first … last, fast-forwarding quiet stretches."""
    p = _next_payment(pays, plo, phi)
    while p < phi and pays[p, P_DATE] < first:
        p = _next_payment(pays, p + 1, phi)
    w = wlo
    while w < whi and waivers[w, W_DATE] < first:
        w += 1
    day = first
    steps = 0
    # The scans start past the items they would only skip: ``olo``, the first item that may be
    # open (one that is not stays so: only open items accrue or are charged a late fee), for
    # those that visit open items only; ``dlo``, the first item due on or after
    # ``day - 1 - grace``, for those that visit items due on one day from there on. Waivers cut
    # any item's amounts: theirs still start at ``lo``.
    olo = lo
    dlo = lo
    while day <= last:
        steps += 1
        if steps > MAX_HISTORY_DAYS:
            st[S_FAIL] = 1  # the engine asserts that advance terminates
            return
        olo = _first_open(items, olo, hi, q[Q_TOL])
        dlo = _first_due(items, dlo, hi, day - 1 - q[Q_GRACE])
        _settle_grace_windows(items, dlo, hi, day, q)
        _apply_credit_on_due_date(items, dlo, hi, day, q, st)
        _accrue_penalty(items, olo, hi, day, q, st)
        while p < phi and pays[p, P_DATE] == day:
            _apply_payment(items, olo, hi, day, pays[p, P_AMOUNT], q, st)
            p = _next_payment(pays, p + 1, phi)
        while w < whi and waivers[w, W_DATE] == day:
            _apply_waiver(items, lo, hi, day, waivers[w, W_COMP], waivers[w, W_AMOUNT], st)
            w += 1
        _judge_minimums(items, dlo, hi, day, q, st)
        olo = _first_open(items, olo, hi, q[Q_TOL])
        close_day(items, lo, olo, hi, day, q, st, trans, previous)
        following = day + 1
        if following > last:
            break
        next_event = last + 1
        if p < phi:
            next_event = pays[p, P_DATE]
        if w < whi and waivers[w, W_DATE] < next_event:
            next_event = waivers[w, W_DATE]
        upcoming = _next_eventful_day(items, dlo, hi, following, last, next_event, q, st)
        if upcoming > following:
            _run_quiet_days(items, olo, hi, following, upcoming - 1, q, st)
            if st[S_FAIL] != 0:
                return
        day = upcoming
    return


# -- one account, all accounts ----------------------------------------------------------------

BOUND = float(1 << 60)  # every int64 the kernel computes stays below this (proved per account)
ITEM_MONEY = (
    I_PRIN,
    I_INT,
    I_FEE,
    U_FEE,
    U_PEN,
    U_INT,
    U_PRIN,
    I_PROV,
    I_ACCR,
    I_PAID,
    I_WAIVED,
    I_LATE,
    I_REVOLVED,
)
ACCOUNT_MONEY = (A_CREDIT, A_PAID, A_WAIVED, A_REVOLVED, A_RECOVERED)


@njit(cache=True)
def within_bounds(
    accts: np.ndarray,
    a: int,
    items: np.ndarray,
    lo: int,
    hi: int,
    pays: np.ndarray,
    plo: int,
    phi: int,
    waivers: np.ndarray,
    wlo: int,
    whi: int,
    q: np.ndarray,
    as_of: int,
    previous: int,
) -> bool:
    """No negative amount, and no int64 overflow possible while the account runs to ``as_of``.

    Every amount the ledger computes is at most the sum S of the account's amounts plus the
    penalties accrued: at most (base + 1) a day per item (the rate is below 1) over at most
    ``span`` days, with every base at most S. So S × (span + 2) < 2^60 bounds them all, and
    base × num < 2^60 keeps the penalty's numerator 2·base·num + den below 2^62.
    """
    total = 0.0
    first = as_of
    for i in range(lo, hi):
        for col in ITEM_MONEY:
            if items[col, i] < 0:
                return False
            total += float(items[col, i])
        base = float(items[U_PRIN, i]) + float(items[U_INT, i])
        if base * float(q[Q_NUM]) >= BOUND:
            return False
        first = min(first, items[I_DUE, i])
    for p in range(plo, phi):
        if pays[p, P_AMOUNT] < 0:
            return False
        total += float(pays[p, P_AMOUNT])
        first = min(first, pays[p, P_DATE])
    for w in range(wlo, whi):
        if waivers[w, W_AMOUNT] < 0:
            return False
        total += float(waivers[w, W_AMOUNT])
        first = min(first, waivers[w, W_DATE])
    if accts[a, A_RESUME] != 0:
        for col in ACCOUNT_MONEY:
            if accts[a, col] < 0:
                return False
            total += float(accts[a, col])
        first = min(first, previous)
    total += float(hi - lo) * (float(q[Q_LATE]) + 1.0)
    span = float(as_of) - float(first) + 2.0
    return total * (span + 2.0) < BOUND


@njit(cache=True, inline="always")
def _mark_reversed(
    pays: np.ndarray,
    plo: int,
    phi: int,
    revs: np.ndarray,
    rlo: int,
    rhi: int,
    as_of: int,
    pay_id_off: np.ndarray,
    pay_id_data: np.ndarray,
    rev_id_off: np.ndarray,
    rev_id_data: np.ndarray,
) -> None:
    """Payments whose id a reversal dated on or before ``as_of`` names are dropped."""
    for r in range(rlo, rhi):
        if revs[r, R_DATE] > as_of:
            continue
        for p in range(plo, phi):
            if _same_bytes(
                pay_id_off, pay_id_data, pays[p, P_SRC], rev_id_off, rev_id_data, revs[r, R_SRC]
            ):
                pays[p, P_KEPT] = 0


@njit(cache=True, inline="always")
def _start_state(accts: np.ndarray, a: int, st: np.ndarray) -> None:
    st[:] = 0
    st[S_RUNSTART] = NO_DAY
    st[S_CHARGED] = NO_DAY
    st[S_OLDEST] = -1
    if accts[a, A_RESUME] != 0:
        st[S_CREDIT] = accts[a, A_CREDIT]
        st[S_PAID] = accts[a, A_PAID]
        st[S_WAIVED] = accts[a, A_WAIVED]
        st[S_REVOLVED] = accts[a, A_REVOLVED]
        st[S_RECOVERED] = accts[a, A_RECOVERED]
        st[S_DPD] = accts[a, A_DPD]
        st[S_MAXDPD] = accts[a, A_MAXDPD]
        st[S_RUNSTART] = accts[a, A_RUNSTART]
        st[S_CHARGED] = accts[a, A_CHARGED]
        st[S_BCN] = accts[a, A_BCN]
        st[S_BUS] = accts[a, A_BUS]


@njit(cache=True, inline="always")
def _first_day(
    items: np.ndarray,
    lo: int,
    hi: int,
    pays: np.ndarray,
    plo: int,
    phi: int,
    waivers: np.ndarray,
    wlo: int,
    whi: int,
) -> int:
    """A rebuild starts on the earliest due date, kept payment or waiver (NO_DAY if none)."""
    first = NO_DAY
    for i in range(lo, hi):
        if first == NO_DAY or items[I_DUE, i] < first:
            first = items[I_DUE, i]
    for p in range(plo, phi):
        if pays[p, P_KEPT] != 0 and (first == NO_DAY or pays[p, P_DATE] < first):
            first = pays[p, P_DATE]
    for w in range(wlo, whi):
        if first == NO_DAY or waivers[w, W_DATE] < first:
            first = waivers[w, W_DATE]
    return first


@njit(cache=True, inline="always")
def _write_figures(
    items: np.ndarray,
    lo: int,
    hi: int,
    as_of: int,
    q: np.ndarray,
    st: np.ndarray,
    out: np.ndarray,
    a: int,
) -> None:
    """``engine.ledger_state``: the contract's figures at the end of ``as_of``."""
    tolerance = q[Q_TOL]
    oldest = _oldest_past_due(items, lo, hi, as_of, tolerance)
    overdue_fee = overdue_penalty = overdue_interest = overdue_principal = 0
    penalty_outstanding = 0
    penalty_accrued = 0
    for i in range(lo, hi):
        penalty_outstanding += items[U_PEN, i]
        penalty_accrued += items[I_ACCR, i]
        if items[I_DUE, i] < as_of and _is_open(items, i, tolerance):
            overdue_fee += items[U_FEE, i]
            overdue_penalty += items[U_PEN, i]
            overdue_interest += items[U_INT, i]
            overdue_principal += items[U_PRIN, i]
    status = st[S_STATUS]
    out[a, O_STATUS] = status
    out[a, O_DPD] = st[S_DPD]
    out[a, O_BCN] = st[S_BCN]
    out[a, O_BUS] = st[S_BUS]
    out[a, O_OLDEST_DATE] = NO_DAY if oldest < 0 else items[I_DUE, oldest]
    out[a, O_OLDEST_ITEM] = oldest  # row in ``items`` (the snapshot does not carry it)
    out[a, O_OPRIN] = overdue_principal
    out[a, O_OINT] = overdue_interest
    out[a, O_OFEE] = overdue_fee
    out[a, O_PENALTY_OUT] = penalty_outstanding
    out[a, O_TOTAL] = overdue_fee + overdue_penalty + overdue_interest + overdue_principal
    out[a, O_PACCR] = penalty_accrued
    out[a, O_CREDIT] = st[S_CREDIT]
    out[a, O_REVOLVED] = st[S_REVOLVED]
    out[a, O_PAID] = st[S_PAID]
    out[a, O_WAIVED] = st[S_WAIVED]
    in_delinquency = status in (ST_OVERDUE, ST_CHARGED_OFF)
    out[a, O_DELINQ] = st[S_RUNSTART] if in_delinquency else NO_DAY
    out[a, O_MAXDPD] = st[S_MAXDPD]
    out[a, O_CHARGED] = st[S_CHARGED]
    out[a, O_RECOVERED] = st[S_RECOVERED]
    out[a, O_RUNSTART] = st[S_RUNSTART]


def _borrowed_view(typingctx: Any, arr: Any) -> Any:
    """The same array without its reference count (its meminfo), for the hot loops.

    numba increments and decrements an array's reference count, with atomic instructions,
    around calls it cannot prove need none: measured, that was 70 % of the kernel's time. A
    borrowed view has no meminfo, so those become no-ops; the caller keeps the owner alive.
    """
    if not isinstance(arr, types.Array):
        return None

    def codegen(context: Any, builder: Any, signature: Any, args: Any) -> Any:
        view = context.make_array(arr)(context, builder, value=args[0])
        view.meminfo = cgutils.get_null_value(view.meminfo.type)
        view.parent = cgutils.get_null_value(view.parent.type)
        return view._getvalue()

    return arr(arr), codegen


_borrowed: Any = intrinsic(_borrowed_view)


TRANSITIONS_PER_ACCOUNT = 2 * (MAX_HISTORY_DAYS + 2)  # two per closed day, at most


@njit(cache=True, inline="always")
def _run_account(
    a: int,
    accts: np.ndarray,
    item_off: np.ndarray,
    items: np.ndarray,
    item_id_off: np.ndarray,
    item_id_data: np.ndarray,
    pay_off: np.ndarray,
    pays: np.ndarray,
    pay_id_off: np.ndarray,
    pay_id_data: np.ndarray,
    rev_off: np.ndarray,
    revs: np.ndarray,
    rev_id_off: np.ndarray,
    rev_id_data: np.ndarray,
    waiver_off: np.ndarray,
    waivers: np.ndarray,
    policies: np.ndarray,
    as_of: int,
    previous: int,
    st: np.ndarray,
    trans: np.ndarray,
) -> bool:
    """Run account ``a`` to ``as_of``; False if it must go to the Python kernel instead."""
    lo, hi = item_off[a], item_off[a + 1]
    plo, phi = pay_off[a], pay_off[a + 1]
    wlo, whi = waiver_off[a], waiver_off[a + 1]
    q = policies[accts[a, A_POL]]
    if not within_bounds(
        accts, a, items, lo, hi, pays, plo, phi, waivers, wlo, whi, q, as_of, previous
    ):
        return False
    sort_rows(items.T, lo, hi, I_DUE, I_SEQ)  # the items matrix has one column per item
    if _has_duplicate_id(items, lo, hi, item_id_off, item_id_data):
        return False
    rlo, rhi = rev_off[a], rev_off[a + 1]
    _mark_reversed(
        pays, plo, phi, revs, rlo, rhi, as_of, pay_id_off, pay_id_data, rev_id_off, rev_id_data
    )
    sort_rows(pays, plo, phi, P_DATE, P_SEQ)
    sort_rows(waivers, wlo, whi, W_DATE, W_SEQ)
    _start_state(accts, a, st)
    if accts[a, A_RESUME] != 0:
        first = previous + 1
    else:
        first = _first_day(items, lo, hi, pays, plo, phi, waivers, wlo, whi)
    if first != NO_DAY and first <= as_of:
        advance(
            items, lo, hi, pays, plo, phi, waivers, wlo, whi, first, as_of, q, st, trans, previous
        )
    else:
        close_day(items, lo, lo, hi, as_of, q, st, trans, previous)
    return st[S_FAIL] == 0


@njit(cache=True, nogil=True)  # batches run in threads (``engines.parallel_kernel``)
def _run_accounts(
    accts: np.ndarray,
    item_off: np.ndarray,
    items: np.ndarray,
    item_id_off: np.ndarray,
    item_id_data: np.ndarray,
    pay_off: np.ndarray,
    pays: np.ndarray,
    pay_id_off: np.ndarray,
    pay_id_data: np.ndarray,
    rev_off: np.ndarray,
    revs: np.ndarray,
    rev_id_off: np.ndarray,
    rev_id_data: np.ndarray,
    waiver_off: np.ndarray,
    waivers: np.ndarray,
    policies: np.ndarray,
    as_of: int,
    previous: int,
    out: np.ndarray,
    state: np.ndarray,
) -> np.ndarray:
    owned = np.empty((TRANSITIONS_PER_ACCOUNT + 2 * accts.shape[0], TRANSITION_COLS), np.int64)
    trans = _borrowed(owned)  # ``owned`` is used after the loop: alive as long as ``trans``
    st = _borrowed(state)  # the caller's array: alive for the whole call
    n_trans = 0
    for a in range(accts.shape[0]):
        out[a, O_NTR] = 0
        out[a, O_FAIL] = 1
        if accts[a, A_SKIP] != 0:
            continue
        if owned.shape[0] - n_trans < TRANSITIONS_PER_ACCOUNT:
            grown = np.empty((2 * owned.shape[0], TRANSITION_COLS), np.int64)
            grown[:n_trans] = owned[:n_trans]
            owned = grown
            trans = _borrowed(owned)
        ok = _run_account(
            a,
            _borrowed(accts),
            _borrowed(item_off),
            _borrowed(items),
            _borrowed(item_id_off),
            _borrowed(item_id_data),
            _borrowed(pay_off),
            _borrowed(pays),
            _borrowed(pay_id_off),
            _borrowed(pay_id_data),
            _borrowed(rev_off),
            _borrowed(revs),
            _borrowed(rev_id_off),
            _borrowed(rev_id_data),
            _borrowed(waiver_off),
            _borrowed(waivers),
            _borrowed(policies),
            as_of,
            previous,
            st,
            trans[n_trans:],
        )
        if not ok:
            continue  # its transitions are dropped: the Python kernel redoes the account
        out[a, O_FAIL] = 0
        out[a, O_NTR] = st[S_NT]
        n_trans += st[S_NT]
        q = policies[accts[a, A_POL]]
        _write_figures(items, item_off[a], item_off[a + 1], as_of, q, st, out, a)
    return owned[:n_trans].copy()


def run_accounts(
    accts: np.ndarray,
    item_off: np.ndarray,
    items: np.ndarray,
    item_id_off: np.ndarray,
    item_id_data: np.ndarray,
    pay_off: np.ndarray,
    pays: np.ndarray,
    pay_id_off: np.ndarray,
    pay_id_data: np.ndarray,
    rev_off: np.ndarray,
    revs: np.ndarray,
    rev_id_off: np.ndarray,
    rev_id_data: np.ndarray,
    waiver_off: np.ndarray,
    waivers: np.ndarray,
    policies: np.ndarray,
    as_of: int,
    previous: int,
    out: np.ndarray,
) -> np.ndarray:
    """Run every account of the batch to ``as_of``; return its transitions, in account order.

    ``out`` receives the figures (``O_FAIL`` = 1: the account must go to the Python kernel;
    ``O_NTR``: its number of transitions) and ``items`` the item states.
    """
    state = np.zeros(STATE_COLS, np.int64)  # owned here: the compiled loop only borrows it
    compiled: Any = _run_accounts
    transitions: np.ndarray = compiled(
        accts,
        item_off,
        items,
        item_id_off,
        item_id_data,
        pay_off,
        pays,
        pay_id_off,
        pay_id_data,
        rev_off,
        revs,
        rev_id_off,
        rev_id_data,
        waiver_off,
        waivers,
        policies,
        as_of,
        previous,
        out,
        state,
    )
    return transitions
