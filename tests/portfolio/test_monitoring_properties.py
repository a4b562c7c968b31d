"""Invariants of the snapshot measures on random hand-made histories (hypothesis).

- the bucket distribution of every date adds up to that date's accounts (and balances);
- roll-rate rows with pairs sum to 1, by count and by balance, per date and pooled; rows without
  pairs are undefined;
- the roll-rate pair counts and the flow rates equal a plain-Python count over the same rows.
"""

from __future__ import annotations

import itertools
from collections import Counter
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_monitoring_support import account, item, write_snapshot

from overdue.domain.buckets import CN_BUCKETS, bucket_cn_for_dpd, bucket_us_for_dpd
from overdue.portfolio.monitor_history import load_history
from overdue.portfolio.monitoring import bucket_distribution, flows, roll_rates

START = date(2025, 1, 31)

state = st.tuples(
    st.integers(0, 220),  # dpd
    st.integers(0, 2_000_000),  # unpaid principal of the account's one item
)
histories = st.integers(1, 4).flatmap(
    lambda days: st.lists(
        st.lists(st.one_of(st.none(), state), min_size=days, max_size=days),
        min_size=1,
        max_size=8,
    )
)


def write(folder: Path, accounts: list[list[Any]]) -> dict[date, list[dict[str, Any]]]:
    days = len(accounts[0])
    written: dict[date, list[dict[str, Any]]] = {}
    for k in range(days):
        as_of = START + timedelta(days=30 * k)
        rows = []
        for a, states in enumerate(accounts):
            if states[k] is None:
                continue
            dpd, unpaid = states[k]
            rows.append(
                account(
                    f"A{a}", as_of, status="overdue" if dpd else "current", dpd=dpd,
                    bucket_cn=bucket_cn_for_dpd(dpd), bucket_us=bucket_us_for_dpd(dpd),
                    items=[item(f"A{a}-1", START, unpaid)],
                )
            )  # fmt: skip
        if rows:
            write_snapshot(folder, as_of, rows)
            written[as_of] = rows
    return written


@settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(accounts=histories)
def test_distribution_and_roll_rate_invariants(tmp_path_factory: Any, accounts: list) -> None:
    folder = tmp_path_factory.mktemp("prop")
    written = write(folder, accounts)
    if not written:
        return
    history = load_history(folder)
    dates = list(written)
    assert history.dates == tuple(dates)
    for scheme in ("cn", "us"):
        dist = bucket_distribution(history, scheme)
        for k, day in enumerate(dates):
            assert sum(dist.accounts[k]) == len(written[day])
            assert sum(dist.balance_fen[k]) == sum(
                r["items"][0]["unpaid_principal_fen"] for r in written[day]
            )
            shares = [s for s in dist.shares("count")[k] if s is not None]
            assert sum(shares) == pytest.approx(1.0)

    roll = roll_rates(history)
    pairs: Counter[tuple[str, str]] = Counter()
    for before, after in itertools.pairwise(dates):
        now = {r["account_id"]: r["bucket_cn"] for r in written[after]}
        for r in written[before]:
            if r["account_id"] in now:
                pairs[(r["bucket_cn"], now[r["account_id"]])] += 1
    states = roll.pooled.states
    assert {(states[i], states[j]): c for i, row in enumerate(roll.pooled.counts)
            for j, c in enumerate(row) if c} == dict(pairs)  # fmt: skip
    for at, matrix in [(None, roll.pooled), *roll.by_date]:
        for basis in ("count", "balance"):
            for i, row in enumerate(roll.matrix(basis, at).rates):
                weight = sum(matrix.counts[i]) if basis == "count" else sum(matrix.weights[i])
                if weight == 0:
                    assert all(r is None for r in row)
                else:
                    assert sum(r or 0.0 for r in row) == pytest.approx(1.0)
                    assert all(r is not None and 0 <= r <= 1 for r in row)

    # flow rates: bucket totals, except that M7 at t counts only accounts whose previous row
    # (the last earlier date they appear on) was not M7 (the open top bucket)
    flow = flows(history).count
    totals: dict[date, Counter[str]] = {}
    previous: dict[str, str] = {}
    for day in dates:
        totals[day] = Counter()
        for r in written[day]:
            stayed = r["bucket_cn"] == "M7" and previous.get(r["account_id"]) == "M7"
            totals[day][r["bucket_cn"]] += 0 if stayed else 1
            previous[r["account_id"]] = r["bucket_cn"]
    for period, (before, after) in zip(flow.by_period, itertools.pairwise(dates), strict=True):
        assert period.period == after.isoformat()
        for step, low, high in zip(period.steps, CN_BUCKETS, CN_BUCKETS[1:], strict=False):
            assert (step.numerator, step.denominator) == (totals[after][high], totals[before][low])
