"""The daily run's plain-SQL features with kept state (``daily_features``) equal the Ibis
definition (``build_features``) day after day, for every account and for subsets; the state is
point-in-time; the fresh-score rule scores an account once on entering the warning window."""

from __future__ import annotations

import itertools
import shutil
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pytest
from book_history import daily_after_middle

from overdue.portfolio.engines import make_backend
from overdue.portfolio.eod import snapshot_dates, snapshot_path
from overdue.scoring import daily_features, daily_items
from overdue.scoring.features import FeatureSource, build_features, finish, pit_differences
from overdue.scoring.score_eod import needs_fresh_score

DAILY = 5  # daily batches after a month end in the middle of the book


@pytest.fixture(scope="module")
def daily_book(book_history, tmp_path_factory) -> tuple[Path, Path, list[date]]:
    """The book and its month ends up to one in the middle, then DAILY daily batches."""
    book, snaps = book_history
    return daily_after_middle(book, snaps, tmp_path_factory.mktemp("daily_book"), list(range(1, DAILY + 1)))


def _daily(con, book: Path, snaps: Path, day: date, ids: list[str] | None) -> pd.DataFrame:
    days = [d for d in snapshot_dates(snaps) if d <= day]
    previous = days[-2] if len(days) > 1 else None
    rows = daily_features.day_rows(con, snaps, day, previous, 7)
    wanted = rows.column("account_id") if ids is None else pa.array(ids, pa.string())
    fresh = pa.table({"account_id": wanted})
    raw = daily_features.raw_rows(con, snaps, book, days, day, previous, rows, fresh)
    return finish(raw.to_pandas(), day)


def _sorted(table: pa.Table, key: str) -> pa.Table:
    return table.sort_by([(key, "ascending")]).combine_chunks()


def test_daily_rows_equal_the_definition_day_after_day(daily_book) -> None:
    book, snaps, days = daily_book
    backend = make_backend("duckdb")
    con = backend.con.con
    source = FeatureSource(backend, snaps, book)
    reused, rolled = [], []
    for day in days:
        reference = build_features(source, day)
        previous = [d for d in snapshot_dates(snaps) if d < day][-1]
        fast = _sorted(daily_items.day_rows(snaps, day, previous, 7), "account_id")
        sql = daily_features.day_rows_sql(con, snaps, day, previous, 7)
        pd.testing.assert_frame_equal(fast.to_pandas(), sql.to_pandas(), check_dtype=False)
        got = _daily(con, book, snaps, day, None)
        assert len(got) == len(reference) > 100
        assert pit_differences(reference, got) == []
        ids = reference["account_id"].iloc[::5].tolist()
        subset = _daily(con, book, snaps, day, ids)
        expected = reference[reference["account_id"].isin(ids)].reset_index(drop=True)
        assert pit_differences(expected, subset) == []
        reused.append(
            daily_features.history_of_earlier_months(
                con, snaps, snapshot_dates(snaps), day, previous
            )[1]
        )
        rolled.append(daily_features.payment_state(con, book, snaps, day, previous)[2])
        state = snapshot_path(snaps, day) / daily_features.STATE_DIR
        assert not [p.name for p in state.iterdir() if p.name.startswith(".")], "temp files left"
    assert all(rolled[1:]), "the payment state rolls forward from the day before"
    assert any(reused[1:]), "the month-end history is reused between window edges"


