"""Differential tests: the end-of-day batch equals the per-account engine, field by field.

Random books (both products, backdated payments, waivers, reversals) are run through a full
rebuild and through a chain of incremental days (with a skipped day); every snapshot must equal
the reference engine applied to what was known at its date, account by account.
"""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

from book_factory import START, random_book, write_book
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from reference import contract_row, reference_states

from overdue.portfolio.eod import read_snapshot, run_eod
from overdue.portfolio.kernel import CONTRACT_FIELDS

FIELDS = [name for name, _ in CONTRACT_FIELDS]


def assert_snapshot_equals_reference(snapshot_dir: Path, rows: dict, as_of: date) -> None:
    snapshot = {r["account_id"]: r for r in read_snapshot(snapshot_dir, as_of).to_pylist()}
    reference = reference_states(rows, as_of)
    assert sorted(snapshot) == sorted(reference), "the batch must cover exactly the opened accounts"
    for account_id, state in reference.items():
        expected = contract_row(state)
        got = {k: snapshot[account_id][k] for k in FIELDS}
        assert got == expected, f"{account_id} at {as_of}: {_diff(got, expected)}"


def _diff(got: dict, expected: dict) -> dict:
    return {k: (got[k], expected[k]) for k in got if got[k] != expected[k]}


@settings(
    max_examples=6, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(seed=st.integers(0, 10_000), start_day=st.integers(40, 160))
def test_rebuild_and_incremental_equal_the_engine(
    tmp_path_factory, seed: int, start_day: int
) -> None:
    base = tmp_path_factory.mktemp("eod")
    rows = random_book(seed, accounts=25)
    data_dir = write_book(rows, base / "book")
    snapshots = base / "snapshots"
    first = START + timedelta(days=start_day)
    result = run_eod(data_dir, first, snapshots)
    assert result.mode == "rebuild"
    assert_snapshot_equals_reference(snapshots, rows, first)
    # three incremental days, then one skipped day (the run continues from the latest snapshot)
    for offset in (1, 2, 3, 5):
        day = first + timedelta(days=offset)
        result = run_eod(data_dir, day, snapshots)
        assert result.mode == "incremental"
        assert_snapshot_equals_reference(snapshots, rows, day)


def test_incremental_equals_rebuild_and_reruns_are_identical(tmp_path: Path) -> None:
    rows = random_book(7, accounts=40)
    data_dir = write_book(rows, tmp_path / "book")
    chain, fresh = tmp_path / "chain", tmp_path / "fresh"
    day0 = START + timedelta(days=90)
    run_eod(data_dir, day0, chain)
    for k in range(1, 8):
        run_eod(data_dir, day0 + timedelta(days=k), chain)
    last = day0 + timedelta(days=7)
    run_eod(data_dir, last, fresh)
    a, b = read_snapshot(chain, last), read_snapshot(fresh, last)
    assert a.drop_columns(["transitions"]).equals(b.drop_columns(["transitions"]))
    before = read_snapshot(chain, last)
    rerun = run_eod(data_dir, last, chain)
    assert rerun.mode == "incremental" and rerun.previous == (last - timedelta(days=1)).isoformat()
    assert read_snapshot(chain, last).equals(before), "rerunning a date must give identical content"


def test_a_later_backdated_entry_never_changes_an_earlier_snapshot(tmp_path: Path) -> None:
    rows = random_book(11, accounts=20)
    data_dir = write_book(rows, tmp_path / "book")
    snapshots = tmp_path / "snapshots"
    day = START + timedelta(days=100)
    run_eod(data_dir, day, snapshots)
    before = read_snapshot(snapshots, day)
    run_eod(data_dir, day + timedelta(days=10), snapshots)
    assert read_snapshot(snapshots, day).equals(before)
