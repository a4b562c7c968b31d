"""``overdue twin``: the synthetic book (digital twin) — generate it, calibrate it."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table

if TYPE_CHECKING:
    from overdue.twin.calibration import RollMatrix
    from overdue.twin.generate import TwinSpec

twin_app = typer.Typer(
    name="twin",
    help="The synthetic book (digital twin): customers of latent types paying bills and loans.",
    no_args_is_help=True,
)

GENERATE_EPILOG = (
    "Example: overdue twin generate --accounts 100000 --months 12 --seed 42 "
    "--out data/twin --scenario downturn"
)
CALIBRATE_EPILOG = (
    "Example: overdue twin calibrate --accounts 60000 --sample 4000 --seed 1 "
    "--markdown out/calibration.md"
)
DEFAULT_REAL = Path("../shared/data/credit_record.zip")


def _bad(message: str) -> Exception:
    from overdue.cli import BadInput

    return BadInput(message)


def _parse_start(text: str) -> date:
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise _bad(f"--start: {text!r} is not a date YYYY-MM-DD") from None


def _progress(console: Console) -> Progress:
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=console,
    )


def _reporter(bar: Progress, what: str) -> Callable[[str, int, int], None]:
    """A progress callback drawing one bar per stage (simulating, merging days …)."""
    tasks: dict[str, TaskID] = {}

    def report(stage: str, done: int, total: int) -> None:
        if stage not in tasks:
            tasks[stage] = bar.add_task(f"{stage} ({what})", total=total)
        bar.update(tasks[stage], completed=done, total=total)

    return report


def _counter(bar: Progress, description: str, total: int) -> Callable[[int, int], None]:
    task = bar.add_task(description, total=total)

    def report(done: int, of: int) -> None:
        bar.update(task, completed=done, total=of)

    return report


def _spec(
    accounts: int,
    months: int,
    seed: int,
    scenario: str,
    start: str,
    chunk_size: int | None,
) -> TwinSpec:
    from overdue.twin.generate import TwinSpec

    try:
        return TwinSpec(
            accounts=accounts,
            months=months,
            seed=seed,
            scenario=scenario,
            start=_parse_start(start),
            chunk_size=chunk_size,
        )
    except ValueError as exc:
        raise _bad(f"--{str(exc).replace('_', '-')}") from None


GENERATE_HELP = (
    "Generate a synthetic book in the data contract's layout: revolving (huabei-like) bills and "
    "installment (jiebei-like) loans of customers of hidden types (reliable, forgetful, short of "
    "money, unwilling, fraud), with the Spring Festival, month-end salaries and a macro scenario. "
    "The hidden types are in _truth/latent_types.parquet. Same seed, same bytes."
)
CALIBRATE_HELP = (
    "Compare monthly roll rates of the real panel (credit_record) with the twin's, baseline and "
    "downturn; the twin's month-end states come from the reference engine on a sample of each book."
)


@twin_app.command("generate", epilog=GENERATE_EPILOG, help=GENERATE_HELP)
def generate(
    out: Annotated[Path, typer.Option("--out", help="Folder to write the book into.")],
    accounts: Annotated[int, typer.Option(help="Number of accounts.")] = 10_000,
    months: Annotated[int, typer.Option(help="Months of history (2–120).")] = 12,
    seed: Annotated[int, typer.Option(help="Random seed: same seed, same bytes.")] = 0,
    scenario: Annotated[str, typer.Option(help="baseline or downturn.")] = "baseline",
    start: Annotated[str, typer.Option(help="First day of the history (a month's 1st).")] = (
        "2024-01-01"
    ),
    chunk_size: Annotated[
        int | None, typer.Option(help="Accounts simulated at once (memory bound).")
    ] = None,
    replace: Annotated[bool, typer.Option("--replace", help="Overwrite a book at --out.")] = False,
) -> None:
    """``overdue twin generate`` (help text: ``GENERATE_HELP``)."""
    from overdue.twin.generate import generate_book

    spec = _spec(accounts, months, seed, scenario, start, chunk_size)
    console = Console(stderr=True)
    with _progress(console) as bar:
        try:
            manifest = generate_book(
                spec, out, _reporter(bar, f"{accounts:,} accounts"), replace=replace
            )
        except ValueError as exc:
            raise _bad(str(exc)) from None
    console.print(f"{out}: {manifest['first_date']} … {manifest['last_date']}")
    table = Table()
    table.add_column("table")
    table.add_column("rows", justify="right")
    for name, rows in manifest["tables"].items():
        table.add_row(name, f"{rows:,}")
    Console().print(table)


@twin_app.command("calibrate", epilog=CALIBRATE_EPILOG, help=CALIBRATE_HELP)
def calibrate(
    accounts: Annotated[int, typer.Option(help="Accounts in each twin book.")] = 60_000,
    months: Annotated[int, typer.Option(help="Months of history.")] = 12,
    seed: Annotated[int, typer.Option(help="Seed of the books and of the sample.")] = 1,
    sample: Annotated[int, typer.Option(help="Accounts run through the engine per book.")] = 8000,
    real: Annotated[Path, typer.Option(help="The real panel credit_record.zip.")] = DEFAULT_REAL,
    work: Annotated[
        Path, typer.Option(help="Folder for the twin books (one per scenario).")
    ] = Path("out/twin-calibration"),
    markdown: Annotated[
        Path | None, typer.Option(help="Also write the comparison as Markdown here.")
    ] = None,
) -> None:
    """``overdue twin calibrate`` (help text: ``CALIBRATE_HELP``)."""
    from overdue.twin import calibration as cal
    from overdue.twin.generate import generate_book

    if not real.is_file():
        raise _bad(f"--real: {real}: no such file (the real panel credit_record.zip)")
    if not 100 <= sample <= cal.MAX_SAMPLE:
        raise _bad(f"--sample: {sample} must be between 100 and {cal.MAX_SAMPLE}")
    console = Console(stderr=True)
    matrices: dict[str, RollMatrix] = {"real panel": cal.real_matrix(real)}
    for scenario in ("baseline", "downturn"):
        spec = _spec(accounts, months, seed, scenario, "2024-01-01", None)
        book = work / scenario
        with _progress(console) as bar:
            generate_book(spec, book, _reporter(bar, scenario), replace=True)
            ids = cal.sample_accounts(book, sample, seed)
            _, codes, _ = cal.engine_codes(
                book,
                ids,
                spec.start,
                spec.window_last_date,
                _counter(bar, f"engine on {len(ids)} accounts ({scenario})", len(ids)),
            )
        matrices[f"twin {scenario}"] = cal.transitions(codes)
    _print_rates(matrices)
    command = (
        f"overdue twin calibrate --accounts {accounts} --months {months} --seed {seed} "
        f"--sample {sample}"
    )
    if markdown is not None:
        markdown.parent.mkdir(parents=True, exist_ok=True)
        markdown.write_text(cal.markdown_report(matrices, command), encoding="utf-8")


def _print_rates(typed: dict[str, RollMatrix]) -> None:
    from overdue.twin import calibration as cal

    table = Table(title="Monthly roll rates: real panel vs twin")
    table.add_column("rate")
    for name in typed:
        table.add_column(name, justify="right")
    for label, values in cal.key_rate_rows(typed):
        table.add_row(label, *(cal.fmt_rate(values[n]) for n in typed))
    table.add_row("pairs starting in 0", *(f"{m.row_total('0'):,}" for m in typed.values()))
    Console().print(table)


def register(app: typer.Typer) -> None:
    app.add_typer(twin_app, name="twin")
