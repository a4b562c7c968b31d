"""``overdue metrics``: monitoring measures over any panel file (roll rates, flows, vintage).

The heavy modules (Ibis, DuckDB) are imported inside the commands so ``overdue --help`` stays fast.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, TypeVar

import typer
from rich.console import Console
from rich.table import Table

if TYPE_CHECKING:
    from overdue.portfolio.panel import Panel
    from overdue.portfolio.roll_rate import FlowRates, RollRate
    from overdue.portfolio.vintage import Vintage

T = TypeVar("T")

CREDIT_RECORD = "../shared/data/credit_record.zip"
PANEL_COLUMNS = "--id ID --period MONTHS_BALANCE --state STATUS"
ROLL_RATE_EPILOG = (
    f"Example: overdue metrics roll-rate {CREDIT_RECORD} {PANEL_COLUMNS} --states C,X,0,1,2,3,4,5"
    " --json"
)
FLOW_EPILOG = (
    f"Example: overdue metrics flow-rate {CREDIT_RECORD} {PANEL_COLUMNS} --ladder C+X,0,1,2,3,4,5"
)
VINTAGE_EPILOG = (
    f"Example: overdue metrics vintage {CREDIT_RECORD} {PANEL_COLUMNS}"
    ' --dpd-map "0=1,1=30,2=60,3=90,4=120,5=150,C=0,X=0" --thresholds 30,60,90'
)

metrics_app = typer.Typer(
    name="metrics",
    help="Monitoring measures over a panel (one row per account and period): roll rates, "
    "flow and cure rates, vintage curves. Input: CSV, Parquet, or one of them inside a zip.",
    no_args_is_help=True,
    epilog=ROLL_RATE_EPILOG,
)

InputArg = Annotated[
    Path, typer.Argument(help="Panel file: .csv, .parquet, or a .zip holding one of them.")
]
IdOpt = Annotated[str, typer.Option("--id", help="Column with the account id.")]
PeriodOpt = Annotated[
    str,
    typer.Option("--period", help="Column with the period: integers (t-1 = one less) or months."),
]
StateOpt = Annotated[str, typer.Option("--state", help="Column with the state (bucket/status).")]
WeightOpt = Annotated[
    str | None,
    typer.Option("--weight", help="Numeric column (>= 0) to weigh rows by, e.g. balance_fen."),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]


def register(app: typer.Typer) -> None:
    app.add_typer(metrics_app, name="metrics")


def _run(action: Callable[[], T]) -> T:
    """Run ``action``; turn a PanelError into one ``error:`` line and exit code 2."""
    from overdue.cli import fail
    from overdue.portfolio.panel import PanelError

    try:
        return action()
    except PanelError as exc:
        raise fail(str(exc)) from None


def _load(path: Path, id_col: str, period_col: str, state_col: str, weight: str | None) -> Panel:
    from overdue.portfolio.panel import PanelSpec, load_panel

    return _run(lambda: load_panel(path, PanelSpec(id_col, period_col, state_col, weight)))


def _split_states(text: str | None) -> list[str] | None:
    if text is None:
        return None
    return [s.strip() for s in text.split(",")]


def _pct(value: float | None) -> str:
    """A share as a percentage with two decimals (the % sign is in the column title)."""
    return "—" if value is None else f"{100 * value:.2f}"


@metrics_app.command("roll-rate", epilog=ROLL_RATE_EPILOG)
def roll_rate_command(
    input_path: InputArg,
    id_col: IdOpt,
    period_col: PeriodOpt,
    state_col: StateOpt,
    weight: WeightOpt = None,
    states: Annotated[
        str | None,
        typer.Option(
            "--states",
            help="Comma-separated states in display order; rows in other states are left out. "
            "Default: all states sorted as text.",
        ),
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Roll-rate matrix: pairs of (t-1, t) rows of an account, counted by state at t-1 and at t.

    rates[i][j] = weight at t-1 of pairs i->j / weight at t-1 of all pairs from i.
    """
    from overdue.portfolio.roll_rate import roll_rate

    started = time.perf_counter()
    panel = _load(input_path, id_col, period_col, state_col, weight)
    matrix = _run(lambda: roll_rate(panel, _split_states(states)))
    if as_json:
        typer.echo(json.dumps(matrix.to_json_dict()))
        return
    _print_roll_rate(matrix, panel.source, time.perf_counter() - started)


def _print_roll_rate(matrix: RollRate, source: str, seconds: float) -> None:
    console = Console()
    counts = Table(title=f"Roll-rate counts: state at t-1 (rows) -> state at t ({source})")
    rates = Table(title="Roll rates in % of the row (by weight at t-1)")
    for table in (counts, rates):
        table.add_column("t-1 \\ t", style="bold")
        for state in matrix.states:
            table.add_column(state, justify="right")
    for state, count_row, rate_row in zip(matrix.states, matrix.counts, matrix.rates, strict=True):
        counts.add_row(state, *(f"{c:,}" for c in count_row))
        rates.add_row(state, *(_pct(r) for r in rate_row))
    console.print(counts)
    console.print(rates)
    console.print(f"{matrix.pairs:,} pairs in {seconds:.2f} s")


