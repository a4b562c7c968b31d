"""Manager dashboard charts from the end-of-day snapshots (overdue.portfolio.monitoring).

Plotly figures are plain dicts (data + layout) drawn in the browser by the packaged plotly.min.js.
The monitoring measures are computed once per snapshot folder and kept (they change only when the
end-of-day batch writes a new date); alerts come from the default rules shipped with the demo.
"""

from __future__ import annotations

import dataclasses
import threading
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from overdue.web.i18n import Lang
from overdue.web.labels import N_

MAX_VINTAGE_COHORTS = 12
MAX_ALERTS_SHOWN = 20
VINTAGE_DPD = 30
_LOCK = threading.Lock()


@dataclass(frozen=True)
class Measures:
    monitoring: Any  # overdue.portfolio.monitoring.Monitoring
    alerts: tuple[Any, ...]  # overdue.portfolio.alerts.Alert
    error: str | None = None


def load_measures(cache: dict[str, Measures], snapshot_dir: Path, book_dir: Path | None) -> Measures:
    """The monitoring measures and alerts over ``snapshot_dir`` (computed once, then kept)."""
    key = f"{snapshot_dir}|{book_dir}"
    with _LOCK:
        if key not in cache:
            cache[key] = _compute(snapshot_dir, book_dir)
        return cache[key]


def _compute(snapshot_dir: Path, book_dir: Path | None) -> Measures:
    from overdue.portfolio.alerts import MEASURES, evaluate, load_config
    from overdue.portfolio.monitor_history import MonitoringError
    from overdue.portfolio.monitoring import monitor

    try:
        monitoring = monitor(snapshot_dir, period="month", book=book_dir)
        with resources.as_file(resources.files("overdue.demo") / "alerts-default.toml") as rules:
            config = load_config(rules)
        if monitoring.vintage is None:
            kept = tuple(r for r in config.rules if not MEASURES[r.measure].needs_book)
            config = dataclasses.replace(config, rules=kept)
        alerts = tuple(evaluate(config, monitoring))
    except (MonitoringError, OSError) as exc:
        return Measures(None, (), error=str(exc))
    return Measures(monitoring, alerts)


def _layout(title: str, **extra: Any) -> dict[str, Any]:
    return {"title": {"text": title}, "margin": {"l": 60, "r": 20, "t": 50, "b": 50}, **extra}


def bucket_chart(lang: Lang, buckets: list[str], accounts: list[int], title: str) -> dict[str, Any]:
    return {
        "data": [{"type": "bar", "x": buckets, "y": accounts, "name": lang.gettext(N_("Accounts"))}],
        "layout": _layout(title, yaxis={"title": {"text": lang.gettext(N_("Accounts"))}}),
    }


def roll_rate_chart(lang: Lang, monitoring: Any) -> dict[str, Any]:
    matrix = monitoring.roll.pooled
    rates = [[None if r is None else round(r, 4) for r in row] for row in matrix.rates]
    return {
        "data": [
            {
                "type": "heatmap",
                "z": rates,
                "x": list(matrix.states),
                "y": list(matrix.states),
                "colorscale": "Reds",
                "zmin": 0,
                "zmax": 1,
            }
        ],
        "layout": _layout(
            lang.gettext(N_("Roll rates (by balance, all months)")),
            xaxis={"title": {"text": lang.gettext(N_("To bucket"))}},
            yaxis={"title": {"text": lang.gettext(N_("From bucket"))}, "autorange": "reversed"},
        ),
    }


def vintage_chart(lang: Lang, monitoring: Any) -> dict[str, Any] | None:
    vintage = monitoring.vintage
    if vintage is None:
        return None
    series: dict[str, tuple[list[int], list[float | None]]] = {}
    for row in vintage.vintage.by_cohort:
        if row.cohort is None or row.observed == 0:
            continue
        xs, ys = series.setdefault(str(row.cohort), ([], []))
        xs.append(int(row.mob))
        ys.append(vintage.share("ever", "count", VINTAGE_DPD, row))
    cohorts = sorted(series)[-MAX_VINTAGE_COHORTS:]
    data = [
        {"type": "scatter", "mode": "lines+markers", "name": c, "x": series[c][0], "y": series[c][1]}
        for c in cohorts
    ]
    return {
        "data": data,
        "layout": _layout(
            lang.gettext(N_("Vintage: share ever 30+ days past due")),
            xaxis={"title": {"text": lang.gettext(N_("Months on book"))}},
            yaxis={"title": {"text": lang.gettext(N_("Share of cohort"))}, "tickformat": ".0%"},
        ),
    }


def alert_name(lang: Lang, name: str) -> str:
    """Rule names are written "English / 中文": show the part of the page's language."""
    if " / " not in name:
        return name
    english, chinese = name.split(" / ", 1)
    return chinese if lang.code == "zh-CN" else english


def day_kpis(lang: Lang, monitoring: Any) -> list[tuple[str, str]]:
    day = monitoring.days[-1]
    share = day.delinquent / day.accounts if day.accounts else None
    return [
        (lang.gettext(N_("Snapshot date")), lang.date(day.as_of)),
        (lang.gettext(N_("Accounts")), lang.number(day.accounts)),
        (lang.gettext(N_("Delinquent accounts")), lang.number(day.delinquent)),
        (lang.gettext(N_("Delinquency rate")), lang.percent(share)),
        (lang.gettext(N_("Delinquent balance")), lang.money(day.delinquent_balance_fen)),
        (lang.gettext(N_("Total overdue")), lang.money(day.total_overdue_fen)),
        (lang.gettext(N_("Charged off")), lang.number(day.charged_off)),
        (lang.gettext(N_("Recovered after charge-off")), lang.money(day.recovered_total_fen)),
    ]


def snapshot_bucket_chart(lang: Lang, monitoring: Any) -> dict[str, Any]:
    dist = monitoring.distribution["cn"]
    return bucket_chart(
        lang,
        list(dist.buckets),
        list(dist.accounts[-1]),
        lang.gettext(N_("Book by bucket at the last snapshot")),
    )
