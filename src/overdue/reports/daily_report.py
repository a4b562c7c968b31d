"""The daily report (日报) as a spreadsheet, for the head of overdue and the analysts.

``daily_workbook(snapshot_dir, as_of, session=None)`` reads the snapshot of ``as_of`` and the one
before it and builds an xlsx workbook; with a store ``session`` it adds the operation's figures:

- **Summary / 概览**: accounts, delinquent accounts and balance with their rates, overdue total,
  charge-offs and recoveries since the previous snapshot (``monitoring.day_figures``); the store's
  open cases, contacts, collections and complaints of the day (``web.performance.today``);
- **Buckets / 账龄分布**: accounts and balance per CN M-bucket and per US bucket, with shares;
- **Roll rates / 迁徙率**: the CN bucket matrix from the previous snapshot to this one, by count
  and by balance (rows: bucket before, columns: bucket now);
- **Teams / 团队**, **Collectors / 催收员**: contacts, right-party contacts, promises, kept rate,
  amount collected and complaints over the last 30 business days;
- **Compliance / 合规**: the day's contacts the gate blocked, by rule.

Headers are bilingual. Amounts are yuan (Decimal, two places) converted exactly from integer fen;
rates are shares between 0 and 1. The workbook's own timestamps are set to the business date, so
the same snapshots and store give the same bytes.
"""

from __future__ import annotations

import re
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from openpyxl import Workbook
from openpyxl.styles import Font
from openpyxl.worksheet.worksheet import Worksheet
from sqlalchemy.orm import Session

from overdue.domain.buckets import CN_BUCKETS
from overdue.domain.money import from_fen
from overdue.portfolio.eod import snapshot_dates
from overdue.portfolio.monitor_history import MonitoringError, load_history
from overdue.portfolio.monitoring import (
    DayFigures,
    Distribution,
    bucket_distribution,
    bucket_panel,
    count_view,
    day_figures,
)
from overdue.portfolio.roll_rate import RollRate, roll_rate

MAX_BLOCK_RULES = 100
YUAN_FORMAT = "#,##0.00"
RATE_FORMAT = "0.00%"
BOLD = Font(bold=True)


@dataclass(frozen=True)
class Cell:
    """A value and how to show it: ``yuan`` (from fen), ``rate`` or plain."""

    value: Any
    kind: str = "plain"


def yuan(fen: int | None) -> Cell:
    return Cell(None if fen is None else from_fen(fen), "yuan")


def rate(value: float | None) -> Cell:
    return Cell(value, "rate")


