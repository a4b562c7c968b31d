"""The item aggregates kept beside each snapshot (``item_state``) equal a computation from
scratch, day after day (due dates, window edges, a due-date wave, a skipped day), and the
aggregates of unchanged items do not move before their ``next_edge`` (property-based)."""

from __future__ import annotations

import shutil
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest
from book_history import daily_after_middle
from hypothesis import given, settings
from hypothesis import strategies as st

from overdue.portfolio.eod import snapshot_dates, snapshot_path
from overdue.scoring import daily_features, daily_items, item_state

# 13 daily batches after a month end, one day skipped: every day of a month's first half,
# where the revolving bills of the twin fall due (a wave entering the 7-day window)
DAYS = [*range(1, 11), 12, 13, 14]


@pytest.fixture(scope="module")
def item_book(book_history, tmp_path_factory) -> tuple[Path, Path, list[date]]:
    book, snaps = book_history
    return daily_after_middle(book, snaps, tmp_path_factory.mktemp("item_book"), DAYS)


def _by_id(table: pa.Table) -> pa.Table:
    return table.sort_by("account_id").combine_chunks()


def test_kept_aggregates_equal_from_scratch_day_after_day(item_book) -> None:
    book, snaps, days = item_book
    graces = item_state.grace_values(book)
    modes, recomputed = [], []
    for day in days:
        previous = [d for d in snapshot_dates(snaps) if d < day][-1]
        rows, stats = daily_items.day_rows_and_stats(snaps, day, previous, 7, book)
        reference = _by_id(item_state.from_scratch(snaps, day, graces))
        got = _by_id(rows.select(["account_id", *daily_items.ITEM_COLUMNS]))
        assert got.num_rows == reference.num_rows > 100
        assert got.equals(reference.drop_columns(["next_edge"])), day
        modes.append(stats.mode)
        recomputed.append(stats.recomputed / stats.accounts)
    assert modes[0] == "full", "the month end before has no item state"
    assert modes[1:] == ["kept"] * (len(days) - 1)
    assert min(recomputed[1:]) < 0.5, "most accounts are carried on some day"


