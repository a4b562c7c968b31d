"""Calendar effects on customer behaviour: the Spring Festival and month-end salaries.

- **Spring Festival (春节).** In the calendar month that holds Chinese New Year, people travel,
  spend more and forget more: late and missed payments rise, revolving spending rises.
- **Month-end salary.** Most salaries are paid on the last days of the month. A customer who is
  short of money and whose due day falls late in the month (after the 15th, before pay day) is more
  likely to miss it, and pays late right after pay day.

Dates are integer days since 1970-01-01 (numpy ``datetime64[D]`` as int64); months are integer
month indices since 1970-01 (numpy ``datetime64[M]`` as int64).
"""

from __future__ import annotations

from datetime import date
from typing import Final

import numpy as np
import numpy.typing as npt

IntArray = npt.NDArray[np.int64]

# Chinese New Year (first day of the first lunar month), Gregorian dates.
SPRING_FESTIVAL: Final[dict[int, date]] = {
    2010: date(2010, 2, 14),
    2011: date(2011, 2, 3),
    2012: date(2012, 1, 23),
    2013: date(2013, 2, 10),
    2014: date(2014, 1, 31),
    2015: date(2015, 2, 19),
    2016: date(2016, 2, 8),
    2017: date(2017, 1, 28),
    2018: date(2018, 2, 16),
    2019: date(2019, 2, 5),
    2020: date(2020, 1, 25),
    2021: date(2021, 2, 12),
    2022: date(2022, 2, 1),
    2023: date(2023, 1, 22),
    2024: date(2024, 2, 10),
    2025: date(2025, 1, 29),
    2026: date(2026, 2, 17),
    2027: date(2027, 2, 6),
    2028: date(2028, 1, 26),
    2029: date(2029, 2, 13),
    2030: date(2030, 2, 3),
    2031: date(2031, 1, 23),
    2032: date(2032, 2, 11),
    2033: date(2033, 1, 31),
    2034: date(2034, 2, 19),
    2035: date(2035, 2, 8),
}
FIRST_YEAR: Final = min(SPRING_FESTIVAL)
LAST_YEAR: Final = max(SPRING_FESTIVAL)

SALARY_PRESSURE_FIRST_DAY: Final = 16  # due days from here to the month's end come before pay day
SALARY_PRESSURE: Final = 1.3  # hardship multiplier for due days before pay day
SALARY_RELIEF: Final = 0.85  # hardship multiplier for due days just after pay day


def month_index(day: date) -> int:
    """Months since 1970-01 (numpy's ``datetime64[M]`` count)."""
    return (day.year - 1970) * 12 + day.month - 1


def month_first_day(months: IntArray | int) -> IntArray:
    """Day number of the 1st of each month index."""
    return (
        np.asarray(months, dtype=np.int64)
        .astype("datetime64[M]")
        .astype("datetime64[D]")
        .astype(np.int64)
    )


def month_last_day(months: IntArray | int) -> IntArray:
    return month_first_day(np.asarray(months, dtype=np.int64) + 1) - 1


def day_number(day: date) -> int:
    return int(np.datetime64(day, "D").astype(np.int64))


def day_of_month(days: IntArray) -> IntArray:
    """1..31 for each day number."""
    months = days.astype("datetime64[D]").astype("datetime64[M]")
    return (days - months.astype("datetime64[D]").astype(np.int64) + 1).astype(np.int64)


def is_spring_festival_month(month: int) -> bool:
    """Whether the month index holds Chinese New Year (years outside the table: no effect)."""
    year = 1970 + month // 12
    festival = SPRING_FESTIVAL.get(year)
    return festival is not None and month_index(festival) == month


def covers(first: date, last: date) -> bool:
    """Whether the Spring Festival table covers every year from ``first`` to ``last``."""
    return first.year >= FIRST_YEAR and last.year <= LAST_YEAR


def salary_hardship(due_days: IntArray) -> npt.NDArray[np.float64]:
    """Hardship multiplier by due day: before month-end pay day it is harder to pay."""
    dom = day_of_month(due_days)
    return np.where(dom >= SALARY_PRESSURE_FIRST_DAY, SALARY_PRESSURE, SALARY_RELIEF)


def next_pay_day(days: IntArray) -> IntArray:
    """The next month-end pay day on or after each day (the month's last day)."""
    months = days.astype("datetime64[D]").astype("datetime64[M]").astype(np.int64)
    return month_last_day(months)
