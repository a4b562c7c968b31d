"""The credit reporting codes of domain.md §5, by example and by property."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from overdue.domain.credit_reporting import (
    GRID_MONTHS,
    METRO2_NEGATIVE,
    PBOC_NEGATIVE,
    ReportingMonth,
    amount_past_due_fen,
    first_delinquency_date,
    metro2_history,
    metro2_profile,
    metro2_status,
    pboc_code,
    pboc_grid,
)

months = st.builds(
    ReportingMonth,
    opened=st.just(True),
    known=st.just(True),
    product=st.sampled_from(["revolving", "installment"]),
    status=st.sampled_from(["current", "in_grace", "overdue", "charged_off", "settled"]),
    dpd=st.integers(0, 2000),
    missed_minimums=st.integers(0, 40),
    due_in_month=st.booleans(),
    owed_fen=st.integers(0, 10**12),
    charged_off=st.booleans(),
    placed_for_collection=st.booleans(),
)


@pytest.mark.parametrize(
    ("dpd", "code"),
    [(1, "1"), (30, "1"), (31, "2"), (60, "2"), (61, "3"), (180, "6"), (181, "7"), (900, "7")],
)
def test_pboc_loan_digit_is_dpd_in_30_day_steps(dpd: int, code: str) -> None:
    assert pboc_code(ReportingMonth(status="overdue", dpd=dpd)) == code


def test_pboc_revolving_digit_counts_missed_minimums() -> None:
    month = ReportingMonth(product="revolving", status="overdue", dpd=75, missed_minimums=2)
    assert pboc_code(month) == "2"
    assert pboc_code(ReportingMonth(product="revolving", status="overdue", dpd=400,
                                    missed_minimums=12)) == "7"  # fmt: skip


def test_pboc_letters() -> None:
    assert pboc_code(ReportingMonth(opened=False, known=False)) == "/"
    assert pboc_code(ReportingMonth(known=False)) == "#"
    assert pboc_code(ReportingMonth(status="settled")) == "C"
    assert pboc_code(ReportingMonth(due_in_month=False)) == "*"
    assert pboc_code(ReportingMonth(due_in_month=True)) == "N"
    # a grace day is not overdue: still normal
    assert pboc_code(ReportingMonth(status="in_grace", dpd=2)) == "N"


@pytest.mark.parametrize(
    ("dpd", "status"),
    [(0, "11"), (29, "11"), (30, "71"), (59, "71"), (60, "78"), (90, "80"), (120, "82"),
     (150, "83"), (179, "83"), (180, "84"), (999, "84")],
)  # fmt: skip
def test_metro2_status_by_dpd(dpd: int, status: str) -> None:
    state = "current" if dpd == 0 else "overdue"
    assert metro2_status(ReportingMonth(status=state, dpd=dpd, owed_fen=100)) == status


def test_metro2_special_statuses() -> None:
    assert metro2_status(ReportingMonth(status="charged_off", dpd=180, charged_off=True)) == "97"
    assert metro2_status(ReportingMonth(status="overdue", dpd=95,
                                        placed_for_collection=True)) == "93"  # fmt: skip
    assert metro2_status(ReportingMonth(status="settled")) == "13"
    assert metro2_status(ReportingMonth(status="settled", charged_off=True)) == "64"


def test_metro2_history_characters() -> None:
    assert metro2_history(ReportingMonth(opened=False, known=False)) == "B"
    assert metro2_history(ReportingMonth(known=False)) == "D"
    assert metro2_history(ReportingMonth(owed_fen=0)) == "E"
    assert metro2_history(ReportingMonth(owed_fen=5)) == "0"
    assert metro2_history(ReportingMonth(status="overdue", dpd=65, owed_fen=5)) == "2"
    assert metro2_history(ReportingMonth(status="overdue", dpd=400, owed_fen=5)) == "6"
    assert metro2_history(ReportingMonth(status="charged_off", dpd=200, owed_fen=5)) == "L"
    assert metro2_history(ReportingMonth(status="overdue", dpd=40, owed_fen=5,
                                         placed_for_collection=True)) == "G"  # fmt: skip


@given(months)
def test_pboc_negative_exactly_when_delinquent(month: ReportingMonth) -> None:
    code = pboc_code(month)
    assert len(code) == 1
    delinquent = month.status in ("overdue", "charged_off") and month.dpd > 0
    assert (code in PBOC_NEGATIVE) == delinquent


@given(months)
def test_metro2_current_only_below_30_days(month: ReportingMonth) -> None:
    status = metro2_status(month)
    if month.status not in ("settled", "charged_off") and not month.placed_for_collection:
        assert (status == "11") == (month.dpd < 30)
        assert (status in METRO2_NEGATIVE) == (month.dpd >= 30)


@given(st.integers(0, 3000), st.integers(0, 10**12))
def test_amount_past_due_counts_only_from_30_days(dpd: int, overdue_fen: int) -> None:
    amount = amount_past_due_fen(dpd, overdue_fen)
    assert amount == (overdue_fen if dpd >= 30 else 0)
    assert 0 <= amount <= overdue_fen


@given(st.dates(date(2000, 1, 2), date(2100, 1, 1)), st.integers(0, 3000))
def test_first_delinquency_is_30_days_after_the_missed_due_date(since: date, dpd: int) -> None:
    found = first_delinquency_date(since, dpd)
    if dpd < 30:
        assert found is None
    else:
        missed_due_date = since.toordinal() - 1
        assert found is not None and found.toordinal() - missed_due_date == 30


@given(st.lists(st.sampled_from(list("N1234567C#*/")), max_size=40))
def test_pboc_grid_is_24_months_ending_with_the_latest(codes: list[str]) -> None:
    grid = pboc_grid(codes)
    assert len(grid) == GRID_MONTHS
    if codes:
        assert grid[-1] == codes[-1]
        assert grid.endswith("".join(codes[-GRID_MONTHS:]))
    assert set(grid[: max(0, GRID_MONTHS - len(codes))]) <= {"/"}


@given(st.lists(st.sampled_from(list("0123456EDGL")), max_size=40))
def test_metro2_profile_is_newest_first(previous: list[str]) -> None:
    profile = metro2_profile(previous)
    assert len(profile) == GRID_MONTHS
    if previous:
        assert profile[0] == previous[-1]
    assert profile[min(len(previous), GRID_MONTHS):] == "B" * max(0, GRID_MONTHS - len(previous))


def test_a_repaid_revolving_line_stays_open() -> None:
    repaid = ReportingMonth(product="revolving", status="settled", owed_fen=0)
    assert pboc_code(repaid) == "N"
    assert pboc_code(ReportingMonth(product="revolving", status="settled",
                                    due_in_month=False)) == "*"  # fmt: skip
    assert metro2_status(repaid) == "11"
    assert metro2_history(repaid) == "E"
    written_off = ReportingMonth(product="revolving", status="settled", charged_off=True)
    assert pboc_code(written_off) == "C"
    assert metro2_status(written_off) == "64"
    assert metro2_history(written_off) == "L"
