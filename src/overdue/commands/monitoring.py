"""``overdue monitor``: measures, alerts and the HTML report over the end-of-day snapshot history.

Also adds ``overdue metrics report`` (the same as ``overdue monitor report``) to the ``metrics``
group of ``overdue.commands.metrics``, which is registered before this module.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, TypeVar

import typer
from rich import box
from rich.console import Console
from rich.table import Table

if TYPE_CHECKING:
    from overdue.portfolio.alerts import Alert
    from overdue.portfolio.monitor_vintage import SnapshotVintage
    from overdue.portfolio.monitoring import Monitoring

T = TypeVar("T")

REPORT_EPILOG = (
    "Example: overdue monitor report data/snapshots --out report.html --book data/book "
    "--alerts examples/alerts/default.toml --period month"
)
VINTAGE_EPILOG = "Example: overdue monitor vintage data/snapshots --book data/book --json"
ALERTS_EPILOG = (
    "Example: overdue monitor alerts data/snapshots --config examples/alerts/default.toml "
    "--period month"
)
MEASURES_EPILOG = "Example: overdue monitor measures data/snapshots --period month --json"

monitor_app = typer.Typer(
    name="monitor",
    help="Monitoring over the end-of-day snapshots: bucket distribution, roll / flow / cure "
    "rates, entry rate, vintage and FPD, charge-offs, threshold alerts, and an offline HTML report.",
    no_args_is_help=True,
    epilog=REPORT_EPILOG,
)

SnapshotArg = Annotated[
    Path, typer.Argument(help="Snapshot folder written by overdue eod (as_of=YYYY-MM-DD/...).")
]
BookOpt = Annotated[
    Path | None,
    typer.Option("--book", help="The book (DATA_DIR): cohorts, original amounts and policies."),
]
PeriodOpt = Annotated[
    str,
    typer.Option("--period", help="day: every snapshot; month: the last snapshot of each month."),
]
FromOpt = Annotated[
    str | None, typer.Option("--from", help="First snapshot date to use (YYYY-MM-DD).")
]
ToOpt = Annotated[str | None, typer.Option("--to", help="Last snapshot date to use (YYYY-MM-DD).")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON instead of tables.")]


def register(app: typer.Typer) -> None:
    app.add_typer(monitor_app, name="monitor")
    from overdue.commands.metrics import metrics_app

    metrics_app.command("report", epilog=REPORT_EPILOG.replace("monitor", "metrics"))(
        report_command
    )


def _run(action: Callable[[], T]) -> T:
    """Run ``action``; a MonitoringError becomes one ``error:`` line and exit code 2."""
    from overdue.cli import fail
    from overdue.portfolio.monitor_history import MonitoringError

    try:
        return action()
    except MonitoringError as exc:
        raise fail(str(exc)) from None


def _date(option: str, text: str | None) -> date | None:
    from overdue.cli import fail

    if text is None:
        return None
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise fail(f"{option}: {text!r} is not a date YYYY-MM-DD") from None


def _monitor(
    snapshots: Path, period: str, book: Path | None, first: str | None, last: str | None
) -> Monitoring:
    from overdue.portfolio.monitoring import monitor

    since, until = _date("--from", first), _date("--to", last)
    return _run(lambda: monitor(snapshots, period=period, book=book, first=since, last=until))


def _alerts(config: Path | None, m: Monitoring) -> list[Alert]:
    from overdue.portfolio.alerts import evaluate, load_config

    if config is None:
        return []
    loaded = _run(lambda: load_config(config))
    return _run(lambda: evaluate(loaded, m))


def report_command(
    snapshots: SnapshotArg,
    out: Annotated[Path, typer.Option("--out", help="The HTML file to write (.html).")],
    book: BookOpt = None,
    alerts: Annotated[
        Path | None, typer.Option("--alerts", help="Alert rules (TOML) to evaluate and show.")
    ] = None,
    period: PeriodOpt = "day",
    first: FromOpt = None,
    last: ToOpt = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Also print the JSON summary on stdout.")
    ] = False,
) -> None:
    """Write the monitoring report: one offline HTML page (zh-CN / en) and a JSON summary.

    The summary goes next to the page with the suffix .json (report.html -> report.json).
    """
    from overdue.cli import fail
    from overdue.reports.monitoring_report import summary, write_report

    if out.suffix.lower() not in (".html", ".htm"):
        raise fail(f"--out {out}: the report is an .html file")
    # the alerts file is checked before the (longer) measures are computed
    if alerts is not None:
        from overdue.portfolio.alerts import load_config

        _run(lambda: load_config(alerts))
    m = _monitor(snapshots, period, book, first, last)
    raised = _alerts(alerts, m)
    source = None if alerts is None else str(alerts)
    html_path, json_path = write_report(m, raised, out, alerts_source=source)
    if as_json:
        typer.echo(json.dumps(summary(m, raised, source), ensure_ascii=False))
        return
    console = Console(stderr=False)
    console.print(
        f"wrote {html_path} and {json_path}: {len(m.dates)} dates "
        f"({m.dates[0]} → {m.dates[-1]}), {m.days[-1].accounts:,} accounts, "
        f"{len(raised)} alerts"
    )


monitor_app.command("report", epilog=REPORT_EPILOG)(report_command)


@monitor_app.command("measures", epilog=MEASURES_EPILOG)
def measures_command(
    snapshots: SnapshotArg,
    book: BookOpt = None,
    period: PeriodOpt = "day",
    first: FromOpt = None,
    last: ToOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Every measure over the snapshots, as JSON or as a short table per date."""
    m = _monitor(snapshots, period, book, first, last)
    if as_json:
        typer.echo(json.dumps(m.to_json_dict(), ensure_ascii=False))
        return
    _print_days(m)


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{100 * value:.2f}"


