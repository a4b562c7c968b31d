"""The demo's book: a synthetic book, the end-of-day batch over its last days, the report."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

MAX_DEMO_DAYS = 366


@dataclass(frozen=True)
class DemoBook:
    book: Path
    snapshots: Path
    first_day: date
    last_day: date
    accounts: int
    seconds: dict[str, float]


def build_demo_book(
    out: Path, accounts: int, months: int, days: int, seed: int, console: Console
) -> DemoBook:
    """Generate the book (kept if already there) and run the batch for its last ``days`` days."""
    from overdue.portfolio.eod import run_eod
    from overdue.twin.generate import TwinSpec, generate_book

    assert 1 <= days <= MAX_DEMO_DAYS, f"days must be 1..{MAX_DEMO_DAYS}"
    book, snapshots = out / "book", out / "snapshots"
    seconds: dict[str, float] = {}
    started = time.perf_counter()
    spec = TwinSpec(accounts=accounts, months=months, seed=seed)
    manifest_path = book / "manifest.json"
    same = (
        manifest_path.is_file()
        and json.loads(manifest_path.read_text())["generator"]["seed"] == seed
    )
    if not same or json.loads(manifest_path.read_text())["generator"]["accounts"] != accounts:
        console.print(f"Generating a synthetic book of {accounts:,} accounts × {months} months …")
        generate_book(spec, book, replace=True)
    seconds["generate"] = round(time.perf_counter() - started, 1)
    last = date.fromisoformat(json.loads(manifest_path.read_text())["last_date"])
    first = last - timedelta(days=days - 1)
    started = time.perf_counter()
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=console) as bar:
        task = bar.add_task("End-of-day batch / 日终批处理", total=days)
        for k in range(days):
            run_eod(book, first + timedelta(days=k), snapshots, rebuild=k == 0)
            bar.advance(task)
    seconds["eod"] = round(time.perf_counter() - started, 1)
    return DemoBook(book, snapshots, first, last, accounts, seconds)