@pytest.mark.parametrize("compact_share", [daily_features.COMPACT_SHARE, 0.0])
def test_state_rebuilt_from_scratch_equals_rolled_state(daily_book, monkeypatch, compact_share) -> None:
    """Rolled day after day from a fresh state, the payment state (recent payments, each
    account's latest payment date and its latest payment before the recent window) equals
    the one built from the whole history: for every account and for a subset, whether the
    day keeps a delta over an earlier base or folds it into a new base (share 0: every day)."""
    monkeypatch.setattr(daily_features, "COMPACT_SHARE", compact_share)
    book, snaps, days = daily_book
    con = make_backend("duckdb").con.con
    daily_features.payment_state(con, book, snaps, days[0], None)  # a fresh state
    dates = ["account_id", "value_date"]
    for previous, day in itertools.pairwise(days):
        state = snapshot_path(snaps, day) / daily_features.STATE_DIR
        shutil.rmtree(state, ignore_errors=True)  # this day's state from the previous one's
        recent, last, old, rolled = daily_features.payment_tables(con, book, snaps, day, previous)
        assert rolled
        delta = (state / daily_features.DELTA_FILES[0]).is_file()
        assert delta == (compact_share > 0), "a delta kept, or folded into a new base"
        full_recent, full_last, full_old = daily_features._payments_from_history(con, book, day)
        assert _sorted(recent, "payment_id").equals(_sorted(full_recent, "payment_id"))
        assert _sorted(last, "account_id").equals(_sorted(full_last, "account_id"))
        assert _sorted(old.select(dates), "account_id").equals(
            _sorted(full_old.select(dates), "account_id")
        )
        ids = full_last["account_id"].take(pa.array(range(0, full_last.num_rows, 3))).combine_chunks()
        only = pa.table({"account_id": pa.concat_arrays([ids, pa.array(["no-such-account"])])})
        part = daily_features.payment_tables(con, book, snaps, day, previous, only)
        for got, want, key in ((part[0], full_recent, "payment_id"),
                               (part[1], full_last, "account_id")):  # fmt: skip
            mine = want.filter(pc.is_in(want["account_id"], value_set=ids))
            assert _sorted(got, key).equals(_sorted(mine, key))


def test_a_reversal_of_an_old_last_payment_is_looked_up_in_full(daily_book, tmp_path) -> None:
    """An account whose only payments are older than the recent window: reversing its latest
    payment today must move its last payment date back (or drop it)."""
    book, snaps, days = daily_book
    con = make_backend("duckdb").con.con
    previous, day = days[-2], days[-1]
    import pyarrow.parquet as pq

    paid = pq.read_table(book / "payments").to_pandas()
    paid["value_date"] = pd.to_datetime(paid["value_date"]).dt.date
    booked = pd.to_datetime(paid["entry_date"].astype(str)).dt.date
    paid = paid[booked <= previous]  # what the book held before the reversal's day
    cut = day - timedelta(days=daily_features.RECENT_DAYS)
    last = paid.groupby("account_id")["value_date"].max()
    old_only = last[last <= cut].index
    candidates = paid[paid["account_id"].isin(old_only)].sort_values("value_date")
    assert len(candidates), "the test book needs an account without recent payments"
    victim = candidates.groupby("account_id").tail(1).iloc[0]
    my_book = tmp_path / "book"
    shutil.copytree(book, my_book)
    folder = my_book / "reversals" / f"entry_date={day.isoformat()}"
    folder.mkdir(parents=True, exist_ok=True)
    extra = pa.table({
        "reversal_id": ["R-test"], "payment_id": [victim["payment_id"]],
        "account_id": [victim["account_id"]], "value_date": pa.array([day], pa.date32()),
        "entry_seq": pa.array([10**12], pa.int64()),
    })  # fmt: skip
    if (folder / "part-0.parquet").is_file():
        old = pq.read_table(folder / "part-0.parquet")
        extra = pa.concat_tables([old, extra.select(old.column_names).cast(old.schema)])
    pq.write_table(extra, folder / "part-0.parquet")
    my_snaps = tmp_path / "snapshots"
    shutil.copytree(snaps, my_snaps)
    daily_features.payment_state(con, my_book, my_snaps, previous, None)  # a fresh state
    rolled = daily_features.payment_state(con, my_book, my_snaps, day, previous)
    full = daily_features.payment_state(con, my_book, my_snaps, day, None)
    assert rolled[2] and not full[2]
    assert _sorted(rolled[1], "account_id").equals(_sorted(full[1], "account_id"))
    last_after = dict(zip(*full[1].to_pydict().values(), strict=True))
    same_day = candidates[(candidates["account_id"] == victim["account_id"])
                          & (candidates["value_date"] == victim["value_date"])]  # fmt: skip
    if len(same_day) == 1:
        assert last_after.get(victim["account_id"]) != victim["value_date"]


