"""The end-of-day snapshot history as monitoring input (see docs/monitoring/measures.md).

``load_history(snapshot_dir, period=...)`` picks the dates the measures look at and exposes one Ibis
table with a row per (account, chosen date):

- ``period="day"``: every snapshot date; ``period="month"``: the last snapshot of each calendar
  month (a month without any snapshot is simply absent). ``first`` / ``last`` restrict the range.
- ``period`` (the column) is the position of the date among the chosen dates (0, 1, …), so "the
  previous period" of a date is the chosen date just before it, whatever the gap in days.
- ``balance_fen`` is the account's **balance**: the sum of ``unpaid_principal_fen`` over all of its
  items in the snapshot, past due, due today or not yet due. Interest, fees and penalty are not part
  of it; revolved amounts (the unpaid rest of a bill whose minimum was paid) are not either, since
  the next bill carries them. ``owed_fen`` adds every unpaid component (principal, interest, fee,
  penalty) of every item.

Everything is an Ibis expression (DuckDB by default); only small aggregates come back to Python.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import ibis
import ibis.expr.types as ir
from ibis.backends import BaseBackend

from overdue.portfolio.eod import (
    SNAPSHOT_FORMAT,
    snapshot_dates,
    snapshot_files,
    snapshot_item_files,
    snapshot_path,
)

PERIODS = ("day", "month")
MAX_DATES = 10_000
"""More chosen dates than this (27 years of daily snapshots) is refused."""

ACCOUNT_COLUMNS = (
    "account_id",
    "product",
    "policy",
    "as_of",
    "status",
    "dpd",
    "max_dpd",
    "bucket_cn",
    "bucket_us",
    "total_overdue_fen",
    "charged_off_on",
    "recovered_after_charge_off_fen",
)
ITEM_COLUMNS = (
    "item_id",
    "due_date",
    "seq",
    "principal_fen",
    "interest_fen",
    "fee_fen",
    "unpaid_principal_fen",
    "unpaid_interest_fen",
    "unpaid_fee_fen",
    "unpaid_penalty_fen",
    "penalty_days",
    "closed_by_minimum",
)


class MonitoringError(ValueError):
    """Input the user must fix; one line naming the file (or key) and the reason."""


@dataclass(frozen=True)
class History:
    """The chosen snapshot dates and their account rows (``accounts``, cached on the backend)."""

    snapshot_dir: Path
    period: str
    dates: tuple[date, ...]
    accounts: ir.Table
    con: BaseBackend

    @property
    def labels(self) -> tuple[str, ...]:
        return tuple(d.isoformat() for d in self.dates)

    @property
    def latest(self) -> date:
        return self.dates[-1]

    def snapshot_at(self, day: date) -> ir.Table:
        """Ibis table: the raw account rows of the snapshot of ``day``."""
        return read_snapshots(self.con, self.snapshot_dir, [day])

    def items_at(self, day: date) -> ir.Table:
        """Ibis table: one row per item of every account in the snapshot of ``day``."""
        return item_rows(
            self.snapshot_at(day), read_snapshot_items(self.con, self.snapshot_dir, [day])
        )

    def policy_pairs(self) -> list[tuple[str, str]]:
        """The (policy, product) pairs of the accounts in the last snapshot."""
        raw = self.snapshot_at(self.latest)
        rows = raw.select("policy", "product").distinct().to_pyarrow().to_pylist()
        return sorted({(r["policy"], r["product"]) for r in rows})

    def periods_table(self) -> ir.Table:
        return periods_table(self.dates)


def periods_table(dates: tuple[date, ...]) -> ir.Table:
    """Ibis memtable: ``period``, ``as_of`` and ``prev_as_of`` (null for the first date)."""
    prev: list[date | None] = [None, *dates[:-1]]
    return ibis.memtable(
        {"period": list(range(len(dates))), "as_of": list(dates), "prev_as_of": prev},
        schema={"period": "int64", "as_of": "date", "prev_as_of": "date"},
    )


def connect() -> BaseBackend:
    """An embedded DuckDB connection for the measures, without DuckDB's progress bar (it would
    write into the commands' output, ``--json`` included)."""
    con = ibis.duckdb.connect()
    con.raw_sql("SET enable_progress_bar = false")
    return con


def choose_dates(
    available: list[date], period: str, first: date | None = None, last: date | None = None
) -> list[date]:
    """The snapshot dates to look at: all of them, or the last one of each month, within range."""
    if period not in PERIODS:
        raise MonitoringError(f"--period {period!r} must be one of: {', '.join(PERIODS)}")
    days = [d for d in available if (first is None or d >= first) and (last is None or d <= last)]
    if period == "month":
        by_month: dict[tuple[int, int], date] = {}
        for day in days:
            by_month[(day.year, day.month)] = max(day, by_month.get((day.year, day.month), day))
        days = sorted(by_month.values())
    return days


