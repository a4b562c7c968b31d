"""``overdue daily-report``: the day's figures as a spreadsheet (日报), from the snapshots and,
optionally, the operational store."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import typer

EXAMPLE = (
    "Example: overdue daily-report out/demo/snapshots --as-of 2024-12-31 --out daily.xlsx"
    " --url sqlite:///out/demo/overdue.db"
)
URL_HELP = "Operational store for the cases, collectors and compliance sheets (default: none)."


def register(app: typer.Typer) -> None:
    @app.command("daily-report", epilog=EXAMPLE)
    def daily_report_command(
        snapshot_dir: Path = typer.Argument(..., help="Snapshot history written by overdue eod."),
        as_of: str = typer.Option(..., "--as-of", help="Business date YYYY-MM-DD (a snapshot)."),
        out: Path = typer.Option(..., "--out", help="The xlsx file to write."),
        url: str | None = typer.Option(None, "--url", help=URL_HELP),
    ) -> None:
        """Write the day's workbook: summary, buckets, roll rates; teams, collectors and the
        compliance gate's blocks with --url."""
        from overdue.cli import fail
        from overdue.portfolio.monitor_history import MonitoringError
        from overdue.reports.daily_report import write_daily_report
        from overdue.store.db import make_engine, session_scope

        try:
            day = date.fromisoformat(as_of)
        except ValueError:
            raise fail(f"--as-of: {as_of!r} is not a date YYYY-MM-DD") from None
        try:
            if url is None:
                written = write_daily_report(snapshot_dir, day, out)
            else:
                engine = make_engine(url)
                try:
                    with session_scope(engine) as session:
                        written = write_daily_report(snapshot_dir, day, out, session)
                finally:
                    engine.dispose()
        except MonitoringError as exc:
            raise fail(str(exc)) from None
        typer.echo(f"Daily report / 日报: {written}")
