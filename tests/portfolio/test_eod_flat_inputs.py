"""The kernel fed from flat event tables (DuckDB's default) writes the same snapshots as the
kernel fed from nested rows (``OVERDUE_EOD_INPUT=nested``): same rows, order and values, on
rebuilds, incremental days, a skipped day and replays (backdated entries, reversals)."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from book_factory import START, random_book, write_book
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from overdue.portfolio import eod
from overdue.portfolio.eod import EodError, read_snapshot, run_eod, snapshot_path
from overdue.portfolio.fast_inputs import event_offsets, flat_accounts_ok, nested_batches


def _run_days(
    monkeypatch: pytest.MonkeyPatch, mode: str, data_dir: Path, out: Path, days: list[date]
) -> list[tuple[pa.Table, pa.Table, dict]]:
    monkeypatch.setenv(eod.INPUT_ENV, mode)
    found = []
    for day in days:
        result = run_eod(data_dir, day, out)
        transitions = pq.read_table(snapshot_path(out, day) / "transitions")
        manifest = eod._manifest(result)
        assert manifest.pop("snapshot") == str(snapshot_path(out, day))  # differs: the folder
        found.append((read_snapshot(out, day), transitions, manifest))
    return found


@settings(
    max_examples=3, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(seed=st.integers(0, 10_000), start_day=st.integers(30, 170), kernel=st.booleans())
def test_flat_and_nested_inputs_write_the_same_snapshots(
    tmp_path_factory, monkeypatch, seed: int, start_day: int, kernel: bool
) -> None:
    base = tmp_path_factory.mktemp("flat")
    data_dir = write_book(random_book(seed, accounts=30), base / "book")
    first = START + timedelta(days=start_day)
    days = [first + timedelta(days=k) for k in (0, 1, 2, 4, 12)]  # a skipped day, a long gap
    with monkeypatch.context() as patch:
        patch.setenv("OVERDUE_KERNEL", "fast" if kernel else "python")
        nested = _run_days(patch, "nested", data_dir, base / "nested", days)
        flat = _run_days(patch, "flat", data_dir, base / "flat", days)
    assert [m["mode"] for _, _, m in flat] == ["rebuild"] + ["incremental"] * 4
    for day, (n_rows, n_trans, n_manifest), (f_rows, f_trans, f_manifest) in zip(
        days, nested, flat, strict=True
    ):
        assert f_rows.num_rows > 0
        assert f_rows.equals(n_rows), f"{day}: the snapshots differ"
        assert f_trans.equals(n_trans), f"{day}: the transitions differ"
        assert f_manifest == n_manifest, f"{day}: the manifests differ"


def test_an_unknown_input_mode_is_refused(tmp_path: Path, monkeypatch) -> None:
    data_dir = write_book(random_book(1, accounts=3), tmp_path / "book")
    monkeypatch.setenv(eod.INPUT_ENV, "sideways")
    with pytest.raises(EodError, match="OVERDUE_EOD_INPUT"):
        run_eod(data_dir, START + timedelta(days=60), tmp_path / "out")


def test_events_of_unlisted_accounts_are_dropped_and_segments_follow_the_accounts() -> None:
    accounts = pa.table({"account_id": ["A1", "A3", "A5"], "policy": ["p", "q", "r"]})
    events = pa.table(
        {
            "account_id": ["A0", "A1", "A1", "A2", "A5", "A6"],
            "entry_seq": [1, 2, 3, 4, 5, 6],
        }
    )
    kept, offsets = event_offsets(accounts.column("account_id").combine_chunks(), events)
    assert kept.column("entry_seq").to_pylist() == [2, 3, 5]
    assert offsets.tolist() == [0, 2, 2, 3]
    batches = list(nested_batches(accounts, {"payments": (events, ("entry_seq",))}, chunk_rows=2))
    assert [b.num_rows for b in batches] == [2, 1]
    rows = [r for b in batches for r in b.to_pylist()]
    assert [r["account_id"] for r in rows] == ["A1", "A3", "A5"]
    # an account without events has a null list, as the nested rows' left join gives
    assert [r["payments"] for r in rows] == [
        [{"entry_seq": 2}, {"entry_seq": 3}],
        None,
        [{"entry_seq": 5}],
    ]


def test_events_out_of_account_order_are_refused() -> None:
    ids = pa.array(["A1", "A2"])
    events = pa.table({"account_id": ["A2", "A1"]})
    with pytest.raises(AssertionError, match="ordered"):
        event_offsets(ids, events)


@pytest.mark.parametrize(
    ("ids", "ok"),
    [(["A1", "A2"], True), (["A1", "A1"], False), (["A2", "A1"], False), (["A1", None], False)],
)
def test_flat_alignment_needs_unique_sorted_ids(ids: list, ok: bool) -> None:
    assert flat_accounts_ok(pa.table({"account_id": pa.array(ids, pa.string())})) is ok
