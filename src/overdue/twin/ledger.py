"""The generator's own ledger of what each account owes, for many accounts at once.

Customers decide how much to pay from what "the app shows" them, so the generator keeps a
vectorised copy of the overdue engine's bookkeeping (domain.md §2): items by due date, penalty
accrual, oldest-first allocation, credit balance applied on due dates, revolving minimums judged at
the end of the due day, charge-off stopping the penalty. The penalty here is an upper bound of the
engine's (each day rounded up, base principal + interest, the higher of the two loan rates), so a
customer who pays "everything" always closes the items in the engine too (any excess becomes a
small credit balance, as it would in real life).

Amounts are int64 fen; dates are day numbers. Slot ``m`` of an account holds its item due in month
``m`` of the window (at most one per month per account); ``due == -1`` means no item.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import numpy as np
import numpy.typing as npt

IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]

PENALTY_RATE_DEN: Final = 10_000_000  # penalty rates are held as numerators over 10^7 per day
NEVER: Final = np.iinfo(np.int64).max // 4


@dataclass
class Ledger:
    """Mutable state of a chunk of accounts; every method works on a subset ``rows``."""

    due: IntArray  # (n, M) due day or -1
    remaining: IntArray  # (n, M) what is left to pay (penalty included, an upper bound)
    base: IntArray  # (n, M) unpaid principal + interest: the penalty base
    accrued_to: IntArray  # (n, M) penalty accrued through this day
    paid: IntArray  # (n, M) paid into the item (payments and credit)
    minimum: IntArray  # (n, M) revolving minimum or -1
    credit: IntArray  # (n,)
    charged_off_on: IntArray  # (n,) day or NEVER
    write_off_days: IntArray  # (n,)
    penalty_rate: IntArray  # (n,) per PENALTY_RATE_DEN per day
    horizon: int = 0  # slots 0 … horizon − 1 can be due by now; later ones are left alone

    @property
    def cols(self) -> slice:
        return slice(0, max(1, self.horizon))

    @staticmethod
    def empty(n: int, months: int, write_off_days: IntArray, penalty_rate: IntArray) -> Ledger:
        def grid(fill: int) -> IntArray:
            return np.full((n, months), fill, dtype=np.int64)

        return Ledger(
            due=grid(-1),
            remaining=grid(0),
            base=grid(0),
            accrued_to=grid(0),
            paid=grid(0),
            minimum=grid(-1),
            credit=np.zeros(n, dtype=np.int64),
            charged_off_on=np.full(n, NEVER, dtype=np.int64),
            write_off_days=write_off_days.astype(np.int64),
            penalty_rate=penalty_rate.astype(np.int64),
            horizon=months,
        )

    # -- items ---------------------------------------------------------------------------------

    def add_items(
        self, rows: IntArray, slot: int | IntArray, due: IntArray, amount: IntArray,
        minimum: IntArray | None = None,
    ) -> None:  # fmt: skip
        assert np.all(amount > 0)
        self.due[rows, slot] = due
        self.remaining[rows, slot] = amount
        self.base[rows, slot] = amount
        self.accrued_to[rows, slot] = due
        self.paid[rows, slot] = 0
        self.minimum[rows, slot] = -1 if minimum is None else minimum

    def _open_before(self, rows: IntArray, day: IntArray, inclusive: bool) -> BoolArray:
        due = self.due[rows, self.cols]
        limit = day[:, None]
        before = due <= limit if inclusive else due < limit
        return (due >= 0) & before & (self.remaining[rows, self.cols] > 0)

    # -- queries -------------------------------------------------------------------------------

    def arrears_count(self, rows: IntArray, day: IntArray) -> IntArray:
        """Open items due before ``day``."""
        return self._open_before(rows, day, inclusive=False).sum(axis=1).astype(np.int64)

    def owed_through(self, rows: IntArray, day: IntArray) -> IntArray:
        """Everything left on items due on or before ``day``."""
        mask = self._open_before(rows, day, inclusive=True)
        return np.where(mask, self.remaining[rows, self.cols], 0).sum(axis=1)

    def oldest_remaining(self, rows: IntArray, day: IntArray) -> IntArray:
        """What is left on the oldest open item due before ``day`` (0 when none)."""
        mask = self._open_before(rows, day, inclusive=False)
        first = mask.argmax(axis=1)
        left = self.remaining[rows, first]
        assert np.all(first < self.cols.stop)
        return np.where(mask.any(axis=1), left, 0)

    def penalty_through(self, rows: IntArray, day: IntArray) -> IntArray:
        mask = self._open_before(rows, day, inclusive=True)
        cols = self.cols
        return np.where(mask, self.remaining[rows, cols] - self.base[rows, cols], 0).sum(axis=1)

    def oldest_open_due(self, rows: IntArray, day: int) -> IntArray:
        """Due day of the oldest open item due before ``day`` (``NEVER`` when none)."""
        mask = self._open_before(rows, np.full(rows.size, day, dtype=np.int64), inclusive=False)
        return np.where(mask, self.due[rows, self.cols], NEVER).min(axis=1)

    def dpd(self, rows: IntArray, day: int) -> IntArray:
        """Days past due of the accounts at the end of ``day`` (generator's view)."""
        oldest = self.oldest_open_due(rows, day)
        return np.where(oldest == NEVER, 0, day - oldest)

    # -- events --------------------------------------------------------------------------------

    def accrue(self, rows: IntArray, day: IntArray) -> None:
        """Add penalty for each day after the due date through ``day`` (stops at charge-off)."""
        cols = self.cols
        mask = self._open_before(rows, day, inclusive=False)
        due = np.where(mask, self.due[rows, cols], NEVER)
        oldest = due.min(axis=1)
        reach = (oldest != NEVER) & (day - oldest >= self.write_off_days[rows])
        fresh = reach & (self.charged_off_on[rows] == NEVER)
        self.charged_off_on[rows[fresh]] = oldest[fresh] + self.write_off_days[rows[fresh]]
        end = np.minimum(day, self.charged_off_on[rows])[:, None]
        accrued = self.accrued_to[rows, cols]
        days = np.clip(end - accrued, 0, None)
        rate = self.penalty_rate[rows][:, None]
        per_day = (self.base[rows, cols] * rate + PENALTY_RATE_DEN - 1) // PENALTY_RATE_DEN
        self.remaining[rows, cols] += np.where(mask, per_day * days, 0)
        self.accrued_to[rows, cols] = np.where(mask, np.maximum(accrued, day[:, None]), accrued)

    def pay(self, rows: IntArray, day: IntArray, amount: IntArray) -> None:
        """Allocate to open items due on or before ``day``, oldest first; the rest is credit."""
        assert np.all(amount > 0)
        mask = self._open_before(rows, day, inclusive=True)
        left = np.where(mask, self.remaining[rows, self.cols], 0)
        before = np.cumsum(left, axis=1) - left
        take = np.clip(amount[:, None] - before, 0, left)
        self._take(rows, take)
        leftover = amount - take.sum(axis=1)
        assert np.all(leftover >= 0)
        np.add.at(self.credit, rows, leftover)

    def _take(self, rows: IntArray, take: IntArray) -> None:
        cols = self.cols
        remaining = self.remaining[rows, cols] - take
        self.remaining[rows, cols] = remaining
        self.base[rows, cols] = np.minimum(self.base[rows, cols], remaining)
        self.paid[rows, cols] += take

    def apply_credit(self, rows: IntArray, slot: int) -> None:
        """Start of a due day: credit balance goes to the item due that day."""
        take = np.minimum(self.credit[rows], self.remaining[rows, slot])
        remaining = self.remaining[rows, slot] - take
        self.remaining[rows, slot] = remaining
        self.base[rows, slot] = np.minimum(self.base[rows, slot], remaining)
        self.paid[rows, slot] += take
        self.credit[rows] -= take

    def judge_minimum(self, rows: IntArray, slot: int) -> IntArray:
        """End of a due day: a revolving item whose minimum is paid closes; return the rest."""
        minimum = self.minimum[rows, slot]
        closes = (minimum >= 0) & (self.paid[rows, slot] >= minimum)
        carried = np.where(closes, self.remaining[rows, slot], 0)
        self.remaining[rows, slot] = np.where(closes, 0, self.remaining[rows, slot])
        self.base[rows, slot] = np.where(closes, 0, self.base[rows, slot])
        return carried

    def waive_penalty(self, rows: IntArray, day: IntArray, amount: IntArray) -> None:
        """Reduce penalty on items due on or before ``day``, oldest first."""
        mask = self._open_before(rows, day, inclusive=True)
        cols = self.cols
        penalty = np.where(mask, self.remaining[rows, cols] - self.base[rows, cols], 0)
        before = np.cumsum(penalty, axis=1) - penalty
        cut = np.clip(amount[:, None] - before, 0, penalty)
        self.remaining[rows, cols] -= cut
