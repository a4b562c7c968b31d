"""``overdue bureau``: the month's credit-bureau extracts (PBOC grid, Metro 2 fields) from the
snapshot history, with the notices the customers must get first (docs/operations/credit-bureau.md)."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import typer

if TYPE_CHECKING:
    from overdue.reports.credit_bureau import Notices

EXAMPLE = (
    "Example: overdue bureau book/ snapshots/ --month 2025-02 --out bureau/"
    " --url sqlite:///overdue.db"
)
URL_HELP = (
    "Operational store to read notices and agency placements from (default: none: every negative"
    " CNY account is held until a notice is on record)."
)
NOTICE_LOOKBACK_DAYS = 5 * 366  # a delinquency older than this is charged off and reported long ago


def register(app: typer.Typer) -> None:
    @app.command("bureau", epilog=EXAMPLE)
    def bureau_command(
        data_dir: Path = typer.Argument(..., help="The book (accounts.parquet, policies)."),
        snapshot_dir: Path = typer.Argument(..., help="Snapshot history written by overdue eod."),
        month: str = typer.Option(..., "--month", help="Reporting month YYYY-MM."),
        out: Path = typer.Option(..., "--out", help="Folder for the CSV files and the summary."),
        url: str | None = typer.Option(None, "--url", help=URL_HELP),
    ) -> None:
        """Write the reporting month's PBOC and Metro 2 extracts and the notices file."""
        from overdue.reports.bureau_grid import build_extract_sql
        from overdue.reports.credit_bureau import (
            BureauError,
            Month,
            Notices,
            extract_summary,
            month_end_dates,
            write_extract,
        )

        try:
            period = Month.parse(month)
            notices = Notices()
            if url is not None:
                as_of = month_end_dates(snapshot_dir, period)[period]
                notices = _store_notices(url, as_of - timedelta(days=NOTICE_LOOKBACK_DAYS), as_of)
            extract = build_extract_sql(data_dir, snapshot_dir, period, notices)
            files = write_extract(extract, out)
        except BureauError as exc:
            from overdue.cli import fail

            raise fail(str(exc)) from None
        for key, value in extract_summary(extract).items():
            typer.echo(f"{key}: {value}")
        for name, path in files.items():
            typer.echo(f"{name}: {path}")


def _store_notices(url: str, since: date, until: date) -> Notices:
    from overdue.reports.bureau_notices import notices_from_store
    from overdue.store.db import make_engine, session_scope

    engine = make_engine(url)
    try:
        with session_scope(engine) as session:
            return notices_from_store(session, since, until)
    finally:
        engine.dispose()
