"""Vintage and FPD from month-end snapshots and the book, on a hand-made history.

Book (cohort = opened_on month; amount = principal, or the credit limit for revolving):

    V1 installment 10000 opened 01-05  first item due 02-08, paid 04-10 (61 penalty days)
    V2 revolving   30000 opened 01-20  first bill due 02-10 closed by its minimum; next 03-26 unpaid
    V3 installment 20000 opened 02-10  first item due 02-28, unpaid
    V4 installment  8000 opened 2024-12-15 (before the history: left out of the vintage)
    V5 installment  5000 opened 03-31  first item due 04-30 (FPD not observable yet)
    V6 installment  4000 opened 01-10  first item due 02-10 paid 03-12 (30 days: max DPD 29)
    V7 installment  6000 opened 01-10  first item due 02-10 paid 03-13 (31 days: max DPD 30)
    V8 installment  1000 opened 03-01  first item due 03-31, unpaid (30 DPD on 04-30)
    X9 in the snapshots only (not in the book)

(dpd, max_dpd) at the month ends 01-31, 02-28, 03-31, 04-30 are in ``STATES``.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from test_monitoring_support import account, item, write_book_accounts, write_snapshot

from overdue.domain.buckets import bucket_cn_for_dpd, bucket_us_for_dpd
from overdue.portfolio.monitor_history import MonitoringError
from overdue.portfolio.monitor_vintage import SnapshotVintage, snapshot_vintage

JAN, FEB, MAR, APR = date(2025, 1, 31), date(2025, 2, 28), date(2025, 3, 31), date(2025, 4, 30)
BOOK = [
    ("V1", "installment", date(2025, 1, 5), 10000),
    ("V2", "revolving", date(2025, 1, 20), 30000),
    ("V3", "installment", date(2025, 2, 10), 20000),
    ("V4", "installment", date(2024, 12, 15), 8000),
    ("V5", "installment", date(2025, 3, 31), 5000),
    ("V6", "installment", date(2025, 1, 10), 4000),
    ("V7", "installment", date(2025, 1, 10), 6000),
    ("V8", "installment", date(2025, 3, 1), 1000),
]
STATES = {  # account: {month end: (dpd, max_dpd)}
    "V1": {JAN: (0, 0), FEB: (20, 20), MAR: (51, 51), APR: (0, 51)},
    "V2": {JAN: (0, 0), FEB: (0, 0), MAR: (5, 5), APR: (35, 35)},
    "V3": {FEB: (0, 0), MAR: (31, 31), APR: (61, 61)},
    "V4": {JAN: (0, 0), FEB: (0, 0), MAR: (0, 0), APR: (0, 0)},
    "V5": {MAR: (0, 0), APR: (0, 0)},
    "V6": {JAN: (0, 0), FEB: (18, 18), MAR: (0, 29), APR: (0, 29)},
    "V7": {JAN: (0, 0), FEB: (18, 18), MAR: (0, 30), APR: (0, 30)},
    "V8": {MAR: (0, 0), APR: (30, 30)},
    "X9": {JAN: (0, 0), FEB: (0, 0), MAR: (0, 0), APR: (0, 0)},
}
LAST_ITEMS = {  # the items in the 04-30 snapshot (only the first item matters for FPD)
    "V1": [item("V1a", date(2025, 2, 8), 5000, unpaid=0, penalty_days=61),
           item("V1b", date(2025, 3, 8), 5000, unpaid=0, penalty_days=33)],
    "V2": [item("V2a", date(2025, 2, 10), 3000, unpaid=0, closed_by_minimum=True),
           item("V2b", date(2025, 3, 26), 2000, penalty_days=35)],
    "V3": [item("V3a", date(2025, 2, 28), 4000, penalty_days=61)],
    "V4": [item("V4a", date(2025, 1, 15), 2000, unpaid=0)],
    "V5": [item("V5a", date(2025, 4, 30), 1000)],
    "V6": [item("V6a", date(2025, 2, 10), 2000, unpaid=0, penalty_days=30)],
    "V7": [item("V7a", date(2025, 2, 10), 3000, unpaid=0, penalty_days=31)],
    "V8": [item("V8a", date(2025, 3, 31), 1000, penalty_days=30)],
    "X9": [item("X9a", date(2025, 2, 1), 100, unpaid=0)],
}  # fmt: skip
PRODUCTS = {a: p for a, p, _, _ in BOOK} | {"X9": "installment"}


def write_history(snapshots: Path, book: Path, months: tuple[date, ...] = (JAN, FEB, MAR, APR)):
    write_book_accounts(
        book, [{"account_id": a, "product": p, "opened_on": o, "amount": m} for a, p, o, m in BOOK]
    )
    for day in months:
        rows = []
        for account_id, states in STATES.items():
            if day not in states:
                continue
            dpd, max_dpd = states[day]
            rows.append(
                account(
                    account_id, day, product=PRODUCTS[account_id], status="overdue" if dpd else "current",
                    dpd=dpd, max_dpd=max_dpd, bucket_cn=bucket_cn_for_dpd(dpd),
                    bucket_us=bucket_us_for_dpd(dpd), items=LAST_ITEMS[account_id] if day == APR else [],
                )
            )  # fmt: skip
        write_snapshot(snapshots, day, rows)
        # a mid-month snapshot that the vintage must not use (everyone 90 DPD)
        mid = date(day.year, day.month, 15)
        write_snapshot(
            snapshots, mid, [account(r["account_id"], mid, dpd=90, max_dpd=90) for r in rows]
        )


@pytest.fixture(scope="module")
def vintage(tmp_path_factory: pytest.TempPathFactory) -> SnapshotVintage:
    folder = tmp_path_factory.mktemp("vintage")
    write_history(folder / "snapshots", folder / "book")
    return snapshot_vintage(folder / "snapshots", folder / "book")


def shares(v: SnapshotVintage, cohort: str, kind: str, basis: str, dpd: int) -> list[float | None]:
    rows = [r for r in v.vintage.by_cohort if r.cohort == cohort]
    return [v.share(kind, basis, dpd, r) for r in rows]


def test_cohorts_months_and_exclusions(vintage: SnapshotVintage) -> None:
    assert vintage.months == ("2025-01", "2025-02", "2025-03", "2025-04")
    assert (vintage.excluded, vintage.not_in_book) == (1, 1)  # V4, X9
    cells = {(r.cohort, r.mob): r.accounts for r in vintage.vintage.by_cohort}
    assert cells == {
        ("2025-01", 0): 4, ("2025-01", 1): 4, ("2025-01", 2): 4, ("2025-01", 3): 4,
        ("2025-02", 0): 1, ("2025-02", 1): 1, ("2025-02", 2): 1,
        ("2025-03", 0): 2, ("2025-03", 1): 2,
    }  # fmt: skip


def test_ever_and_current_by_count_and_amount(vintage: SnapshotVintage) -> None:
    # January cohort (V1, V2, V6, V7; 50000): ever 30+ at MOB 2 = V1 (51), V7 (30)
    assert shares(vintage, "2025-01", "ever", "count", 30) == [0.0, 0.0, 0.5, 0.75]
    assert shares(vintage, "2025-01", "current", "count", 30) == [0.0, 0.0, 0.25, 0.25]
    assert shares(vintage, "2025-01", "ever", "balance", 30) == pytest.approx(
        [0, 0, 16000 / 50000, 46000 / 50000]
    )
    assert shares(vintage, "2025-01", "current", "balance", 30) == pytest.approx(
        [0, 0, 10000 / 50000, 30000 / 50000]
    )
    assert shares(vintage, "2025-01", "ever", "count", 60) == [0.0, 0.0, 0.0, 0.0]
    assert shares(vintage, "2025-02", "ever", "count", 60) == [0.0, 0.0, 1.0]
    assert shares(vintage, "2025-02", "current", "count", 90) == [0.0, 0.0, 0.0]
    assert shares(vintage, "2025-03", "ever", "balance", 30) == pytest.approx([0, 1000 / 6000])


def test_roll_up_by_month_on_book(vintage: SnapshotVintage) -> None:
    by_mob = {r.mob: r for r in vintage.vintage.by_mob}
    assert [by_mob[k].accounts for k in range(4)] == [7, 7, 5, 4]
    assert [by_mob[k].ever[30] for k in range(4)] == [0, 2, 3, 3]  # V3+V8 | V1 V7 V3 | V1 V2 V7
    assert by_mob[2].ever[60] == 1


def test_first_payment_default_by_cohort(vintage: SnapshotVintage) -> None:
    fpd = {c.cohort: c for c in vintage.fpd}
    jan = fpd["2025-01"]  # V1 (61 penalty days) and V7 (31) yes; V6 (30) and V2 (minimum) no
    assert (jan.accounts, jan.fpd, jan.fpd_fen, jan.accounts_fen) == (4, 2, 16000, 50000)
    assert jan.rate("balance") == pytest.approx(0.32)
    assert (fpd["2025-02"].fpd, fpd["2025-02"].accounts) == (1, 1)
    march = fpd["2025-03"]  # V8 open 30 days: yes; V5 due on the last day: pending
    assert (march.accounts, march.fpd, march.pending) == (1, 1, 1)
    assert (fpd["2024-12"].accounts, fpd["2024-12"].fpd) == (1, 0)  # V4 paid on time
    assert "X9" not in {c.cohort for c in vintage.fpd}


def test_a_missing_month_is_refused(tmp_path: Path) -> None:
    write_history(tmp_path / "s", tmp_path / "b", months=(JAN, MAR, APR))
    with pytest.raises(MonitoringError, match="no snapshot in 2025-02"):
        snapshot_vintage(tmp_path / "s", tmp_path / "b")


def test_fpd_days_must_fit_the_policies(tmp_path: Path) -> None:
    write_history(tmp_path / "s", tmp_path / "b")
    with pytest.raises(MonitoringError, match=r"--fpd-days 120.*write-off DPD \(120\)"):
        snapshot_vintage(tmp_path / "s", tmp_path / "b", fpd_days=120)


def test_book_without_amount_is_refused(tmp_path: Path) -> None:
    write_history(tmp_path / "s", tmp_path / "b")
    write_book_accounts(
        tmp_path / "b",
        [{"account_id": "V1", "product": "installment", "opened_on": JAN, "amount": None}],
    )
    with pytest.raises(MonitoringError, match="account 'V1' has no original amount"):
        snapshot_vintage(tmp_path / "s", tmp_path / "b")
