"""Calendar helpers for business dates. Dates are ``datetime.date``; there is no clock here."""

from __future__ import annotations

import calendar as _cal
from datetime import date, timedelta


def last_day_of_month(year: int, month: int) -> int:
    return _cal.monthrange(year, month)[1]


def add_months(start: date, months: int, *, day: int | None = None) -> date:
    """``start`` moved by ``months`` calendar months, its day clamped to the month's last day.

    ``day`` overrides the day of month to aim at (before clamping), so that a schedule started on
    the 31st keeps aiming at the 31st: Jan 31 → Feb 28/29 → Mar 31.
    """
    index = start.year * 12 + (start.month - 1) + months
    year, month0 = divmod(index, 12)
    target_day = start.day if day is None else day
    return date(year, month0 + 1, min(target_day, last_day_of_month(year, month0 + 1)))


def days_between(earlier: date, later: date) -> int:
    """Whole days from ``earlier`` to ``later`` (negative when ``later`` is earlier)."""
    return (later - earlier).days


def date_range(first: date, last: date) -> list[date]:
    """Every date from ``first`` to ``last`` inclusive (empty when ``last`` < ``first``)."""
    return [first + timedelta(days=k) for k in range((last - first).days + 1)]


def month_end(day: date) -> date:
    return date(day.year, day.month, last_day_of_month(day.year, day.month))