def test_fresh_once_on_entering_the_warning_window() -> None:
    as_of = date(2024, 12, 3)
    flags = pd.DataFrame({
        "account_id": ["a", "b", "c", "d", "e", "f"],
        "next_due_date": pd.to_datetime(["2024-12-10", "2024-12-10", "2024-12-09",
                                         "2024-12-30", "2024-12-10", None]),
        "due_soon": [True, True, True, False, True, False],
        "new_delinquent": [False] * 6,
        "changed": [False, False, False, False, True, False],
    })  # fmt: skip
    prev_ids = pa.array(["a", "b", "c", "d", "e", "f"])
    scored_on = np.array(["2024-12-02", "2024-12-03", "2024-12-02", "2024-12-01", "2024-12-03",
                          "2024-11-25"], dtype="datetime64[D]")  # fmt: skip
    ids = pa.array(flags["account_id"])
    got = needs_fresh_score(flags, ids, prev_ids, scored_on, as_of, 7)
    # a: its window opened on the 3rd, scored on the 2nd → fresh; b: scored inside → carried;
    # c: window opened on the 2nd, scored on the 2nd → carried; d: not due soon → carried;
    # e: changed → fresh; f: its score is 8 days old → fresh
    assert list(got) == [True, False, False, False, True, True]
    nothing = needs_fresh_score(flags, ids, prev_ids[:0], scored_on[:0], as_of, 7)
    assert list(nothing) == [True] * 6
    # the same rule from the previous rows' positions among today's ids (the daily run's form),
    # previous rows in another order, one of them for an account gone today
    order = [5, 3, 1, 0, 2, 4]
    gone_ids = pa.array([*[prev_ids[k].as_py() for k in order], "z"])
    gone_on = np.r_[scored_on[order], np.datetime64("2024-12-03")]
    back = pc.index_in(gone_ids, value_set=ids)
    again = needs_fresh_score(flags, ids, gone_ids, gone_on, as_of, 7, back=back)
    assert list(again) == list(got)
    empty = pc.index_in(prev_ids[:0], value_set=ids)
    assert list(needs_fresh_score(flags, ids, prev_ids[:0], scored_on[:0], as_of, 7,
                                  back=empty)) == [True] * 6  # fmt: skip
    assert np.asarray(got).dtype == bool


def test_dpd_aging_and_penalty_accrual_are_not_changes() -> None:
    cols = {"account_id": ["a", "b", "c"], "status": ["overdue"] * 3, "bucket_cn": ["M1"] * 3,
            "paid_total_fen": [100, 100, 100], "waived_total_fen": [0, 0, 0]}  # fmt: skip
    before = pa.table({**cols, "total_overdue_fen": [500, 500, 500],
                       "penalty_accrued_fen": [10, 10, 10]})  # fmt: skip
    now = pa.table({**cols, "total_overdue_fen": [505, 505, 900],
                    "penalty_accrued_fen": [15, 15, 15]})  # fmt: skip
    now = now.set_column(3, "paid_total_fen", pa.array([100, 150, 100]))
    assert daily_items._changed(now, before).to_pylist() == [False, True, True]


def test_lean_day_rows_are_the_day_rows_once_nulled(daily_book) -> None:
    """The lean form (columns as read, item columns nulled by ``nulled_items`` for the rows a
    caller takes) gives the same rows, flags and alignment as ``day_rows_with_events``."""
    _book, snaps, days = daily_book
    for previous, day in itertools.pairwise(days):
        full, at, events = daily_items.day_rows_with_events(snaps, day, previous, 7)
        lean, lean_at, lean_events = daily_items.day_rows_with_events(snaps, day, previous, 7,
                                                                      lean=True)  # fmt: skip
        assert daily_items.nulled_items(lean).combine_chunks().equals(full)
        assert np.array_equal(at, lean_at) and events.equals(lean_events)
        rows = pa.array(np.arange(0, full.num_rows, 7))
        assert daily_items.nulled_items(lean.take(rows)).equals(full.take(rows))
