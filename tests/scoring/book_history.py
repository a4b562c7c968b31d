"""A small synthetic book with month-end snapshots, shared by the book-model tests."""

from __future__ import annotations

import shutil
from datetime import date, timedelta
from pathlib import Path

from overdue.portfolio.eod import run_eod
from overdue.twin.generate import TwinSpec, generate_book

ACCOUNTS = 600
MONTHS = 8
SEED = 5


def month_ends(first: date, last: date) -> list[date]:
    out = []
    day = first
    while day <= last:
        nxt = date(day.year + (day.month == 12), day.month % 12 + 1, 1)
        end = nxt - timedelta(days=1)
        if end <= last:
            out.append(end)
        day = nxt
    return out


def make_history(root: Path, accounts: int = ACCOUNTS, months: int = MONTHS) -> tuple[Path, Path]:
    """(book, snapshots): the twin's book and the batch at every month end."""
    book, snaps = root / "book", root / "snapshots"
    manifest = generate_book(TwinSpec(accounts=accounts, months=months, seed=SEED), book)
    first = date.fromisoformat(str(manifest["first_date"]))
    last = date.fromisoformat(str(manifest["last_date"]))
    for day in month_ends(first, last):
        run_eod(book, day, snaps)
    return book, snaps


def truncate(book: Path, snaps: Path, as_of: date, out: Path) -> tuple[Path, Path]:
    """A copy of the book and snapshots as they stood at the end of ``as_of``."""
    new_book, new_snaps = out / "book", out / "snapshots"
    new_book.mkdir(parents=True)
    for child in book.iterdir():
        if child.is_file():
            shutil.copy(child, new_book / child.name)
        elif child.name != "_truth":
            (new_book / child.name).mkdir()
            for part in child.iterdir():
                if date.fromisoformat(part.name.split("=", 1)[1]) <= as_of:
                    shutil.copytree(part, new_book / child.name / part.name)
    new_snaps.mkdir(parents=True)
    for part in snaps.iterdir():
        if part.name.startswith("as_of=") and date.fromisoformat(part.name[6:]) <= as_of:
            shutil.copytree(part, new_snaps / part.name, ignore=shutil.ignore_patterns("scores"))
    return new_book, new_snaps


def daily_after_middle(
    book: Path, snaps: Path, root: Path, offsets: list[int]
) -> tuple[Path, Path, list[date]]:
    """A copy of the book under ``root`` with its month-end snapshots up to the middle one, then
    a daily batch on each of ``middle + offsets``: (book, snapshots, the daily dates)."""
    from overdue.portfolio.eod import snapshot_dates, snapshot_path

    middle = snapshot_dates(snaps)[len(snapshot_dates(snaps)) // 2]
    shutil.copytree(book, root / "book")
    for day in snapshot_dates(snaps):
        if day <= middle:
            shutil.copytree(snapshot_path(snaps, day), snapshot_path(root / "snapshots", day))
    days = [middle + timedelta(days=k) for k in offsets]
    for day in days:
        run_eod(root / "book", day, root / "snapshots")
    return root / "book", root / "snapshots", days
