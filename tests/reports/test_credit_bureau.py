"""The monthly credit-bureau extract over a random book's month-end snapshots.

The item aggregates the extract's SQL computes are checked against a plain-Python walk over the
snapshot's nested items; the notice rule (PBOC: told before a negative report; FCRA: within 30
days after) against the accounts' own states.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from book_factory import random_book, write_book
from test_monitoring_support import write_history_from_book
from typer.testing import CliRunner

from overdue.cli import app
from overdue.domain.credit_reporting import GRID_MONTHS, METRO2_NEGATIVE, PBOC_NEGATIVE
from overdue.portfolio.eod import read_snapshot, resolve_policies
from overdue.reports.bureau_grid import build_extract_sql
from overdue.reports.credit_bureau import (
    Extract,
    Month,
    Notices,
    build_extract,
    month_states,
    write_extract,
)

MONTH_ENDS = [date(2025, m + 1, 1) - timedelta(days=1) for m in range(1, 8)]  # Jan … Jul
REPORT = Month(2025, 7)
runner = CliRunner()


@dataclass(frozen=True)
class History:
    book: Path
    snapshots: Path
    rows: dict[str, list[dict[str, Any]]]

    @property
    def currency(self) -> dict[str, str]:
        return {a["account_id"]: a["currency"] for a in self.rows["accounts"]}


@pytest.fixture(scope="module")
def history(tmp_path_factory: pytest.TempPathFactory) -> History:
    root = tmp_path_factory.mktemp("bureau")
    rows = random_book(seed=23, accounts=80, days=200)
    for n, account in enumerate(rows["accounts"]):
        if n % 3 == 0:
            account["currency"] = "USD"
    book = write_book(rows, root / "book")
    write_history_from_book(rows, root / "snapshots", MONTH_ENDS)
    return History(book, root / "snapshots", rows)


def walk_items(items: list[dict[str, Any]], as_of: date, grace_days: int) -> tuple[int, bool, int]:
    """(owed, due in the month, consecutive missed minimums) by walking the items newest first."""
    def owed(i: dict[str, Any]) -> int:
        return (i["unpaid_principal_fen"] + i["unpaid_interest_fen"] + i["unpaid_fee_fen"]
                + i["unpaid_penalty_fen"])  # fmt: skip

    def is_open(i: dict[str, Any]) -> bool:
        return owed(i) > 0 and not i["closed_by_minimum"]

    past = [i for i in items if (as_of - i["due_date"]).days > grace_days]
    missed = 0
    for item in sorted(past, key=lambda i: (i["due_date"], is_open(i)), reverse=True):
        if not is_open(item):
            break
        missed += 1
    first = as_of.replace(day=1)
    due_in_month = any(first <= i["due_date"] <= as_of for i in items)
    return sum(owed(i) for i in items), due_in_month, missed


def test_item_aggregates_equal_a_walk_over_the_items(history: History) -> None:
    policies = resolve_policies(history.book)
    states = month_states(history.book, history.snapshots, MONTH_ENDS).to_pylist()
    by_key = {(r["account_id"], r["as_of"]): r for r in states}
    checked = missed_seen = 0
    for as_of in MONTH_ENDS:
        for account in read_snapshot(history.snapshots, as_of).to_pylist():
            grace = policies[(account["policy"], account["product"])].grace_days
            expected = walk_items(account["items"], as_of, grace)
            row = by_key[(account["account_id"], as_of)]
            assert (row["owed_fen"], row["due_in_month"], row["missed_minimums"]) == expected
            checked += 1
            missed_seen += expected[2] > 0
    assert checked == len(states) and missed_seen > 10


def report(history: History, notices: Notices | None = None) -> Extract:
    return build_extract(history.book, history.snapshots, REPORT, notices)


def test_grids_and_codes(history: History) -> None:
    extract = report(history, Notices())
    assert extract.pboc and extract.metro2
    opened = {a["account_id"]: a["opened_on"] for a in history.rows["accounts"]}
    for row in extract.pboc:
        grid = row["pboc_grid"]
        assert len(grid) == GRID_MONTHS and grid[-1] == row["pboc_code"]
        months_open = (2025 - opened[row["account_id"]].year) * 12 + 7 - opened[row["account_id"]].month
        assert set(grid[: GRID_MONTHS - 1 - months_open]) == {"/"}
        assert "/" not in grid[GRID_MONTHS - 1 - months_open:]
        negative = row["status"] in ("overdue", "charged_off") and row["dpd"] > 0
        assert (row["pboc_code"] in PBOC_NEGATIVE) == negative
    for row in extract.metro2:
        assert len(row["payment_history_profile"]) == GRID_MONTHS
        assert (row["amount_past_due_fen"] == 0) == (row["dpd"] < 30 or row["overdue_fen"] == 0)
        if row["account_status"] == "11":
            assert row["amount_past_due_fen"] == 0 and row["first_delinquency_date"] is None


def test_markets_follow_the_currency(history: History) -> None:
    extract = report(history)
    currency = history.currency
    assert {currency[r["account_id"]] for r in extract.pboc} == {"CNY"}
    assert {currency[r["account_id"]] for r in extract.metro2} == {"USD"}


def test_negative_pboc_months_wait_for_a_notice(history: History) -> None:
    held = report(history, Notices())
    held_ids = {n["account_id"] for n in held.notices if n["bureau"] == "pboc"}
    assert held_ids, "the random book has delinquent CNY accounts"
    assert not [r for r in held.pboc if r["pboc_code"] in PBOC_NEGATIVE]
    since = {n["account_id"]: n["delinquent_since"] for n in held.notices if n["bureau"] == "pboc"}

    told = Notices(sent_on={a: [d] for a, d in since.items()})
    reported = report(history, told)
    assert not [n for n in reported.notices if n["bureau"] == "pboc"]
    negative = {r["account_id"] for r in reported.pboc if r["pboc_code"] in PBOC_NEGATIVE}
    assert negative == held_ids
    assert len(reported.pboc) == len(held.pboc) + len(held_ids)

    too_early = Notices(sent_on={a: [d - timedelta(days=1)] for a, d in since.items()})
    assert {n["account_id"] for n in report(history, too_early).notices
            if n["bureau"] == "pboc"} == held_ids  # fmt: skip


def test_first_negative_us_report_lists_a_notice_but_is_sent(history: History) -> None:
    listed = 0
    for month in (Month(2025, m) for m in range(2, 8)):
        extract = build_extract(history.book, history.snapshots, month, Notices())
        before = build_extract(history.book, history.snapshots, month.plus(-1), Notices())
        was = {r["account_id"]: r["account_status"] for r in before.metro2}
        reported = {r["account_id"]: r for r in extract.metro2}
        due = {n["account_id"]: n for n in extract.notices if n["bureau"] == "metro2"}
        for account_id, row in reported.items():  # not held back
            newly = row["account_status"] in METRO2_NEGATIVE and (
                was.get(account_id) not in METRO2_NEGATIVE)
            assert (account_id in due) == newly
            if newly:
                assert due[account_id]["notice_due_by"] == row["as_of"] + timedelta(days=30)
        listed += len(due)
    assert listed > 0


def test_accounts_closed_earlier_are_left_out(history: History) -> None:
    extract = report(history)
    reported = {r["account_id"] for r in extract.pboc + extract.metro2}
    held = {n["account_id"] for n in extract.notices if n["action"] == "held_until_customer_told"}
    june = {r["account_id"]: r for r in read_snapshot(history.snapshots, MONTH_ENDS[-2]).to_pylist()}
    july = read_snapshot(history.snapshots, REPORT.last_day).to_pylist()
    for account in july:
        if account["account_id"] in reported | held:
            continue
        before = june[account["account_id"]]
        assert account["status"] == before["status"] == "settled"
    assert extract.skipped_closed == len(july) - len(reported | held)


def test_the_command_writes_the_files(history: History, tmp_path: Path) -> None:
    out = tmp_path / "bureau"
    result = runner.invoke(
        app, ["bureau", str(history.book), str(history.snapshots), "--month", "2025-07",
              "--out", str(out)],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    names = sorted(p.name for p in out.iterdir())
    assert names == ["bureau-2025-07.json", "metro2-2025-07.csv", "notices-2025-07.csv",
                     "pboc-2025-07.csv"]  # fmt: skip
    assert "held_until_customer_told" in result.output
    bad = runner.invoke(app, ["bureau", str(history.book), str(history.snapshots),
                              "--month", "2025-13", "--out", str(out)])  # fmt: skip
    assert bad.exit_code == 2 and "expected YYYY-MM" in bad.output
    missing = runner.invoke(app, ["bureau", str(history.book), str(history.snapshots),
                                  "--month", "2024-07", "--out", str(out)])  # fmt: skip
    assert missing.exit_code == 2 and "no snapshot in 2024-07" in missing.output


def test_rewriting_gives_the_same_bytes(history: History, tmp_path: Path) -> None:
    first = write_extract(report(history), tmp_path / "a")
    second = write_extract(report(history), tmp_path / "b")
    for name, path in first.items():
        assert path.read_bytes() == second[name].read_bytes()


def test_the_sql_extract_equals_the_reference(history: History) -> None:
    ids = sorted(a["account_id"] for a in history.rows["accounts"])
    some = Notices(sent_on={a: [date(2025, 1, 1) + timedelta(days=n * 2)] for n, a in
                            enumerate(ids[::2])}, placed=frozenset(ids[::5]))  # fmt: skip
    compared = 0
    for month in (Month(2025, m) for m in range(1, 8)):
        for notices in (Notices(), some):
            reference = build_extract(history.book, history.snapshots, month, notices)
            assert build_extract_sql(history.book, history.snapshots, month, notices) == reference
            compared += len(reference.pboc) + len(reference.metro2) + len(reference.notices)
    assert compared > 300