def _write(sheet: Worksheet, header: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    sheet.append(list(header))
    for cell in sheet[1]:
        cell.font = BOLD
    for row in rows:
        values = [c.value if isinstance(c, Cell) else c for c in row]
        sheet.append(values)
        for cell, given in zip(sheet[sheet.max_row], row, strict=True):
            kind = given.kind if isinstance(given, Cell) else "plain"
            if kind == "yuan":
                cell.number_format = YUAN_FORMAT
            elif kind == "rate":
                cell.number_format = RATE_FORMAT
    for column in sheet.columns:
        width = max(len(str(c.value or "")) for c in column)
        sheet.column_dimensions[column[0].column_letter].width = min(60, max(10, width + 2))


def the_two_dates(snapshot_dir: Path, as_of: date) -> tuple[date, ...]:
    """The previous snapshot date (if any) and ``as_of``, which must be a snapshot date."""
    days = [d for d in snapshot_dates(snapshot_dir) if d <= as_of] if snapshot_dir.is_dir() else []
    if not days or days[-1] != as_of:
        raise MonitoringError(f"{snapshot_dir}: no snapshot of {as_of}; run overdue eod first")
    return tuple(days[-2:])


def summary_rows(figures: DayFigures, previous: str | None) -> list[list[Any]]:
    return [
        ["业务日期 / Business date", figures.as_of],
        ["上一快照 / Previous snapshot", previous or "–"],
        ["账户数 / Accounts", figures.accounts],
        ["在贷账户 / Active accounts", figures.active],
        ["逾期账户 / Delinquent accounts", figures.delinquent],
        ["逾期率（户数）/ Delinquent rate (count)", rate(figures.delinquent_rate("count"))],
        ["余额 / Balance", yuan(figures.balance_fen)],
        ["逾期余额 / Delinquent balance", yuan(figures.delinquent_balance_fen)],
        ["逾期率（余额）/ Delinquent rate (balance)", rate(figures.delinquent_rate("balance"))],
        ["逾期总额 / Total overdue", yuan(figures.total_overdue_fen)],
        ["核销账户 / Charged-off accounts", figures.charged_off],
        ["新增核销 / New charge-offs", figures.new_charge_offs],
        ["新增核销余额 / New charge-off balance", yuan(figures.new_charge_off_fen)],
        ["核销后回收 / Recovered after charge-off", yuan(figures.recovered_fen)],
        ["累计回收率 / Recovery rate", rate(figures.recovery_rate)],
    ]


def bucket_rows(dist: Distribution) -> list[list[Any]]:
    counts, balances = dist.accounts[-1], dist.balance_fen[-1]
    count_shares, balance_shares = dist.shares("count")[-1], dist.shares("balance")[-1]
    return [
        [dist.scheme.upper(), b, n, rate(cs), yuan(fen), rate(bs)]
        for b, n, cs, fen, bs in zip(
            dist.buckets, counts, count_shares, balances, balance_shares, strict=True
        )
    ]


def roll_rows(matrix: RollRate, basis: str) -> list[list[Any]]:
    shown = count_view(matrix) if basis == "count" else matrix
    label = "户数 / count" if basis == "count" else "余额 / balance"
    return [
        [label, state, *[rate(r) for r in row]]
        for state, row in zip(shown.states, shown.rates, strict=True)
    ]


def store_summary_rows(session: Session) -> list[list[Any]]:
    from overdue.web.performance import today

    t = today(session.connection())
    return [
        ["业务库日期 / Store business date", t.as_of.isoformat() if t.as_of else "–"],
        ["未结案件 / Open cases", t.open_cases],
        ["今日新案 / Cases opened today", t.opened_today],
        ["未结案件逾期额 / Overdue of open cases", yuan(t.overdue_open_fen)],
        ["今日到期承诺 / Promises due today", t.promises_due],
        ["今日联系 / Contacts today", t.contacts_today],
        ["今日回款 / Collected today", yuan(t.collected_today_fen)],
        ["未结投诉 / Open complaints", t.open_complaints],
    ]


def performance_rows(session: Session, as_of: date, by: str) -> list[list[Any]]:
    from overdue.web.performance import collectors, teams

    rows = teams(session, as_of) if by == "team" else collectors(session, as_of)
    return [
        [r.name, r.contacts, r.right_party, r.promises, r.kept, rate(r.kept_rate),
         yuan(r.collected_fen), r.complaints]
        for r in rows
    ]  # fmt: skip


def blocked_rows(session: Session, as_of: date) -> list[list[Any]]:
    """The day's contacts the compliance gate blocked, by rule (business day in UTC)."""
    from overdue.store.tables import ContactAttempt

    start = datetime.combine(as_of, time(0), tzinfo=UTC)
    rule = ContactAttempt.blocked_rule
    query = (
        sa.select(rule, sa.func.count())
        .where(rule.is_not(None))
        .where(ContactAttempt.attempted_at >= start)
        .where(ContactAttempt.attempted_at < start + timedelta(days=1))
        .group_by(rule)
        .order_by(sa.func.count().desc(), rule)
        .limit(MAX_BLOCK_RULES)
    )
    return [[name, int(n)] for name, n in session.execute(query)]


PERFORMANCE_HEADER = (
    "名称 / Name", "联系 / Contacts", "本人接通 / Right party", "承诺 / Promises",
    "兑现 / Kept", "兑现率 / Kept rate", "回款 / Collected", "投诉 / Complaints",
)  # fmt: skip


def daily_workbook(snapshot_dir: Path, as_of: date, session: Session | None = None) -> Workbook:
    """The day's workbook (module docstring); raises MonitoringError on bad input."""
    days = the_two_dates(snapshot_dir, as_of)
    history = load_history(snapshot_dir, period="day", first=days[0], last=days[-1])
    book = Workbook()
    summary = book.active
    assert summary is not None
    summary.title = "概览 Summary"
    previous = days[0].isoformat() if len(days) == 2 else None
    rows = summary_rows(day_figures(history)[-1], previous)
    if session is not None:
        rows += store_summary_rows(session)
    _write(summary, ("指标 / Measure", "值 / Value"), rows)
    buckets = [*bucket_rows(bucket_distribution(history, "cn")),
               *bucket_rows(bucket_distribution(history, "us"))]  # fmt: skip
    _write(book.create_sheet("账龄分布 Buckets"),
           ("口径 / Scheme", "账龄 / Bucket", "户数 / Accounts", "户数占比 / Share (count)",
            "余额 / Balance", "余额占比 / Share (balance)"), buckets)  # fmt: skip
    if previous is not None:
        matrix = roll_rate(bucket_panel(history, weighted=True), tuple(CN_BUCKETS))
        header = ("口径 / Basis", "上期 / From", *[f"→ {s}" for s in matrix.states])
        _write(book.create_sheet("迁徙率 Roll rates"), header,
               roll_rows(matrix, "count") + roll_rows(matrix, "balance"))  # fmt: skip
    if session is not None:
        _write(book.create_sheet("团队 Teams"), PERFORMANCE_HEADER,
               performance_rows(session, as_of, "team"))  # fmt: skip
        _write(book.create_sheet("催收员 Collectors"), PERFORMANCE_HEADER,
               performance_rows(session, as_of, "collector"))  # fmt: skip
        _write(book.create_sheet("合规 Compliance"), ("拦截规则 / Blocked by rule", "次数 / Count"),
               blocked_rows(session, as_of))  # fmt: skip
    stamp = datetime.combine(as_of, time(0))
    book.properties.created = book.properties.modified = stamp
    return book


def write_daily_report(
    snapshot_dir: Path, as_of: date, out: Path, session: Session | None = None
) -> Path:
    """Write the workbook to ``out`` (whole or not at all) and return its path."""
    book = daily_workbook(snapshot_dir, as_of, session)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.tmp")
    book.save(tmp)
    _stamp_entries(tmp, as_of)
    tmp.replace(out)
    return out


CORE_PROPERTIES = "docProps/core.xml"
MODIFIED = re.compile(rb"(<dcterms:modified[^>]*>)[^<]*(</dcterms:modified>)")


def _stamp_entries(path: Path, as_of: date) -> None:
    """Give the saved workbook (a zip file) the business date wherever openpyxl writes the
    wall-clock time: on every zip entry and as the document's modification time (which it sets
    on saving, whatever the properties say). The same input then gives the same bytes whenever
    it is written (two writes a second apart differed)."""
    with zipfile.ZipFile(path) as saved:
        entries = [(info, saved.read(info)) for info in saved.infolist()]
    stamp = (as_of.year, as_of.month, as_of.day, 0, 0, 0)
    when = f"{as_of.isoformat()}T00:00:00Z".encode()
    with zipfile.ZipFile(path, "w") as rewritten:
        for info, data in entries:
            if info.filename == CORE_PROPERTIES:
                data = MODIFIED.sub(rb"\g<1>" + when + rb"\g<2>", data)
            fixed = zipfile.ZipInfo(info.filename, date_time=stamp)
            fixed.compress_type = info.compress_type
            fixed.external_attr = info.external_attr
            rewritten.writestr(fixed, data)

