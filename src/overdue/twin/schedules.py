"""Loan schedules for many loans at once, in integer fen, by the rules of domain.md §1.

The reference is :func:`overdue.domain.schedules.build_schedule` (exact rationals, one loan at a
time); this module computes the same numbers for arrays of loans so that a million loans take a
second. Every figure is rounded half-up to the fen exactly once from its exact rational value:
``half_up(x / y) = (2x + y) // (2y)`` for ``x, y ≥ 0``. The equal-installment amount needs
``(1 + r)^n`` exactly, which does not fit in 64 bits, so it is computed with Python integers once
per distinct (principal, rate, term) triple.

The monthly rate is ``rate_num / RATE_DEN`` (see :mod:`overdue.twin.products`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from overdue.twin.products import (
    EQUAL_INSTALLMENT,
    EQUAL_PRINCIPAL,
    HYBRID_6_6,
    INTEREST_FIRST,
    MAX_TERM,
    RATE_DEN,
)
from overdue.twin.seasonality import month_first_day

IntArray = npt.NDArray[np.int64]
HYBRID_HEAD = 6


@dataclass(frozen=True)
class LoanSchedules:
    """``principal_fen[i, k]`` and ``interest_fen[i, k]`` of period ``k + 1`` of loan ``i``.

    Periods at or beyond a loan's term are zero; ``due_day[i, k]`` is its due date (day number),
    ``-1`` beyond the term.
    """

    principal_fen: IntArray
    interest_fen: IntArray
    due_day: IntArray


def half_up(numerator: IntArray, denominator: IntArray | int) -> IntArray:
    """``numerator / denominator`` rounded half-up, for non-negative integers."""
    assert np.all(numerator >= 0)
    den = np.asarray(denominator, dtype=np.int64)
    return (2 * numerator + den) // (2 * den)


def monthly_interest(remaining_fen: IntArray, rate_num: IntArray) -> IntArray:
    return half_up(remaining_fen * rate_num, RATE_DEN)


def equal_installment_amount(
    principal_fen: IntArray, rate_num: IntArray, term: IntArray
) -> IntArray:
    """``A = P·r·(1+r)^n / ((1+r)^n − 1)`` half-up to the fen (``P/n`` when r = 0)."""
    triples = np.stack([principal_fen, rate_num, term], axis=1)
    unique, inverse = np.unique(triples, axis=0, return_inverse=True)
    amounts = np.empty(unique.shape[0], dtype=np.int64)
    for row, (principal, num, n) in enumerate(unique.tolist()):
        if n <= 0:
            amounts[row] = 0
            continue
        if num == 0:
            numerator, denominator = principal, n
        else:
            growth_num = (RATE_DEN + num) ** n
            growth_den = RATE_DEN**n
            numerator = principal * num * growth_num
            denominator = RATE_DEN * (growth_num - growth_den)
        amounts[row] = (2 * numerator + denominator) // (2 * denominator)
    return amounts[inverse.reshape(-1)]


def _amortise(
    principal_fen: IntArray,
    rate_num: IntArray,
    periods: IntArray,
    installment_fen: IntArray,
    out_principal: IntArray,
    out_interest: IntArray,
    first_period: IntArray,
) -> None:
    """Equal-installment lines from ``first_period`` for ``periods`` periods (in place)."""
    left = principal_fen.copy()
    rows = np.arange(principal_fen.size)
    for k in range(int(periods.max(initial=0))):
        active = k < periods
        interest = monthly_interest(left, rate_num)
        last = k == periods - 1
        part = np.where(last, left, np.minimum(installment_fen - interest, left))
        part = np.where(active, part, 0)
        column = np.where(active, first_period + k, 0)
        out_principal[rows[active], column[active]] = part[active]
        out_interest[rows[active], column[active]] = interest[active]
        left = left - part


def due_days(opened_on: IntArray, term: IntArray) -> IntArray:
    """Due date of each period: the opening day of month in each following month, clamped."""
    opened = opened_on.astype("datetime64[D]")
    open_month = opened.astype("datetime64[M]").astype(np.int64)
    open_dom = (opened_on - month_first_day(open_month)).astype(np.int64)  # 0-based day
    k = np.arange(1, MAX_TERM + 1, dtype=np.int64)
    target = open_month[:, None] + k[None, :]
    first = month_first_day(target)
    length = month_first_day(target + 1) - first
    due = first + np.minimum(open_dom[:, None], length - 1)
    return np.where(k[None, :] <= term[:, None], due, -1)


def loan_schedules(
    principal_fen: IntArray,
    rate_num: IntArray,
    term: IntArray,
    method: npt.NDArray[np.int8],
    opened_on: IntArray,
) -> LoanSchedules:
    """Schedules of many loans (rules: module doc and domain.md §1)."""
    n = principal_fen.size
    assert np.all(principal_fen > 0) and np.all((term >= 1) & (term <= MAX_TERM))
    assert np.all(term[method == HYBRID_6_6] == 12)
    out_principal = np.zeros((n, MAX_TERM), dtype=np.int64)
    out_interest = np.zeros((n, MAX_TERM), dtype=np.int64)
    k = np.arange(MAX_TERM)[None, :]
    in_term = k < term[:, None]

    ei = method == EQUAL_INSTALLMENT
    if ei.any():
        idx = np.flatnonzero(ei)
        amount = equal_installment_amount(principal_fen[idx], rate_num[idx], term[idx])
        sub_p = np.zeros((idx.size, MAX_TERM), dtype=np.int64)
        sub_i = np.zeros_like(sub_p)
        _amortise(
            principal_fen[idx], rate_num[idx], term[idx], amount, sub_p, sub_i, np.zeros_like(idx)
        )
        out_principal[idx], out_interest[idx] = sub_p, sub_i

    ep = method == EQUAL_PRINCIPAL
    if ep.any():
        idx = np.flatnonzero(ep)
        share = half_up(principal_fen[idx], term[idx])
        left = principal_fen[idx].copy()
        for j in range(MAX_TERM):
            active = j < term[idx]
            interest = monthly_interest(left, rate_num[idx])
            part = np.where(j == term[idx] - 1, left, np.minimum(share, left))
            part = np.where(active, part, 0)
            out_principal[idx, j] = part
            out_interest[idx, j] = np.where(active, interest, 0)
            left = left - part

    io = (method == INTEREST_FIRST) | (method == HYBRID_6_6)
    if io.any():
        idx = np.flatnonzero(io)
        flat = monthly_interest(principal_fen[idx], rate_num[idx])
        head = np.where(method[idx] == HYBRID_6_6, HYBRID_HEAD, term[idx])
        head_cols = k < head[:, None]
        out_interest[idx] = np.where(head_cols & in_term[idx], flat[:, None], 0)
        first_only = method[idx] == INTEREST_FIRST
        rows = idx[first_only]
        out_principal[rows, term[rows] - 1] = principal_fen[rows]

    hy = method == HYBRID_6_6
    if hy.any():
        idx = np.flatnonzero(hy)
        tail = np.full(idx.size, MAX_TERM - HYBRID_HEAD, dtype=np.int64)
        amount = equal_installment_amount(principal_fen[idx], rate_num[idx], tail)
        sub_p = np.zeros((idx.size, MAX_TERM), dtype=np.int64)
        sub_i = np.zeros_like(sub_p)
        _amortise(
            principal_fen[idx],
            rate_num[idx],
            tail,
            amount,
            sub_p,
            sub_i,
            np.full(idx.size, HYBRID_HEAD, dtype=np.int64),
        )
        out_principal[idx, HYBRID_HEAD:] = sub_p[:, HYBRID_HEAD:]
        out_interest[idx, HYBRID_HEAD:] = sub_i[:, HYBRID_HEAD:]

    assert np.all(out_principal >= 0) and np.all(out_interest >= 0)
    assert np.array_equal(out_principal.sum(axis=1), principal_fen), "principals sum to P"
    return LoanSchedules(out_principal, out_interest, due_days(opened_on, term))
