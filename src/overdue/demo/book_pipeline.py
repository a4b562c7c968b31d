"""The demo's book: a synthetic book, the end-of-day batch over its history, the report.

The batch runs once at every month end of the book (incremental from the previous month end,
as a lender that skipped days would) and then every day of the last ``days`` days, so that the
report has both monthly vintages and roll rates and a daily view of the recent weeks.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from overdue.domain.calendar import month_end

MAX_DEMO_DAYS = 366


@dataclass(frozen=True)
class DemoBook:
    book: Path
    snapshots: Path
    first_day: date
    last_day: date
    accounts: int
    seconds: dict[str, float]


def business_dates(first_date: date, last: date, days: int) -> list[date]:
    """Month ends of the book before the daily window, then every day of the window."""
    window_start = last - timedelta(days=days - 1)
    dates: list[date] = []
    day = month_end(first_date)
    while day < window_start:
        dates.append(day)
        day = month_end(day + timedelta(days=1))
    dates += [window_start + timedelta(days=k) for k in range(days)]
    return dates


def _generate(
    book: Path, accounts: int, months: int, seed: int, console: Console
) -> dict[str, object]:
    from overdue.twin.generate import TwinSpec, generate_book

    manifest_path = book / "manifest.json"
    if manifest_path.is_file():
        manifest = json.loads(manifest_path.read_text())
        wanted = {"seed": seed, "accounts": accounts, "months": months}
        if all(manifest["generator"].get(k) == v for k, v in wanted.items()):
            return dict(manifest)
    console.print(f"Generating a synthetic book of {accounts:,} accounts × {months} months …")
    return generate_book(TwinSpec(accounts=accounts, months=months, seed=seed), book, replace=True)


def build_demo_book(
    out: Path, accounts: int, months: int, days: int, seed: int, console: Console
) -> DemoBook:
    """Generate the book (kept if already there) and run the batch over its history."""
    from overdue.portfolio.eod import run_eod

    assert 1 <= days <= MAX_DEMO_DAYS, f"days must be 1..{MAX_DEMO_DAYS}"
    book, snapshots = out / "book", out / "snapshots"
    seconds: dict[str, float] = {}
    started = time.perf_counter()
    manifest = _generate(book, accounts, months, seed, console)
    seconds["generate"] = round(time.perf_counter() - started, 1)
    first = date.fromisoformat(str(manifest["first_date"]))
    last = date.fromisoformat(str(manifest["last_date"]))
    dates = business_dates(first, last, days)
    started = time.perf_counter()
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=console) as bar:
        task = bar.add_task("End-of-day batch / 日终批处理", total=len(dates))
        for k, day in enumerate(dates):
            run_eod(book, day, snapshots, rebuild=k == 0)
            bar.advance(task)
    seconds["eod"] = round(time.perf_counter() - started, 1)
    return DemoBook(book, snapshots, dates[0], last, accounts, seconds)