def _print_days(m: Monitoring) -> None:
    from overdue.domain.money import from_fen

    table = Table(title=f"Portfolio by date / 按日期 ({m.period}; % and yuan)", box=box.SIMPLE)
    for name in ("date", "accts", "del%", "del bal%", "overdue", "M1→M2%", "entry%", "CO"):
        table.add_column(name, justify="right", no_wrap=True)
    entry = {e.as_of: e for e in m.entry}
    for i, d in enumerate(m.days):
        roll = m.roll.rate("count", "M1", "M2", d.as_of) if i else None
        e = entry.get(d.as_of)
        table.add_row(
            d.as_of,
            f"{d.accounts:,}",
            _pct(d.delinquent_rate("count")),
            _pct(d.delinquent_rate("balance")),
            f"{from_fen(d.total_overdue_fen):,.2f}",
            _pct(roll),
            _pct(None if e is None else e.rate("count")),
            "—" if d.new_charge_offs is None else f"{d.new_charge_offs:,}",
        )
    Console().print(table)


@monitor_app.command("vintage", epilog=VINTAGE_EPILOG)
def vintage_command(
    snapshots: SnapshotArg,
    book: Annotated[
        Path, typer.Option("--book", help="The book (DATA_DIR): opened_on, principal, policies.")
    ],
    thresholds: Annotated[
        str, typer.Option("--thresholds", help="X for ever-X+ / current-X+ (DPD >= X).")
    ] = "30,60,90",
    fpd_days: Annotated[
        int, typer.Option("--fpd-days", help="FPD-X: the first item reached X days past due.")
    ] = 30,
    last: ToOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Vintage by booking month and month on book (month-end snapshots), and FPD by cohort.

    ever-X+ at MOB k: max_dpd >= X in the month-end snapshot of month k; current-X+: dpd >= X.
    """
    from overdue.cli import fail
    from overdue.portfolio.monitor_vintage import snapshot_vintage
    from overdue.portfolio.panel import PanelError
    from overdue.portfolio.vintage import parse_thresholds

    try:
        chosen = parse_thresholds(thresholds)
    except PanelError as exc:
        raise fail(str(exc)) from None
    until = _date("--to", last)
    result = _run(
        lambda: snapshot_vintage(snapshots, book, thresholds=chosen, fpd_days=fpd_days, last=until)
    )
    if as_json:
        typer.echo(json.dumps(result.to_json_dict(), ensure_ascii=False))
        return
    _print_vintage(result)


def _print_vintage(v: SnapshotVintage) -> None:
    console = Console()
    table = Table(title="Vintage, % of the cohort (count) / 账龄分析（户数占比）")
    for name in ("cohort", "MOB", "accounts"):
        table.add_column(name, justify="right")
    for x in v.vintage.thresholds:
        table.add_column(f"ever {x}+", justify="right")
        table.add_column(f"now {x}+", justify="right")
    for row in v.vintage.by_cohort:
        cells = [row.cohort or "", str(row.mob), f"{row.accounts:,}"]
        for x in v.vintage.thresholds:
            cells += [
                _pct(v.share("ever", "count", x, row)),
                _pct(v.share("current", "count", x, row)),
            ]
        table.add_row(*cells)
    console.print(table)
    console.print(
        f"left out (booked before the history): {v.excluded}; not in book: {v.not_in_book}"
    )
    fpd = Table(title=f"FPD{v.fpd_days} by cohort / 首期逾期")
    for name in ("cohort", "observable", "FPD", "FPD %", "FPD amount %", "pending"):
        fpd.add_column(name, justify="right")
    for c in v.fpd:
        fpd.add_row(
            c.cohort, f"{c.accounts:,}", f"{c.fpd:,}", _pct(c.rate("count")),
            _pct(c.rate("balance")), f"{c.pending:,}",
        )  # fmt: skip
    console.print(fpd)


@monitor_app.command("alerts", epilog=ALERTS_EPILOG)
def alerts_command(
    snapshots: SnapshotArg,
    config: Annotated[Path, typer.Option("--config", help="Alert rules (TOML).")],
    book: BookOpt = None,
    period: PeriodOpt = "day",
    first: FromOpt = None,
    last: ToOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Evaluate threshold alerts: one alert per rule and date where `value op threshold` holds."""
    from overdue.portfolio.alerts import MEASURES, load_config

    _run(lambda: load_config(config))
    m = _monitor(snapshots, period, book, first, last)
    raised = _alerts(config, m)
    if as_json:
        typer.echo(json.dumps([a.to_json_dict() for a in raised], ensure_ascii=False))
        return
    table = Table(title=f"Alerts / 预警 ({len(raised)})")
    for name in ("date", "severity", "rule", "value", "threshold"):
        table.add_column(name)
    for a in raised:
        unit = MEASURES[a.measure].unit(a.basis)
        table.add_row(
            a.at, a.severity, a.rule, _show(a.value, unit), f"{a.op} {_show(a.threshold, unit)}"
        )
    Console().print(table)


def _show(value: float | int, unit: str) -> str:
    if unit == "rate":
        return f"{100 * value:.2f} %"
    if unit == "fen":
        from overdue.domain.money import from_fen

        return f"{from_fen(int(value)):,.2f}"
    return f"{value:,}"
