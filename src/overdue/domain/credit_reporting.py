"""Credit reporting codes (domain.md §5): the PBOC (征信) monthly grid and Metro 2 (US).

One account in one reporting month is a ``ReportingMonth``: what the month-end snapshot says of
it, or that there is no snapshot (``known`` false), or that the account did not exist yet
(``opened`` false). From it:

- ``pboc_code``: one character of the PBOC 24-month grid. ``N`` normal; ``1``..``7`` overdue in
  30-day steps (loans: min(7, ceil(DPD / 30))); for revolving accounts the digit counts the
  consecutive missed minimum payments; ``C`` closed (``is_closed``); ``#`` unknown; ``*`` nothing due this month;
  ``/`` not opened. ``G``, ``D`` and ``Z`` (ended otherwise, guarantor paid, repaid with assets)
  need events a book does not carry and are never produced.
- ``metro2_status``: the Metro 2 account status (11 current 0–29 DPD, 71, 78, 80, 82, 83, 84 by
  30-day steps, 93 placed for collection, 97 charged off, 13 paid or closed, 64 paid after a
  charge-off).
- ``metro2_history``: the character of the month in the 24-month payment history profile (``0``
  0–29 DPD … ``6`` 180+, ``B`` before the account's history, ``D`` no data this month, ``E`` zero
  balance and current, ``G`` collection, ``L`` charge-off).

Grids: ``pboc_grid`` lists the 24 months ending with the reporting month, oldest first;
``metro2_profile`` lists the 24 months before it, newest first (the reporting month's own status
is the account status).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Final

GRID_MONTHS: Final = 24
MAX_DIGIT: Final = 7
PBOC_NEGATIVE: Final = frozenset("1234567")
METRO2_NEGATIVE: Final = frozenset({"71", "78", "80", "82", "83", "84", "93", "97", "64"})
STATUSES: Final = ("current", "in_grace", "overdue", "charged_off", "settled")
PRODUCTS: Final = ("revolving", "installment")
_METRO2_BY_STEP: Final = ("11", "71", "78", "80", "82", "83", "84")
FIRST_DELINQUENCY_DAYS: Final = 30


@dataclass(frozen=True)
class ReportingMonth:
    """One account at the end of one reporting month.

    ``dpd`` and ``status`` are the month-end snapshot's; ``missed_minimums`` the revolving
    account's consecutive bills past their grace and still open; ``due_in_month`` whether an item
    fell due within the month; ``owed_fen`` everything unpaid (every item, every component);
    ``placed_for_collection`` whether an outside agency holds the account.
    """

    opened: bool = True
    known: bool = True
    product: str = "installment"
    status: str = "current"
    dpd: int = 0
    missed_minimums: int = 0
    due_in_month: bool = True
    owed_fen: int = 0
    charged_off: bool = False
    placed_for_collection: bool = False

    def __post_init__(self) -> None:
        assert self.product in PRODUCTS, f"unknown product {self.product!r}"
        assert self.status in STATUSES, f"unknown status {self.status!r}"
        assert self.dpd >= 0 and self.missed_minimums >= 0 and self.owed_fen >= 0


def is_closed(month: ReportingMonth) -> bool:
    """Settled for good: a loan repaid, or a revolving line repaid after its charge-off. A
    revolving line with nothing owed stays open (settled only until its next bill)."""
    return month.status == "settled" and (month.product == "installment" or month.charged_off)


def _delinquent(month: ReportingMonth) -> bool:
    return month.status in ("overdue", "charged_off") and month.dpd > 0


def pboc_code(month: ReportingMonth) -> str:
    """The month's character of the PBOC 24-month grid (see the module docstring)."""
    if not month.opened:
        return "/"
    if not month.known:
        return "#"
    if is_closed(month):
        return "C"
    if _delinquent(month):
        if month.product == "revolving":
            return str(min(MAX_DIGIT, max(1, month.missed_minimums)))
        return str(min(MAX_DIGIT, -(-month.dpd // 30)))
    if not month.due_in_month and month.dpd == 0:
        return "*"
    return "N"


def metro2_status(month: ReportingMonth) -> str:
    """The Metro 2 account status code of a known month of an opened account."""
    assert month.opened and month.known, "only a month with a snapshot has a status"
    if is_closed(month):
        return "64" if month.charged_off else "13"
    if month.status == "charged_off":
        return "97"
    if month.placed_for_collection:
        return "93"
    return _METRO2_BY_STEP[min(6, month.dpd // 30)]


def metro2_history(month: ReportingMonth) -> str:
    """The month's character in the Metro 2 payment history profile."""
    if not month.opened:
        return "B"
    if not month.known:
        return "D"
    if month.status == "charged_off" or (is_closed(month) and month.charged_off):
        return "L"
    if month.placed_for_collection:
        return "G"
    step = min(6, month.dpd // 30)
    if step == 0 and month.owed_fen == 0:
        return "E"
    return str(step)


def pboc_grid(codes: Sequence[str]) -> str:
    """The 24-month grid from the month codes, oldest first, ending with the reporting month;
    months before the first code are ``/`` (not opened)."""
    assert all(len(c) == 1 for c in codes), "one character per month"
    return "".join(codes[-GRID_MONTHS:]).rjust(GRID_MONTHS, "/")


def metro2_profile(previous: Sequence[str]) -> str:
    """The payment history profile: the months before the reporting month, given oldest first,
    written newest first; months without history are ``B``."""
    assert all(len(c) == 1 for c in previous), "one character per month"
    return "".join(reversed(previous[-GRID_MONTHS:])).ljust(GRID_MONTHS, "B")


def amount_past_due_fen(dpd: int, total_overdue_fen: int) -> int:
    """Metro 2's amount past due: the overdue total, counted only from 30 DPD."""
    assert dpd >= 0 and total_overdue_fen >= 0
    return total_overdue_fen if dpd >= 30 else 0


def first_delinquency_date(delinquent_since: date | None, dpd: int) -> date | None:
    """Metro 2's date of first delinquency: 30 days after the missed due date that started the
    delinquency (``delinquent_since`` is the day after it), once the account is 30+ DPD."""
    if delinquent_since is None or dpd < 30:
        return None
    return delinquent_since - timedelta(days=1) + timedelta(days=FIRST_DELINQUENCY_DAYS)
