"""State the daily scoring keeps beside each snapshot (session 7): the day's event values (read
by the next day instead of the previous snapshot's account files) and the per-account
transitions aggregate (core and edge rows of a day R, serving the days R..R + K). Folded day by
day, each gives what the files give when read from scratch (property-based: random spans K,
random subsets of accounts, days with gaps, a snapshot written again)."""

from __future__ import annotations

import itertools
import os
import shutil
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from book_history import daily_after_middle
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from overdue.portfolio.engines import make_backend
from overdue.portfolio.eod import snapshot_dates, snapshot_files, snapshot_path
from overdue.scoring import daily_features, daily_items

OFFSETS = [1, 2, 3, 5, 8, 13]  # daily batches after the middle month end: gaps past small spans


@pytest.fixture(scope="module")
def kept_book(book_history, tmp_path_factory) -> tuple[Path, Path, list[date]]:
    book, snaps = book_history
    return daily_after_middle(book, snaps, tmp_path_factory.mktemp("kept_book"), OFFSETS)


def _scan(con, snaps: Path, days: list[date], day: date, ids: pa.Array) -> pa.Table:
    con.register("_want", pa.table({"account_id": ids}))
    sql = daily_features._transitions_sql(snaps, days, day, "_want") + " ORDER BY account_id"
    table = con.sql(sql).to_arrow_table()
    con.unregister("_want")
    return pa.table(daily_features._aligned(table, ids, daily_features.TRANSITION_COLUMNS))


def _kept(con, snaps: Path, days: list[date], day: date, previous: date | None,
          ids: pa.Array, quiet: bool = False) -> tuple[pa.Table, date]:  # fmt: skip
    state = daily_features.transition_state(con, snaps, days, day, previous, quiet)
    assert state is not None, "the twin's snapshots hold no transition after their day"
    got = daily_features._transitions_from_state(con, snaps, days, day, ids, *state)
    assert got is not None
    return pa.table(got), state[2]


def _assert_equal(got: pa.Table, want: pa.Table) -> None:
    assert got.schema.equals(want.schema), (got.schema, want.schema)
    for name in want.schema.names:
        assert got[name].combine_chunks().equals(want[name].combine_chunks()), name


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_transitions_folded_day_by_day_equal_the_scan(kept_book, data) -> None:
    """Every day of the book (month ends, then daily with gaps) with the state linked from the
    day before while its span lasts, and built again after: the columns of a random subset of
    accounts (all, none, some) equal the SQL scan of every transition file; a state built from
    scratch on the day gives the same."""
    _book, snaps, daily = kept_book
    con = make_backend("duckdb").con.con
    span = data.draw(st.integers(1, 20), label="span")
    saved = daily_features.TRANSITION_SPAN_DAYS
    daily_features.TRANSITION_SPAN_DAYS = span
    try:
        all_days = snapshot_dates(snaps)
        start = data.draw(st.integers(0, len(all_days) - len(daily) - 1), label="start")
        built_on = []
        for k, day in enumerate(all_days[start:], start=start):
            days = [d for d in all_days if d <= day]
            previous = all_days[k - 1] if k > start else None
            ids = daily_items.day_rows(snaps, day, None, 7)["account_id"].combine_chunks()
            share = data.draw(st.sampled_from([0.0, 0.3, 1.0]), label="share")
            rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1), label="seed"))
            chosen = np.sort(rng.permutation(len(ids))[: int(share * len(ids))])
            ids = ids.take(pa.array(chosen)).sort()
            want = _scan(con, snaps, days, day, ids)
            quiet = data.draw(st.booleans(), label="quiet")
            got, built = _kept(con, snaps, days, day, previous, ids, quiet)
            _assert_equal(got, want)
            if built != day:  # linked: within the span (half of it on a quiet day)
                assert built_on and built == built_on[-1][0]
                assert (day - built).days <= span
                assert not quiet or (day - built).days < span // 2
            built_on.append((built, day))
            scratch = daily_features._built_transitions(con, snaps, days, day)  # not written
            assert scratch is not None
            fresh = daily_features._transitions_from_state(con, snaps, days, day, ids, *scratch, day)
            assert fresh is not None
            _assert_equal(pa.table(fresh), want)
        assert built_on[0] == (all_days[start], all_days[start])
        if span >= 4:
            assert any(b != d for b, d in built_on), "a state linked to a later day"
    finally:
        daily_features.TRANSITION_SPAN_DAYS = saved