def load_history(
    snapshot_dir: Path,
    *,
    period: str = "day",
    first: date | None = None,
    last: date | None = None,
    con: BaseBackend | None = None,
) -> History:
    """Read the chosen snapshots of ``snapshot_dir`` (raises MonitoringError on bad input)."""
    if not snapshot_dir.is_dir():
        raise MonitoringError(f"{snapshot_dir}: no such snapshot folder")
    available = snapshot_dates(snapshot_dir)
    if not available:
        raise MonitoringError(
            f"{snapshot_dir}: no snapshots (as_of=YYYY-MM-DD/manifest.json); run overdue eod first"
        )
    dates = choose_dates(available, period, first, last)
    if not dates:
        raise MonitoringError(f"{snapshot_dir}: no snapshot between {first} and {last}")
    if len(dates) > MAX_DATES:
        raise MonitoringError(f"{snapshot_dir}: {len(dates)} dates is over the limit {MAX_DATES}")
    for day in dates:
        check_manifest(snapshot_dir, day)
    con = con or connect()
    raw = read_snapshots(con, snapshot_dir, dates)
    items = read_snapshot_items(con, snapshot_dir, dates)
    accounts = account_rows(raw, items, periods_table(tuple(dates))).cache()
    return History(snapshot_dir, period, tuple(dates), accounts, con)


def check_manifest(snapshot_dir: Path, day: date) -> None:
    path = snapshot_path(snapshot_dir, day) / "manifest.json"
    try:
        manifest = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise MonitoringError(f"{path}: unreadable manifest ({exc})") from None
    found = manifest.get("format") if isinstance(manifest, dict) else None
    if found != SNAPSHOT_FORMAT:
        raise MonitoringError(f"{path}: format {found!r} is not {SNAPSHOT_FORMAT!r}")


def _read(
    con: BaseBackend, snapshot_dir: Path, files: list[str], needed: tuple[str, ...]
) -> ir.Table:
    try:
        table = con.read_parquet(files, hive_partitioning=False)
    except Exception as exc:  # the engine's own error, reported in one line
        reason = " ".join(str(exc).split())[:300]
        raise MonitoringError(f"{snapshot_dir}: cannot read the snapshots: {reason}") from None
    missing = [c for c in needed if c not in table.columns]
    if missing:
        raise MonitoringError(f"{snapshot_dir}: snapshot column {missing[0]!r} is missing")
    return table


def read_snapshots(con: BaseBackend, snapshot_dir: Path, dates: list[date]) -> ir.Table:
    """The raw account rows of the snapshots of ``dates``."""
    files = _part_files(snapshot_dir, dates, snapshot_files, "accounts")
    return _read(con, snapshot_dir, files, ACCOUNT_COLUMNS)


def read_snapshot_items(con: BaseBackend, snapshot_dir: Path, dates: list[date]) -> ir.Table:
    """The item rows (the snapshots' ``items/`` side table) of the snapshots of ``dates``."""
    files = _part_files(snapshot_dir, dates, snapshot_item_files, "items")
    return _read(con, snapshot_dir, files, ("account_id", "as_of", *ITEM_COLUMNS))


def _part_files(
    snapshot_dir: Path, dates: list[date], lister: Callable[[Path, date], list[Path]], part: str
) -> list[str]:
    """The Parquet files of one part (``accounts`` or ``items``) of each date's snapshot."""
    files: list[str] = []
    for day in dates:
        found = lister(snapshot_dir, day)
        if not found:
            where = snapshot_path(snapshot_dir, day) / part
            raise MonitoringError(f"{where}: the snapshot has no Parquet files")
        files.extend(str(f) for f in found)
    return files


def item_rows(raw: ir.Table, items: ir.Table) -> ir.Table:
    """One row per item: account_id, product, policy, as_of and the item's ``ITEM_COLUMNS``
    (``items``: the side table's rows, ``raw``: the account rows they belong to)."""
    owners = raw.select(
        o_account_id=raw.account_id, o_as_of=raw.as_of, product=raw.product, policy=raw.policy
    )
    joined = items.join(
        owners, [items.account_id == owners.o_account_id, items.as_of == owners.o_as_of]
    )
    return joined.select(
        "account_id", "product", "policy", "as_of", *[joined[name] for name in ITEM_COLUMNS]
    )


def account_rows(raw: ir.Table, item_table: ir.Table, periods: ir.Table) -> ir.Table:
    """The monitoring columns of every account row of the chosen dates, with balance and period."""
    items = item_table
    owed = (
        items.unpaid_principal_fen
        + items.unpaid_interest_fen
        + items.unpaid_fee_fen
        + items.unpaid_penalty_fen
    )
    sums = items.group_by(["account_id", "as_of"]).agg(
        i_balance=items.unpaid_principal_fen.sum(), i_owed=owed.sum()
    )
    sums = sums.rename(i_account_id="account_id", i_as_of="as_of")
    base = raw.select(*ACCOUNT_COLUMNS)
    joined = base.left_join(
        sums, [base.account_id == sums.i_account_id, base.as_of == sums.i_as_of]
    )
    joined = joined.join(periods.select("as_of", "period"), "as_of")
    return joined.select(
        *ACCOUNT_COLUMNS,
        period=joined.period,
        balance_fen=joined.i_balance.fill_null(0).cast("int64"),
        owed_fen=joined.i_owed.fill_null(0).cast("int64"),
    )
