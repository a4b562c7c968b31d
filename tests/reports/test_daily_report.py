"""The daily report workbook: its figures against a count over the hand-made snapshot rows, the
store's sheets on SQLite and PostgreSQL, the same bytes on a rerun, and the command."""

from __future__ import annotations

import zipfile
from collections import Counter
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from openpyxl import load_workbook
from sqlalchemy import insert
from test_monitoring_support import D1, D2, hand_history
from typer.testing import CliRunner

from overdue.cli import app
from overdue.reports.daily_report import daily_workbook, write_daily_report
from overdue.store import migrate
from overdue.store.db import make_engine, session_scope
from overdue.store.tables import ContactAttempt, Customer
from overdue.store.testing import postgres_schema, require_postgres, sqlite_url

runner = CliRunner()


def sheet(book: Any, prefix: str) -> list[tuple[Any, ...]]:
    (found,) = [ws for ws in book if ws.title.startswith(prefix)]
    return list(found.iter_rows(values_only=True))[1:]


def balance(row: dict[str, Any]) -> int:
    return sum(i["unpaid_principal_fen"] for i in row["items"])


def test_figures_equal_a_count_over_the_rows(tmp_path: Path) -> None:
    rows = hand_history(tmp_path)
    book = daily_workbook(tmp_path, D2)
    summary = dict(sheet(book, "概览"))
    today = rows[D2]
    delinquent = [r for r in today if r["status"] in ("overdue", "charged_off")]
    assert summary["上一快照 / Previous snapshot"] == D1.isoformat()
    assert summary["账户数 / Accounts"] == len(today)
    assert summary["逾期账户 / Delinquent accounts"] == len(delinquent)
    assert summary["逾期余额 / Delinquent balance"] == Decimal(sum(map(balance, delinquent))) / 100
    buckets = {(s, b): (n, fen) for s, b, n, _, fen, _ in sheet(book, "账龄分布")}
    expected = Counter(r["bucket_cn"] for r in today)
    for bucket in ("M0", "M1", "M2", "M6", "M7", "M3"):
        assert buckets[("CN", bucket)][0] == expected.get(bucket, 0)
        fen = sum(balance(r) for r in today if r["bucket_cn"] == bucket)
        assert Decimal(str(buckets[("CN", bucket)][1])) == Decimal(fen) / 100
    roll = {(basis[:2], frm): values for basis, frm, *values in sheet(book, "迁徙率")}
    before = {r["account_id"]: r["bucket_cn"] for r in rows[D1]}
    m1 = [r for r in today if before.get(r["account_id"]) == "M1"]  # A → M2
    assert m1 and roll[("户数", "M1")][2] == sum(r["bucket_cn"] == "M2" for r in m1) / len(m1)


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Any:
    if request.param == "sqlite":
        url = sqlite_url(tmp_path, "daily.db")
        migrate.upgrade(url)
        yield url
        return
    with postgres_schema(require_postgres(), prefix="daily") as url:
        migrate.upgrade(url)
        yield url


def test_the_store_sheets(tmp_path: Path, store_url: str) -> None:
    hand_history(tmp_path / "snapshots")
    engine = make_engine(store_url)
    at = datetime(D2.year, D2.month, D2.day, 3, tzinfo=UTC)
    try:
        with session_scope(engine) as session:
            session.execute(insert(Customer).values(customer_id="C1", time_zone="Asia/Shanghai"))
            for rule in ("quiet_hours", "quiet_hours", "contact_cap"):
                session.execute(insert(ContactAttempt).values(
                    customer_id="C1", channel="sms", attempted_at=at, time_zone="Asia/Shanghai",
                    blocked_rule=rule))  # fmt: skip
        with session_scope(engine) as session:
            book = daily_workbook(tmp_path / "snapshots", D2, session)
    finally:
        engine.dispose()
    assert sheet(book, "合规") == [("quiet_hours", 2), ("contact_cap", 1)]
    assert {ws.title for ws in book} >= {"团队 Teams", "催收员 Collectors"}
    assert dict(sheet(book, "概览"))["今日联系 / Contacts today"] == 0  # blocked ones are not


def test_same_snapshots_same_bytes_and_the_command(tmp_path: Path) -> None:
    hand_history(tmp_path / "s")
    first = write_daily_report(tmp_path / "s", D2, tmp_path / "a.xlsx")
    second = write_daily_report(tmp_path / "s", D2, tmp_path / "b.xlsx")
    assert first.read_bytes() == second.read_bytes()
    with zipfile.ZipFile(first) as saved:  # no wall-clock time in the file: the business date
        assert {i.date_time for i in saved.infolist()} == {(D2.year, D2.month, D2.day, 0, 0, 0)}
        assert load_workbook(first).properties.modified.date() == D2
    out = tmp_path / "c.xlsx"
    args = ["daily-report", str(tmp_path / "s"), "--as-of", D2.isoformat(), "--out", str(out)]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert load_workbook(out).sheetnames[0] == "概览 Summary"
    bad = runner.invoke(app, [*args[:2], "--as-of", "2025-03-30", "--out", str(out)])
    assert bad.exit_code == 2 and "no snapshot of 2025-03-30" in bad.output
