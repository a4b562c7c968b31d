"""Differential test: the simulator's lean state reader equals the state of the whole snapshot."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import numpy as np

from overdue.portfolio.eod import read_snapshot, snapshot_dates
from overdue.strategy.sim_book import load_people
from overdue.strategy.sim_world import DayState
from overdue.strategy.simulate import SimConfig, simulate


def test_day_state_read_equals_day_state_of_the_snapshot(tmp_path: Path) -> None:
    out = tmp_path / "sim"
    config = SimConfig(accounts=300, days=3, strategy="aggressive", profile="us", seed=5,
                       out=out, keep_snapshots=True)  # fmt: skip
    simulate(config)
    people = load_people(out / "_work" / "base_book")
    snapshots = out / "_work" / "strategy" / "snapshots"
    days = snapshot_dates(snapshots)
    assert len(days) == 4
    for as_of in days:
        for day in (as_of, as_of + timedelta(days=1), as_of + timedelta(days=20)):
            lean = DayState.read(snapshots, as_of, day, people.account_id)
            whole = DayState.of(read_snapshot(snapshots, as_of), day, people.account_id)
            for name in ("dpd", "total_overdue_fen", "due_today_fen", "bucket_cn"):
                assert np.array_equal(getattr(lean, name), getattr(whole, name)), (as_of, day, name)
