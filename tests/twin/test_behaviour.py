"""Customer behaviour: actions by type, hardship, the Spring Festival, month-end pay, scenarios."""

from __future__ import annotations

import hashlib
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from overdue.portfolio import book_layout
from overdue.twin import calibration as cal
from overdue.twin.behaviour import (
    ARREARS_ACTIONS,
    STOPPED_ROW,
    Action,
    Behaviour,
    HabitTables,
    choose_actions,
)
from overdue.twin.customers import LatentType
from overdue.twin.generate import TwinSpec, generate_book, month_end_panel
from overdue.twin.seasonality import (
    day_number,
    is_spring_festival_month,
    month_index,
    next_pay_day,
    salary_hardship,
)

TABLES = HabitTables.of(Behaviour())
N = 40_000


def actions(kind: int, arrears: int, revolving: bool, hardship: float, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return choose_actions(
        TABLES,
        np.full(N, kind, dtype=np.int64),
        np.full(N, arrears, dtype=np.int64),
        np.full(N, revolving),
        np.full(N, hardship),
        rng.random(N),
    )


def test_fraud_never_pays() -> None:
    for arrears in (0, 1, 4):
        assert set(actions(LatentType.FRAUD, arrears, True, 1.0)) == {Action.MISS}


def test_in_arrears_only_arrears_actions_and_loans_have_no_minimum() -> None:
    for kind in LatentType:
        got = set(actions(kind, 2, False, 1.0).tolist())
        assert got <= {int(a) for a in ARREARS_ACTIONS}
        assert Action.MINIMUM not in set(actions(kind, 0, False, 1.0).tolist())
    assert Action.MINIMUM in set(actions(LatentType.SHORT_OF_MONEY, 0, True, 1.0).tolist())


def test_types_differ_as_documented() -> None:
    def share(kind: int, action: Action, arrears: int = 0) -> float:
        return float(np.mean(actions(kind, arrears, True, 1.0) == action))

    assert share(LatentType.FORGETFUL, Action.LATE) > 3 * share(LatentType.RELIABLE, Action.LATE)
    assert share(LatentType.SHORT_OF_MONEY, Action.MISS) > 10 * share(
        LatentType.RELIABLE, Action.MISS
    )
    assert share(LatentType.SHORT_OF_MONEY, Action.MINIMUM) > share(
        LatentType.RELIABLE, Action.MINIMUM
    )
    assert share(LatentType.FORGETFUL, Action.CURE, 1) > 0.8  # a reminder cures them
    assert share(STOPPED_ROW, Action.MISS) > 0.9  # unwilling, once stopped


@settings(max_examples=30, deadline=None)
@given(
    kind=st.sampled_from([LatentType.RELIABLE, LatentType.FORGETFUL, LatentType.SHORT_OF_MONEY]),
    arrears=st.integers(min_value=0, max_value=4),
    low=st.floats(min_value=0.5, max_value=1.5),
    extra=st.floats(min_value=0.3, max_value=1.5),
)
def test_hardship_never_lowers_misses(kind: int, arrears: int, low: float, extra: float) -> None:
    easy = actions(kind, arrears, True, low, seed=1)
    hard = actions(kind, arrears, True, low + extra, seed=1)  # same draws: a paired comparison
    assert np.mean(hard == Action.MISS) >= np.mean(easy == Action.MISS)


def test_festival_forgetting_raises_late_and_missed() -> None:
    rng = np.random.default_rng(3)
    args = (
        TABLES,
        np.full(N, LatentType.FORGETFUL, dtype=np.int64),
        np.zeros(N, dtype=np.int64),
        np.full(N, True),
        np.ones(N),
        rng.random(N),
    )
    usual = choose_actions(*args)
    festival = choose_actions(*args, forgetting=1.8)
    late = (Action.LATE, Action.MISS)
    assert np.isin(festival, late).mean() > 1.4 * np.isin(usual, late).mean()


def test_spring_festival_calendar_and_pay_day() -> None:
    assert is_spring_festival_month(month_index(date(2024, 2, 1)))
    assert not is_spring_festival_month(month_index(date(2024, 1, 1)))
    assert is_spring_festival_month(month_index(date(2025, 1, 1)))
    days = np.array([day_number(date(2024, 2, 3)), day_number(date(2024, 2, 20))])
    assert next_pay_day(days).tolist() == [day_number(date(2024, 2, 29))] * 2
    assert salary_hardship(days).tolist() == [0.85, 1.3]  # due before pay day is harder


def unpaid_by_due(book: Path) -> pd.Series:
    """Share of revolving bills with no payment from the statement to the due date, by month."""
    items = book_layout.read_table(book, "due_items").to_pandas()
    pays = book_layout.read_table(book, "payments").to_pandas()[["account_id", "value_date"]]
    bills = items[items["minimum_fen"].notna()][["account_id", "due_date", "entry_date"]]
    joined = bills.merge(pays, on="account_id", how="left")
    joined["on_time"] = (joined["value_date"] >= joined["entry_date"]) & (
        joined["value_date"] <= joined["due_date"]
    )
    per_bill = joined.groupby(["account_id", "due_date"])["on_time"].any().reset_index()
    per_bill["month"] = per_bill["due_date"].map(lambda d: d.month)
    return 1 - per_bill.groupby("month")["on_time"].mean()


def test_more_bills_unpaid_by_the_due_date_in_the_spring_festival_month(tmp_path: Path) -> None:
    book = tmp_path / "b"
    generate_book(TwinSpec(accounts=12_000, months=8, seed=5), book)
    unpaid = unpaid_by_due(book)
    festival = unpaid[2]  # Chinese New Year 2024: 10 February
    others = unpaid.drop(index=2).mean()
    assert festival > 1.2 * others, unpaid.to_dict()


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_downturn_same_customers_more_roll(tmp_path: Path) -> None:
    books = {}
    for scenario in ("baseline", "downturn"):
        books[scenario] = tmp_path / scenario
        generate_book(TwinSpec(accounts=3000, months=6, seed=9, scenario=scenario), books[scenario])
    for name in ("customers.parquet", "accounts.parquet", "_truth/latent_types.parquet"):
        assert digest(books["baseline"] / name) == digest(books["downturn"] / name), name
    rates = {}
    for scenario in ("baseline", "downturn"):
        spec = TwinSpec(accounts=30_000, months=12, seed=9, scenario=scenario)
        dpd, owes, product, _ = month_end_panel(spec)
        rates[scenario] = cal.transitions(cal.generator_codes(dpd, owes, product == 0))
    for source, target in (("0", "1"), ("1", "2")):
        assert rates["downturn"].known_rate(source, [target]) > 1.2 * rates["baseline"].known_rate(
            source, [target]
        )
    assert rates["downturn"].known_rate("1", cal.CURED) < rates["baseline"].known_rate(
        "1", cal.CURED
    )