def test_a_broken_count_falls_back_to_every_item_row(item_book, tmp_path) -> None:
    book, snaps, days = item_book
    copy = tmp_path / "snapshots"
    for day in days[:2]:
        shutil.copytree(snapshot_path(snaps, day), snapshot_path(copy, day))
    graces = item_state.grace_values(book)
    folder = snapshot_path(copy, days[0])
    with pa.OSFile(str(folder / "feature_state" / item_state.STATE_NAME)) as source:
        table = pa.ipc.open_file(source).read_all().replace_schema_metadata(None)
    counts = table["n_items"].to_numpy().copy()
    counts[np.flatnonzero(counts)[len(counts) // 3]] += 1  # one account's count is wrong
    broken = table.set_column(table.schema.get_field_index("n_items"), "n_items",
                              pa.array(counts, pa.int64()))  # fmt: skip
    # written with the copy's fingerprint, so that the day after reads it
    fingerprint = item_state.state_fingerprint(folder, days[0], graces)
    daily_features._write_state(folder, item_state.STATE_NAME, broken, fingerprint)
    rows, stats = daily_items.day_rows_and_stats(copy, days[1], days[0], 7, book)
    reference = _by_id(item_state.from_scratch(copy, days[1], graces))
    assert stats.mode == "full"
    got = _by_id(rows.select(["account_id", *daily_items.ITEM_COLUMNS]))
    assert got.equals(reference.drop_columns(["next_edge"]))


# -- property-based: the segment sums and the edges ------------------------------------------

START = date(2024, 1, 1)
item = st.tuples(
    st.integers(0, 400),  # due date, days after START
    st.integers(0, 5_000),  # required
    st.integers(0, 5_000),  # paid
    st.integers(0, 5_000),  # unpaid
    st.integers(0, 60),  # penalty days
    st.one_of(st.none(), st.integers(0, 3_000)),  # minimum (revolving)
)
account_items = st.lists(item, min_size=1, max_size=8)


def _table(accounts: list[list[tuple]]) -> tuple[pa.Table, np.ndarray]:
    rows = [(f"A{k:03d}", *row) for k, items in enumerate(accounts) for row in items]
    zero = [0] * len(rows)
    table = pa.table({
        "account_id": [r[0] for r in rows],
        "due_date": pa.array([START + timedelta(days=r[1]) for r in rows], pa.date32()),
        "principal_fen": pa.array([r[2] for r in rows], pa.int64()),
        "interest_fen": pa.array(zero, pa.int64()), "fee_fen": pa.array(zero, pa.int64()),
        "minimum_fen": pa.array([r[6] for r in rows], pa.int64()),
        "paid_fen": pa.array([r[3] for r in rows], pa.int64()),
        "unpaid_principal_fen": pa.array([r[4] for r in rows], pa.int64()),
        "unpaid_interest_fen": pa.array(zero, pa.int64()),
        "unpaid_fee_fen": pa.array(zero, pa.int64()),
        "penalty_days": pa.array([r[5] for r in rows], pa.int32()),
    })  # fmt: skip
    return table, np.array([len(items) for items in accounts], np.int64)


def _reference(items: list[tuple], as_of: date) -> dict[str, int]:
    """One account's aggregates, item by item (``features._item_features``)."""
    day = (as_of - START).days
    past = [r for r in items if r[0] < day]
    upcoming = [r[0] for r in items if r[0] > day and r[3] > 0]
    next_due = min(upcoming) if upcoming else None
    out = {
        "n_items_past": len(past), "n_items_late": sum(r[4] > 0 for r in past),
        "due_past_fen": sum(r[1] for r in past), "paid_past_fen": sum(r[2] for r in past),
        "outstanding_fen": sum(r[3] for r in items),
        "next_due_date": item_state.NO_DATE if next_due is None
        else item_state.day_number(START) + next_due,
        "next_due_amount_fen": sum(max((r[1] if r[5] is None else r[5]) - r[2], 0)
                                   for r in items if r[0] == next_due),
    }  # fmt: skip
    for name, window in {"3m": 91, "6m": 183, "12m": 365}.items():
        inside = [r for r in past if r[0] >= day - window]
        out[f"days_late_{name}"] = sum(r[4] for r in inside)
        if name == "3m":
            out["due_3m_fen"] = sum(r[1] for r in inside)
            out["paid_3m_items_fen"] = sum(r[2] for r in inside)
    return out


@settings(max_examples=60, deadline=None)
@given(st.lists(account_items, min_size=1, max_size=5), st.integers(0, 420),
       st.lists(st.integers(0, 5), max_size=2))  # fmt: skip
def test_segment_sums_equal_the_item_by_item_definition(accounts, day, graces) -> None:
    table, sizes = _table(accounts)
    as_of = START + timedelta(days=day)
    got = item_state.aggregate_runs(table, sizes, as_of, graces)
    for k, items in enumerate(accounts):
        expected = _reference(items, as_of)
        assert {name: int(got[name][k]) for name in expected} == expected


@settings(max_examples=60, deadline=None)
@given(st.lists(account_items, min_size=1, max_size=5), st.integers(0, 420),
       st.integers(1, 120), st.lists(st.integers(0, 5), max_size=2))  # fmt: skip
def test_unchanged_items_do_not_move_before_their_next_edge(accounts, day, ahead, graces) -> None:
    """The carry-forward's premise: with the same item rows, every aggregate on a later day
    before ``next_edge`` equals today's (and the next edge is the same)."""
    table, sizes = _table(accounts)
    today = START + timedelta(days=day)
    now = item_state.aggregate_runs(table, sizes, today, graces)
    later = item_state.aggregate_runs(table, sizes, today + timedelta(days=ahead), graces)
    before_edge = now["next_edge"] > item_state.day_number(today) + ahead
    for name in now:
        assert (now[name][before_edge] == later[name][before_edge]).all(), name