@metrics_app.command("flow-rate", epilog=FLOW_EPILOG)
def flow_rate_command(
    input_path: InputArg,
    id_col: IdOpt,
    period_col: PeriodOpt,
    state_col: StateOpt,
    ladder: Annotated[
        str,
        typer.Option(
            "--ladder",
            help="Buckets from current to worst, comma-separated; '+' joins states into one "
            "bucket (e.g. C+X,0,1,2,3,4,5). The first bucket is 'current' for cure rates.",
        ),
    ],
    weight: WeightOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Flow rates down a bucket ladder, net flow to loss, and cure rates of each bucket.

    Flow i->i+1 = weight in bucket i+1 at t / weight in bucket i at t-1, pooled over periods.
    Cure rate of i = share of bucket i at t-1 (present at t) that is in the first bucket at t.
    """
    from overdue.portfolio.roll_rate import Ladder, cure_rates, flow_rates

    panel = _load(input_path, id_col, period_col, state_col, weight)
    parsed = _run(lambda: Ladder.parse(ladder))
    flows = _run(lambda: flow_rates(panel, parsed))
    cures = _run(lambda: cure_rates(panel, parsed))
    if as_json:
        typer.echo(json.dumps({**flows.to_json_dict(), "cure_rates": cures}))
        return
    _print_flows(flows, cures)


def _print_flows(flows: FlowRates, cures: dict[str, float | None]) -> None:
    console = Console()
    table = Table(title="Flow rates (pooled over periods)")
    for name in ("from (t-1)", "to (t)", "weight at t", "weight at t-1", "flow rate %"):
        table.add_column(name, justify="right")
    for step in flows.steps:
        table.add_row(
            step.from_bucket, step.to_bucket, str(step.numerator), str(step.denominator),
            _pct(step.rate),
        )  # fmt: skip
    console.print(table)
    console.print(f"net flow to loss: {_pct(flows.net_flow_to_loss)} %")
    cure_table = Table(title=f"Cure rates (to {flows.ladder[0]} at t)")
    cure_table.add_column("bucket at t-1")
    cure_table.add_column("cure rate %", justify="right")
    for bucket, rate in cures.items():
        cure_table.add_row(bucket, _pct(rate))
    console.print(cure_table)


@metrics_app.command("vintage", epilog=VINTAGE_EPILOG)
def vintage_command(
    input_path: InputArg,
    id_col: IdOpt,
    period_col: PeriodOpt,
    state_col: StateOpt,
    dpd_map: Annotated[
        str | None,
        typer.Option(
            "--dpd-map",
            help="STATE=DAYS pairs mapping each state to its DPD lower bound, e.g. "
            "0=1,1=30,C=0. Without it the state must be a whole number of days.",
        ),
    ] = None,
    thresholds: Annotated[
        str, typer.Option("--thresholds", help="X for ever-X+ / current-X+ (DPD >= X).")
    ] = "30,60,90",
    weight: Annotated[
        str | None,
        typer.Option("--weight", help="Numeric column; an account weighs its first row's value."),
    ] = None,
    by_cohort: Annotated[
        bool, typer.Option("--by-cohort", help="Also give every (cohort, MOB) cell.")
    ] = False,
    as_json: JsonOpt = False,
) -> None:
    """Vintage: ever-X+ and current-X+ shares by month on book (MOB = period - first period).

    The cohort is the first period an account appears in the panel (left-censored: first seen).
    """
    from overdue.portfolio.vintage import parse_dpd_map, parse_thresholds, vintage

    mapping = None if dpd_map is None else _run(lambda: parse_dpd_map(dpd_map))
    chosen = _run(lambda: parse_thresholds(thresholds))
    panel = _load(input_path, id_col, period_col, state_col, weight)
    result = _run(lambda: vintage(panel, dpd_map=mapping, thresholds=chosen))
    if as_json:
        typer.echo(json.dumps(result.to_json_dict(include_cohorts=by_cohort)))
        return
    _print_vintage(result, by_cohort)


def _print_vintage(result: Vintage, by_cohort: bool) -> None:
    console = Console()
    table = Table(
        title="Vintage in % of the eligible accounts, by "
        + ("cohort and MOB" if by_cohort else "MOB (all cohorts)")
    )
    if by_cohort:
        table.add_column("cohort")
    for name in ("MOB", "accounts", "observed"):
        table.add_column(name, justify="right")
    for x in result.thresholds:
        table.add_column(f"ever {x}+", justify="right")
        table.add_column(f"now {x}+", justify="right")
        if result.weighted:
            table.add_column(f"ever {x}+ amt", justify="right")
    for row in result.by_cohort if by_cohort else result.by_mob:
        cells = [row.cohort or ""] if by_cohort else []
        cells += [str(row.mob), f"{row.accounts:,}", f"{row.observed:,}"]
        data = row.to_json_dict(result.weighted)
        for x in result.thresholds:
            cells += [_pct(_float(data[f"ever_{x}"])), _pct(_float(data[f"current_{x}"]))]
            if result.weighted:
                cells.append(_pct(_float(data[f"ever_{x}_amount"])))
        table.add_row(*cells)
    console.print(table)


def _float(value: object) -> float | None:
    assert value is None or isinstance(value, float | int)
    return None if value is None else float(value)
