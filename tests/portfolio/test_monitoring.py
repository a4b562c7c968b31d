"""Monitoring measures on the hand-made history of ``test_monitoring_support.hand_rows``.

Every expected number below is worked out by hand from the rows' docstring (balances are the
unpaid principal of all items): see the comments next to each figure.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from test_monitoring_support import D0, D1, D2, MID, account, hand_history, item, write_snapshot

from overdue.portfolio.monitor_history import MonitoringError, choose_dates, load_history
from overdue.portfolio.monitoring import Monitoring, monitor

L0, L1, L2 = D0.isoformat(), D1.isoformat(), D2.isoformat()


@pytest.fixture(scope="module")
def measured(tmp_path_factory: pytest.TempPathFactory) -> Monitoring:
    folder = tmp_path_factory.mktemp("hand")
    hand_history(folder)
    return monitor(folder)


def test_dates_are_every_snapshot_or_the_last_of_each_month() -> None:
    days = [date(2025, 1, 5), date(2025, 1, 31), date(2025, 2, 3), date(2025, 2, 27)]
    assert choose_dates(days, "day") == days
    assert choose_dates(days, "month") == [date(2025, 1, 31), date(2025, 2, 27)]
    assert choose_dates(days, "month", first=date(2025, 2, 1)) == [date(2025, 2, 27)]
    assert choose_dates(days, "day", last=date(2025, 1, 31)) == days[:2]
    with pytest.raises(MonitoringError, match="--period 'week'"):
        choose_dates(days, "week")


def test_bucket_distribution_by_count_and_balance(measured: Monitoring) -> None:
    cn = measured.distribution["cn"]
    assert cn.dates == (L0, L1, L2)
    #                 M0  M1  M2  M3  M4  M5  M6  M7
    assert cn.accounts == (
        (2, 1, 0, 0, 1, 1, 0, 0),  # A B | C | F | D
        (2, 1, 1, 0, 0, 1, 1, 0),  # B E | A | C | F | D
        (2, 1, 1, 0, 0, 0, 1, 1),  # B C | E | A | F | D
    )
    assert cn.balance_fen == (
        (5000, 4000, 0, 0, 800, 5000, 0, 0),  # A 2000 + B 3000 | C | F | D
        (3500, 2000, 4000, 0, 0, 800, 4600, 0),  # B 1500 + E 2000 | A | C | F | D 4600
        (0, 2700, 2000, 0, 0, 0, 800, 4600),  # B, C paid | E 2000 + 700 | A | F | D
    )
    us = measured.distribution["us"]
    #                current 30 60 90 120 150 180+
    assert us.accounts[2] == (3, 1, 0, 0, 0, 1, 1)  # B C E | A | F | D
    assert cn.share("count", 2, {"M2", "M3", "M4", "M5", "M6", "M7"}) == pytest.approx(3 / 6)
    assert cn.share("balance", 0, {"M0"}) == pytest.approx(5000 / 14800)


def test_roll_rates_pooled_and_per_date(measured: Monitoring) -> None:
    roll = measured.roll
    counts = roll.pooled.counts
    s = roll.pooled.states.index
    # pairs: A M0>M1, B M0>M0, C M1>M2, D M5>M6, F M4>M5 | A M1>M2, B M0>M0, C M2>M0, D M6>M7,
    #        E M0>M1, F M5>M6
    assert counts[s("M0")][s("M0")] == 2 and counts[s("M0")][s("M1")] == 2
    assert counts[s("M1")][s("M2")] == 2 and counts[s("M2")][s("M0")] == 1
    assert roll.pooled.pairs == 11
    assert roll.rate("count", "M0", "M1", None) == pytest.approx(0.5)
    # by balance at t-1: M0 -> M0: B 3000 + B 1500; M0 -> M1: A 2000 + E 2000
    assert roll.rate("balance", "M0", "M0", None) == pytest.approx(4500 / 8500)
    assert roll.rate("balance", "M0", "M1", None) == pytest.approx(4000 / 8500)
    assert roll.rate("count", "M3", "M4", None) is None  # nobody in M3
    assert roll.rate("balance", "M0", "M1", L1) == pytest.approx(2000 / 5000)
    assert roll.rate("balance", "M0", "M1", L2) == pytest.approx(2000 / 3500)
    assert roll.rate("count", "M6", "M7", L2) == pytest.approx(1.0)
    assert [at for at, _ in roll.by_date] == [L1, L2]


def test_cure_rates(measured: Monitoring) -> None:
    roll = measured.roll
    assert roll.cure_rate("count", "M2", None) == pytest.approx(1.0)  # C paid in March
    assert roll.cure_rate("count", "M1", None) == pytest.approx(0.0)  # C, A both rolled
    assert roll.cure_rate("balance", "M2", L2) == pytest.approx(1.0)
    assert roll.cure_rate("count", "M2", L1) is None  # nobody in M2 at 01-31
    assert roll.cure_rate("count", "M5", None) == pytest.approx(0.0)


def test_flow_rates_and_net_flow(measured: Monitoring) -> None:
    flows = measured.flows
    # period 02-28: M1 at t / M0 at t-1 = 1 / 2; M4 -> M5: 1 / 1; M2 -> M3: 0 / 0
    assert flows.rate("count", "M0", L1) == pytest.approx(0.5)
    assert flows.rate("count", "M4", L1) == pytest.approx(1.0)
    assert flows.rate("count", "M2", L1) is None
    # period 03-31: M2 -> M3: nobody in M3 / C in M2 at t-1
    assert flows.rate("count", "M2", L2) == pytest.approx(0.0)
    # pooled by balance: M0 -> M1 = (A 2000 + E 2700) / (5000 + 3500)
    assert flows.rate("balance", "M0", None) == pytest.approx(4700 / 8500)
    assert flows.rate("balance", "M2", None) == pytest.approx(0 / 4000)
    assert flows.net_flow("count", None) is None  # M3 -> M4 is 0 / 0 in both periods
    assert flows.net_flow("count", L2) is None


def test_day_figures(measured: Monitoring) -> None:
    d0, d1, d2 = measured.days
    assert (d0.accounts, d0.active, d0.delinquent) == (5, 5, 3)  # C, D, F
    assert d0.delinquent_rate("balance") == pytest.approx(9800 / 14800)
    assert d0.total_overdue_fen == 4040 + 5600 + 880
    assert (d0.charged_off, d0.charged_off_balance_fen, d0.charged_off_owed_fen) == (1, 5000, 5600)
    assert (d0.new_charge_offs, d0.recovered_fen) == (None, None)
    assert (d1.accounts, d1.delinquent, d1.delinquent_rate("count")) == (6, 4, pytest.approx(4 / 6))
    assert d1.total_overdue_fen == 1059 + 4096 + 4600 + 896
    assert (d1.new_charge_offs, d1.new_charge_off_fen) == (1, 800)  # F on 02-20
    assert (d1.recovered_total_fen, d1.recovered_fen) == (1000, 1000)
    assert d1.charged_off_owed_fen == 4600 + 896
    assert d1.recovery_rate == pytest.approx(1000 / (1000 + 5496))
    assert (d2.active, d2.delinquent) == (5, 4)  # B settled; A, D, E, F delinquent
    assert d2.delinquent_rate("balance") == pytest.approx(1.0)
    assert (d2.new_charge_offs, d2.new_charge_off_fen, d2.recovered_fen) == (0, 0, 0)


def test_entry_rates(measured: Monitoring) -> None:
    first, second = measured.entry
    assert (first.start, first.as_of) == (L0, L1)
    # I1 (1050, overdue) and J1 (1575, paid on time)
    assert (first.items_due, first.items_entered) == (2, 1)
    assert (first.amount_due_fen, first.amount_entered_fen) == (2625, 1050)
    assert first.rate("balance") == pytest.approx(0.4)
    # I2 1050 in, J2 1575 in (2 days late), K1 500 closed by minimum, E1 2100 in; E2 (due on the
    # last day) pending; J3 owes nothing
    assert (second.items_due, second.items_entered, second.items_pending) == (4, 3, 1)
    assert (second.amount_due_fen, second.amount_entered_fen) == (5225, 4725)
    assert second.amount_pending_fen == 700
    assert second.rate("count") == pytest.approx(0.75)


def test_month_period_skips_mid_month_snapshots(tmp_path: Path) -> None:
    hand_history(tmp_path / "a", with_mid=True)
    hand_history(tmp_path / "b")
    by_month = monitor(tmp_path / "a", period="month").to_json_dict()
    daily = monitor(tmp_path / "b").to_json_dict()
    for data in (by_month, daily):
        data.pop("snapshot_dir"), data.pop("period")
    assert by_month == daily
    every_day = load_history(tmp_path / "a")
    assert every_day.dates == (D0, MID, D1, D2)


def test_one_snapshot_has_no_pairs(tmp_path: Path) -> None:
    write_snapshot(tmp_path, D0, [account("A", D0), account("B", D0, dpd=3, bucket_cn="M1")])
    m = monitor(tmp_path)
    assert m.roll.pooled.pairs == 0 and m.entry == () and m.roll.by_date == ()
    assert m.distribution["cn"].accounts == ((1, 1, 0, 0, 0, 0, 0, 0),)


def test_bad_inputs_are_one_line_errors(tmp_path: Path) -> None:
    with pytest.raises(MonitoringError, match="no such snapshot folder"):
        monitor(tmp_path / "missing")
    with pytest.raises(MonitoringError, match="no snapshots"):
        monitor(tmp_path)
    write_snapshot(tmp_path, D0, [account("A", D0, bucket_cn="M9")])
    with pytest.raises(MonitoringError, match="bucket_cn 'M9'"):
        monitor(tmp_path)
    with pytest.raises(MonitoringError, match="no snapshot between"):
        load_history(tmp_path, first=date(2026, 1, 1))


def test_unknown_policy_names_the_policy(tmp_path: Path) -> None:
    row = account("A", D0)
    row["policy"] = "my-own"
    write_snapshot(tmp_path, D0, [row])
    with pytest.raises(MonitoringError, match=r"policy 'my-own'.*--book"):
        monitor(tmp_path)


def test_flow_into_the_open_top_bucket_counts_new_arrivals(tmp_path: Path) -> None:
    # G stays in M7; H goes M6 -> M7; K goes M5 -> M6
    for k, day in enumerate((D0, D1)):
        write_snapshot(
            tmp_path,
            day,
            [
                account("G", day, dpd=200 + 30 * k, bucket_cn="M7", items=[item("g", D0, 700)]),
                account("H", day, dpd=170 + 30 * k, bucket_cn=("M6", "M7")[k],
                        items=[item("h", D0, 300)]),
                account("K", day, dpd=140 + 30 * k, bucket_cn=("M5", "M6")[k],
                        items=[item("k", D0, 100)]),
            ],
        )  # fmt: skip
    m = monitor(tmp_path)
    assert m.flows.rate("count", "M6", L1) == pytest.approx(1 / 1)  # H only, not G
    assert m.flows.rate("balance", "M6", L1) == pytest.approx(300 / 300)
    assert m.flows.rate("balance", "M5", L1) == pytest.approx(100 / 100)
    assert m.roll.rate("count", "M7", "M7", L1) == pytest.approx(1.0)  # the matrix keeps G
    assert m.distribution["cn"].accounts[1][-1] == 2
