"""``overdue ingest SRC_DIR --out DATA_DIR``: validate source tables and write the book."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import typer

if TYPE_CHECKING:
    from overdue.portfolio.ingest import IngestReport

EPILOG = (
    "Example: overdue ingest exports/2026-03-01 --out books/main  "
    "(then look at books/main/quarantine/ for rejected rows). "
    "Exit codes: 0 done (rows may have been rejected: see the summary), "
    "1 rows rejected under --strict (nothing written), "
    "2 a file could not be used (nothing written). "
    "See docs/data-contract.md."
)


def register(app: typer.Typer) -> None:
    app.command("ingest", epilog=EPILOG)(ingest_command)


def ingest_command(
    src_dir: Path = typer.Argument(..., help="Folder with <table>.csv or <table>.parquet files."),
    out: Path = typer.Option(..., "--out", help="Book folder to write (DATA_DIR)."),
    allow_extra_columns: bool = typer.Option(
        False, "--allow-extra-columns", help="Ignore columns the contract does not know."
    ),
    strict: bool = typer.Option(
        False, "--strict", help="Any rejected row: write nothing and exit 1."
    ),
    replace: bool = typer.Option(False, "--replace", help="Overwrite an existing book at --out."),
    json_output: bool = typer.Option(False, "--json", help="Print the summary as JSON."),
) -> None:
    """Validate the tables in SRC_DIR against the data contract and write the book to --out.

    Rejected rows go to DATA_DIR/quarantine/<table>.csv with _file, _row, _column, _reason;
    duplicates (same payment id twice, or identical repeated rows) to <table>.duplicates.csv.
    """
    from overdue.cli import fail
    from overdue.portfolio.book_layout import BookLayoutError
    from overdue.portfolio.ingest import SourceFileError, ingest

    try:
        with _progress_bars() as progress:
            report = ingest(
                src_dir,
                out,
                allow_extra_columns=allow_extra_columns,
                strict=strict,
                replace=replace,
                progress=progress,
            )
    except (SourceFileError, BookLayoutError) as exc:
        raise fail(str(exc)) from None
    if json_output:
        typer.echo(json.dumps(report.to_json(), ensure_ascii=False, indent=2))
    else:
        _print_summary(report)
    for error in report.file_errors:
        typer.echo(f"error: {error}", err=True)
    if report.exit_code:
        raise typer.Exit(code=report.exit_code)


@contextmanager
def _progress_bars() -> Iterator[Callable[[str, int, int], None]]:
    """Rich progress bars on stderr, fed by the ``(description, done, total)`` callback."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn

    bars = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        console=Console(stderr=True),
        transient=True,
    )
    tasks: dict[str, TaskID] = {}

    def update(description: str, completed: int, total: int) -> None:
        if description not in tasks:
            tasks[description] = bars.add_task(description, total=total)
        bars.update(tasks[description], completed=completed, total=total)

    with bars:
        yield update


def _print_summary(report: IngestReport) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"ingest {report.source} → {report.data_dir}")
    for header in ("table", "file", "rows read", "accepted", "rejected", "duplicates"):
        table.add_column(header, justify="left" if header in ("table", "file") else "right")
    for name, t in report.tables.items():
        counts = [t.rows_read, t.accepted, t.rejected, t.duplicates]
        cells = ["—"] * 4 if t.file_error else [f"{n:,}" for n in counts]
        table.add_row(name, t.file or "(absent)", *cells)
    console = Console()
    console.print(table)
    lines = []
    for t in report.tables.values():
        lines += [f"  rejected: {example}" for example in t.examples[:5]]
        if t.rejected > 5:
            lines.append(
                f"  … {t.rejected:,} rejected rows of {t.table} in quarantine/{t.table}.csv"
            )
    for line in [*lines, _outcome(report)]:
        console.print(line, markup=False, highlight=False, soft_wrap=True)


def _outcome(report: IngestReport) -> str:
    if report.file_errors:
        return "Nothing written: fix the file errors below and run again."
    if not report.written:
        return f"Nothing written: {report.rejected:,} rows rejected and --strict is on."
    note = f" ({report.rejected:,} rows rejected: see quarantine/)" if report.rejected else ""
    return f"Book written to {report.data_dir}{note}."