def test_transitions_state_after_a_snapshot_is_written_again(kept_book, tmp_path) -> None:
    """A snapshot up to R rewritten (new files): the state is not reused, and the columns
    still equal the scan."""
    _book, snaps, daily = kept_book
    copy = tmp_path / "snapshots"
    shutil.copytree(snaps, copy)
    con = make_backend("duckdb").con.con
    days = snapshot_dates(copy)
    first, second = daily[0], daily[1]
    ids = daily_items.day_rows(copy, second, None, 7)["account_id"].combine_chunks().sort()
    _kept(con, copy, [d for d in days if d <= first], first, None, ids)
    folder = snapshot_path(copy, first) / "transitions"
    for file in folder.rglob("*.parquet"):  # written again: same bytes, a new file
        shutil.copy(file, file.with_suffix(".tmp"))
        os.replace(file.with_suffix(".tmp"), file)
    upto = [d for d in days if d <= second]
    got, built = _kept(con, copy, upto, second, first, ids)
    assert built == second, "the state of a rewritten snapshot is built again"
    _assert_equal(got, _scan(con, copy, upto, second, ids))


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_event_values_kept_equal_the_previous_files(kept_book, tmp_path_factory, data) -> None:
    """The day's rows with the previous day's event values from its kept state equal those
    read from its account files, day after day; a kept state of a snapshot written again
    since, or altered, is not used."""
    _book, snaps, daily = kept_book
    root = tmp_path_factory.mktemp("events")
    copy = root / "snapshots"
    shutil.copytree(snaps, copy)
    con = make_backend("duckdb").con.con
    rewrite = data.draw(st.sampled_from([None, *daily[:-1]]), label="rewritten")
    days = snapshot_dates(copy)
    for previous, day in itertools.pairwise(days):
        if day < daily[0]:
            continue
        if previous == rewrite:  # the previous snapshot written again after its state
            for file in snapshot_files(copy, previous):
                shutil.copy(file, file.with_suffix(".tmp"))
                os.replace(file.with_suffix(".tmp"), file)
        here = snapshot_path(copy, day) / daily_features.STATE_DIR / daily_features.EVENTS_STATE
        kept = daily_features._read_state(
            snapshot_path(copy, previous), daily_features.EVENTS_STATE,
            daily_features._events_fingerprint(copy, previous),
        )  # fmt: skip
        assert (kept is not None) == (previous >= daily[0] and previous != rewrite)
        rows, source, at = daily_features.day_rows_for_scoring(con, copy, day, previous, 7)
        assert source == "summary" and here.is_file()
        plain, plain_at, _events = daily_items.day_rows_with_events(copy, day, previous, 7)
        assert rows.equals(plain)
        assert at is not None and plain_at is not None and (at == plain_at).all()
        sql = daily_features.day_rows_sql(con, copy, day, previous, 7)
        pd.testing.assert_frame_equal(rows.sort_by("account_id").to_pandas(), sql.to_pandas(),
                                      check_dtype=False)  # fmt: skip


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_payment_base_index_gives_the_merged_rows(kept_book, data) -> None:
    """The fresh accounts' rows of the payment base by its kept index (each recent and old
    row's account position in ``payments_last``) equal those found by merging sorted runs,
    for random subsets of accounts (some unknown to the base)."""
    book, snaps, daily = kept_book
    con = make_backend("duckdb").con.con
    day = data.draw(st.sampled_from(daily[1:]), label="day")
    previous = [d for d in snapshot_dates(snaps) if d < day][-1]
    daily_features.payment_state(con, book, snaps, previous, None)  # a base written on previous
    there = snapshot_path(snaps, previous)
    found = [daily_features._read_fingerprinted(there, n) for n in daily_features.BASE_FILES]
    assert all(f is not None for f in found)
    base = tuple(f[0] for f in found if f is not None)
    index = daily_features._base_index(there, base, found[0][1])
    assert index is not None
    ids = base[1]["account_id"].combine_chunks()
    share = data.draw(st.floats(0.0, 1.0), label="share")
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1), label="seed"))
    chosen = ids.take(pa.array(np.sort(rng.permutation(len(ids))[: int(share * len(ids))])))
    only = pa.table({"account_id": pa.concat_arrays([chosen, pa.array(["~no-such"])]).sort()})
    got = daily_features._base_of_accounts(base, index, only)
    want = daily_features._base_of_accounts(base, None, only)
    for a, b in zip(got, want, strict=True):
        assert a.equals(b)
