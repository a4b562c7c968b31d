"""The monitoring report: one self-contained HTML page, readable offline, in zh-CN and en.

``write_report(monitoring, alerts, out)`` writes ``out`` (HTML) and the same stem with ``.json``
(the summary: every measure, the KPIs and the alerts). The page inlines Plotly's JavaScript from the
Python package once; every chart after that reuses it, and no script or style is loaded from the
network. Every number shown in a table cell carries ``data-key`` (what it is) and ``data-value``
(the exact value: a rate as a float, an amount in integer fen), so that tests and scripts can read
the page. Nothing in the page depends on the wall clock: the same snapshots give the same bytes.
"""

from __future__ import annotations

import html
import json
from collections.abc import Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

from overdue.domain.money import from_fen
from overdue.portfolio.alerts import MEASURES, Alert
from overdue.portfolio.monitoring import BASES, Distribution, Monitoring

SEVERITY_LABELS = {
    "info": "info / 提示",
    "warning": "warning / 警告",
    "critical": "critical / 严重",
}
BASIS_LABELS = {"count": "by count / 按户数", "balance": "by balance / 按余额"}
CHART_HEIGHT = 380
STYLE = """
body { font-family: system-ui, -apple-system, "PingFang SC", "Microsoft YaHei", sans-serif;
       margin: 24px; color: #1f2933; }
h1 { margin-bottom: 4px; } h2 { margin-top: 36px; border-bottom: 1px solid #d9e2ec; }
.meta { color: #52606d; }
.kpis { display: flex; flex-wrap: wrap; gap: 12px; margin: 16px 0; }
.kpi { border: 1px solid #d9e2ec; border-radius: 6px; padding: 10px 16px; min-width: 180px; }
.kpi .label { color: #52606d; font-size: 13px; } .kpi .value { font-size: 22px; font-weight: 600; }
table { border-collapse: collapse; margin: 8px 0 16px; font-size: 13px; }
th, td { border: 1px solid #d9e2ec; padding: 3px 8px; text-align: right; }
th { background: #f0f4f8; } td.text, th.text { text-align: left; }
.sev-critical { color: #b42318; font-weight: 600; } .sev-warning { color: #b54708; }
.note { color: #52606d; font-size: 13px; max-width: 60em; }
"""


# -- formatting ----------------------------------------------------------------------------------


def fmt_rate(value: float | None) -> str:
    return "—" if value is None else f"{100 * value:.2f} %"


def fmt_fen(value: int | None) -> str:
    return "—" if value is None else f"{from_fen(value):,.2f}"


def fmt_count(value: int | None) -> str:
    return "—" if value is None else f"{value:,}"


def show(value: float | int | None, kind: str) -> str:
    """``value`` formatted as a rate (percent), an amount (fen shown in yuan) or a count."""
    if value is None:
        return "—"
    if kind == "rate":
        return fmt_rate(float(value))
    assert isinstance(value, int), f"{kind} must be a whole number: {value!r}"
    return fmt_fen(value) if kind == "fen" else fmt_count(value)


def esc(text: object) -> str:
    return html.escape(str(text), quote=True)


def cell(key: str, value: float | int | None, kind: str) -> str:
    """A table cell showing ``value`` (rate, fen or count) with its exact value in data-value."""
    shown = show(value, kind)
    exact = "" if value is None else repr(value)
    return f'<td data-key="{esc(key)}" data-value="{esc(exact)}">{esc(shown)}</td>'


def table(headers: Sequence[str], rows: Sequence[Sequence[str]], first_text: bool = True) -> str:
    head = "".join(
        f'<th class="text">{esc(h)}</th>' if i == 0 and first_text else f"<th>{esc(h)}</th>"
        for i, h in enumerate(headers)
    )
    body = "".join(f"<tr>{''.join(r)}</tr>" for r in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def text_cell(text: object) -> str:
    return f'<td class="text">{esc(text)}</td>'


# -- charts --------------------------------------------------------------------------------------


class Charts:
    """Plotly figures as HTML fragments; the library's JavaScript goes into the page once."""

    def __init__(self) -> None:
        self.count = 0

    def render(self, fig: Any) -> str:
        import plotly.io as pio

        self.count += 1
        fig.update_layout(height=CHART_HEIGHT, template="none", margin={"t": 48, "b": 48})
        fragment: str = pio.to_html(
            fig,
            full_html=False,
            include_plotlyjs=False,
            div_id=f"chart-{self.count}",
            config={"displaylogo": False, "responsive": True},
        )
        return f'<div class="chart">{fragment}</div>'


def plotly_bundle() -> str:
    from plotly.offline import get_plotlyjs

    bundle: str = get_plotlyjs()
    return bundle


def _yuan(values: Sequence[int]) -> list[float]:
    """Fen as yuan floats, for chart axes only (tables show exact amounts)."""
    return [float(Decimal(v) / 100) for v in values]


def distribution_chart(charts: Charts, dist: Distribution, basis: str, title: str) -> str:
    import plotly.graph_objects as go

    fig = go.Figure()
    values = dist.values(basis)
    for j, bucket in enumerate(dist.buckets):
        column = [row[j] for row in values]
        y = column if basis == "count" else _yuan(column)
        fig.add_trace(go.Bar(name=bucket, x=list(dist.dates), y=y))
    y_title = "accounts / 账户数" if basis == "count" else "balance / 余额 (yuan / 元)"
    fig.update_layout(barmode="stack", title=title, yaxis_title=y_title)
    return charts.render(fig)


def heatmap(charts: Charts, m: Monitoring, basis: str) -> str:
    import plotly.graph_objects as go

    matrix = m.roll.matrix(basis)
    rates = matrix.rates
    z = [[None if r is None else round(100 * r, 2) for r in row] for row in rates]
    fig = go.Figure(
        go.Heatmap(
            z=z,
            x=list(matrix.states),
            y=list(matrix.states),
            colorscale="Reds",
            texttemplate="%{z}",
            hovertemplate="%{y} → %{x}: %{z} %<extra></extra>",
            colorbar={"title": "%"},
        )
    )
    fig.update_layout(
        title=f"Roll rates / 迁徙率 ({BASIS_LABELS[basis]}), %",
        xaxis_title="to (t) / 本期",
        yaxis_title="from (t−1) / 上期",
        yaxis_autorange="reversed",
    )
    return charts.render(fig)


def flow_chart(charts: Charts, m: Monitoring, basis: str) -> str:
    import plotly.graph_objects as go

    flows = m.flows.of(basis)
    fig = go.Figure()
    dates = [p.period for p in flows.by_period]
    for k, step in enumerate(flows.steps):
        label = f"{step.from_bucket}→{step.to_bucket}"
        y = [p.steps[k].rate for p in flows.by_period]
        fig.add_trace(go.Scatter(name=label, x=dates, y=y, mode="lines+markers"))
    fig.update_layout(
        title=f"Flow rates / 流转率 ({BASIS_LABELS[basis]})",
        yaxis_tickformat=".0%",
        yaxis_title="rate / 比率",
    )
    return charts.render(fig)


def line_chart(
    charts: Charts, title: str, x: Sequence[str], series: dict[str, list[float | None]]
) -> str:
    import plotly.graph_objects as go

    fig = go.Figure()
    for name, y in series.items():
        fig.add_trace(go.Scatter(name=name, x=list(x), y=y, mode="lines+markers"))
    fig.update_layout(title=title, yaxis_tickformat=".1%", yaxis_title="rate / 比率")
    return charts.render(fig)


# -- sections ------------------------------------------------------------------------------------


def kpi_header(m: Monitoring) -> str:
    day = m.days[-1]
    cards = [
        ("Accounts / 账户数", "kpi.accounts", day.accounts, "count"),
        ("Delinquent rate (count) / 逾期率（户数）", "kpi.delinquent_rate_count",
         day.delinquent_rate("count"), "rate"),
        ("Delinquent rate (balance) / 逾期率（余额）", "kpi.delinquent_rate_balance",
         day.delinquent_rate("balance"), "rate"),
        ("Total overdue / 逾期总额", "kpi.total_overdue_fen", day.total_overdue_fen, "fen"),
        ("Charged off / 已核销户数", "kpi.charged_off", day.charged_off, "count"),
    ]  # fmt: skip
    out = []
    for label, key, value, kind in cards:
        shown = show(value, kind)
        out.append(
            f'<div class="kpi"><div class="label">{esc(label)}</div>'
            f'<div class="value" data-key="{esc(key)}" data-value="{esc(repr(value))}">'
            f"{esc(shown)}</div></div>"
        )
    return f'<div class="kpis">{"".join(out)}</div>'


def alerts_section(alerts: Sequence[Alert], source: str | None) -> str:
    parts = ["<h2>Alerts / 预警</h2>"]
    if source is None:
        parts.append('<p class="note">No alerts file given / 未配置预警规则 (--alerts FILE).</p>')
        return "".join(parts)
    parts.append(f'<p class="note">Rules / 规则: {esc(source)}</p>')
    if not alerts:
        parts.append("<p>No alerts raised / 无预警</p>")
        return "".join(parts)
    headers = ["Date / 日期", "Severity / 级别", "Rule / 规则", "Measure / 指标", "Basis / 口径",
               "Value / 数值", "Threshold / 阈值"]  # fmt: skip
    rows = []
    for i, a in enumerate(alerts):
        kind = MEASURES[a.measure].unit(a.basis)
        limit = show(a.threshold, kind) if kind == "rate" else f"{a.threshold:,}"
        rows.append(
            [
                text_cell(a.at),
                f'<td class="text sev-{esc(a.severity)}">{esc(SEVERITY_LABELS[a.severity])}</td>',
                text_cell(a.rule),
                text_cell(a.measure),
                text_cell(BASIS_LABELS[a.basis]),
                cell(f"alert.{i}.value", a.value, kind),
                f'<td data-key="alert.{i}.threshold" data-value="{esc(repr(a.threshold))}">'
                f"{esc(a.op)} {esc(limit)}</td>",
            ]
        )
    parts.append(table(headers, rows))
    return "".join(parts)


def distribution_section(m: Monitoring, charts: Charts) -> str:
    parts = ["<h2>Bucket distribution / 逾期分布</h2>"]
    cn, us = m.distribution["cn"], m.distribution["us"]
    parts.append(
        distribution_chart(charts, cn, "count", "CN M-buckets / 中国 M 账期 — by count / 按户数")
    )
    parts.append(
        distribution_chart(
            charts, cn, "balance", "CN M-buckets / 中国 M 账期 — by balance / 按余额"
        )
    )
    parts.append(
        distribution_chart(charts, us, "count", "US cycle buckets / 美式账期 — by count / 按户数")
    )
    for dist, title in ((cn, "CN / 中国"), (us, "US / 美式")):
        for basis in BASES:
            kind = "count" if basis == "count" else "fen"
            headers = ["Date / 日期", *dist.buckets]
            rows = [
                [text_cell(at)]
                + [cell(f"dist.{dist.scheme}.{basis}.{at}.{b}", v, kind) for b, v in zip(dist.buckets, row, strict=True)]
                for at, row in zip(dist.dates, dist.values(basis), strict=True)
            ]  # fmt: skip
            parts.append(f"<h3>{esc(title)} — {esc(BASIS_LABELS[basis])}</h3>")
            parts.append(table(headers, rows))
    return "".join(parts)


def roll_section(m: Monitoring, charts: Charts) -> str:
    parts = [
        "<h2>Roll-rate matrix / 迁徙率矩阵</h2>",
        '<p class="note">Pooled over all consecutive dates; rows: bucket at t−1, columns: bucket '
        "at t / 所有相邻日期合并；行：上期账期，列：本期账期。</p>",
    ]
    for basis in BASES:
        parts.append(heatmap(charts, m, basis))
    states = m.roll.pooled.states
    for basis in BASES:
        matrix = m.roll.matrix(basis)
        rows = [
            [text_cell(s)] + [cell(f"roll.{basis}.{s}.{t}", r, "rate") for t, r in zip(states, rates, strict=True)]
            for s, rates in zip(states, matrix.rates, strict=True)
        ]  # fmt: skip
        parts.append(f"<h3>Roll rates / 迁徙率 — {esc(BASIS_LABELS[basis])}</h3>")
        parts.append(table(["from \\ to / 上期 \\ 本期", *states], rows))
    rows = [
        [text_cell(s)] + [cell(f"roll.pairs.{s}.{t}", c, "count") for t, c in zip(states, counts, strict=True)]
        for s, counts in zip(states, m.roll.pooled.counts, strict=True)
    ]  # fmt: skip
    parts.append("<h3>Pairs / 账户对数</h3>")
    parts.append(table(["from \\ to / 上期 \\ 本期", *states], rows))
    return "".join(parts)


def flow_section(m: Monitoring, charts: Charts) -> str:
    parts = ["<h2>Flow rates / 流转率</h2>"]
    parts.append(flow_chart(charts, m, "balance"))
    steps = m.flows.count.steps
    headers = ["Basis / 口径", *[f"{s.from_bucket}→{s.to_bucket}" for s in steps],
               "Net flow to loss / 净损失流转率"]  # fmt: skip
    rows = []
    for basis in BASES:
        flows = m.flows.of(basis)
        rows.append(
            [text_cell(f"pooled / 合并 — {BASIS_LABELS[basis]}")]
            + [cell(f"flow.{basis}.{s.from_bucket}", s.rate, "rate") for s in flows.steps]
            + [cell(f"net_flow.{basis}", m.flows.net_flow(basis, None), "rate")]
        )
        for period in flows.by_period:
            at = period.period
            rows.append(
                [text_cell(f"{at} — {BASIS_LABELS[basis]}")]
                + [cell(f"flow.{basis}.{at}.{s.from_bucket}", s.rate, "rate") for s in period.steps]
                + [cell(f"net_flow.{basis}.{at}", m.flows.net_flow(basis, at), "rate")]
            )
    parts.append(table(headers, rows))
    parts.append("<h2>Cure rates / 治愈率</h2>")
    parts.append(
        '<p class="note">Share of bucket i at t−1 that is M0 at t / 上期处于该账期、本期回到 M0 的比例。</p>'
    )
    buckets = m.roll.pooled.states[1:]
    rows = []
    for basis in BASES:
        cures = m.roll.matrix(basis).cure_rates(["M0"])
        rows.append(
            [text_cell(f"pooled / 合并 — {BASIS_LABELS[basis]}")]
            + [cell(f"cure.{basis}.{b}", cures[b], "rate") for b in buckets]
        )
        for at, _ in m.roll.by_date:
            per = m.roll.matrix(basis, at).cure_rates(["M0"])
            rows.append(
                [text_cell(f"{at} — {BASIS_LABELS[basis]}")]
                + [cell(f"cure.{basis}.{at}.{b}", per[b], "rate") for b in buckets]
            )
    parts.append(table(["Period / 期间", *buckets], rows))
    return "".join(parts)


def entry_section(m: Monitoring, charts: Charts) -> str:
    parts = ["<h2>Entry rate / 入催率</h2>"]
    if not m.entry:
        parts.append("<p>Needs two dates or more / 至少需要两个日期。</p>")
        return "".join(parts)
    x = [e.as_of for e in m.entry]
    series = {
        "by count / 按笔数": [e.rate("count") for e in m.entry],
        "by amount / 按金额": [e.rate("balance") for e in m.entry],
    }
    parts.append(line_chart(charts, "Entry rate / 入催率", x, series))
    headers = ["Period / 期间", "Items due / 到期笔数", "Entered overdue / 入催笔数",
               "Rate (count) / 入催率（笔数）", "Amount due / 到期金额",
               "Amount entered / 入催金额", "Rate (amount) / 入催率（金额）",
               "Pending / 未到判定日"]  # fmt: skip
    rows = [
        [
            text_cell(f"{e.start} → {e.as_of}"),
            cell(f"entry.{e.as_of}.items_due", e.items_due, "count"),
            cell(f"entry.{e.as_of}.items_entered", e.items_entered, "count"),
            cell(f"entry.{e.as_of}.count", e.rate("count"), "rate"),
            cell(f"entry.{e.as_of}.amount_due_fen", e.amount_due_fen, "fen"),
            cell(f"entry.{e.as_of}.amount_entered_fen", e.amount_entered_fen, "fen"),
            cell(f"entry.{e.as_of}.amount", e.rate("balance"), "rate"),
            cell(f"entry.{e.as_of}.items_pending", e.items_pending, "count"),
        ]
        for e in m.entry
    ]
    parts.append(table(headers, rows))
    return "".join(parts)


def collection_section(m: Monitoring, charts: Charts) -> str:
    parts = ["<h2>Portfolio, charge-off and recovery / 资产、核销与回收</h2>"]
    series = {
        "delinquent rate, count / 逾期率（户数）": [d.delinquent_rate("count") for d in m.days],
        "delinquent rate, balance / 逾期率（余额）": [d.delinquent_rate("balance") for d in m.days],
    }
    parts.append(line_chart(charts, "Delinquent rate / 逾期率", m.dates, series))
    headers = ["Date / 日期", "Accounts / 账户数", "Delinquent / 逾期户数", "Balance / 余额",
               "Total overdue / 逾期总额", "Charged off / 已核销户数",
               "New charge-offs / 新增核销户数", "New charge-off amount / 新增核销金额",
               "Recovered in period / 本期核销后回收", "Recovery rate / 核销回收率"]  # fmt: skip
    rows = [
        [
            text_cell(d.as_of),
            cell(f"day.{d.as_of}.accounts", d.accounts, "count"),
            cell(f"day.{d.as_of}.delinquent", d.delinquent, "count"),
            cell(f"day.{d.as_of}.balance_fen", d.balance_fen, "fen"),
            cell(f"day.{d.as_of}.total_overdue_fen", d.total_overdue_fen, "fen"),
            cell(f"day.{d.as_of}.charged_off", d.charged_off, "count"),
            cell(f"day.{d.as_of}.new_charge_offs", d.new_charge_offs, "count"),
            cell(f"day.{d.as_of}.new_charge_off_fen", d.new_charge_off_fen, "fen"),
            cell(f"day.{d.as_of}.recovered_fen", d.recovered_fen, "fen"),
            cell(f"day.{d.as_of}.recovery_rate", d.recovery_rate, "rate"),
        ]
        for d in m.days
    ]
    parts.append(table(headers, rows))
    return "".join(parts)


def vintage_section(m: Monitoring, charts: Charts) -> str:
    parts = ["<h2>Vintage curves / 账龄（Vintage）曲线</h2>"]
    v = m.vintage
    if v is None:
        parts.append('<p class="note">Needs the book / 需要账本数据 (--book DATA_DIR).</p>')
        return "".join(parts)
    import plotly.graph_objects as go

    x = v.vintage.thresholds[0]
    fig = go.Figure()
    cohorts = sorted({r.cohort for r in v.vintage.by_cohort if r.cohort is not None})
    for cohort in cohorts:
        cells = [r for r in v.vintage.by_cohort if r.cohort == cohort]
        y = [v.share("ever", "count", x, r) for r in cells]
        fig.add_trace(go.Scatter(name=cohort, x=[r.mob for r in cells], y=y, mode="lines+markers"))
    fig.update_layout(
        title=f"Ever {x}+ DPD by month on book / 历史最高逾期 ≥ {x} 天占比（按账龄月）",
        xaxis_title="MOB / 账龄月",
        yaxis_title="share / 占比",
        yaxis_tickformat=".0%",
    )
    parts.append(charts.render(fig))
    parts.append(
        f'<p class="note">Cohort = booking month; {v.excluded} accounts booked before the '
        f"history (or after their month's last snapshot) left out; {v.not_in_book} not in the "
        f"book / 放款月分组；{v.excluded} 户因观察期不完整未计入。</p>"
    )
    headers = ["Cohort / 放款月", "MOB / 账龄月", "Accounts / 账户数"]
    for t in v.vintage.thresholds:
        headers += [f"ever {t}+ / 历史 {t}+", f"now {t}+ / 当前 {t}+", f"ever {t}+ amt / 金额"]
    rows = []
    for r in v.vintage.by_cohort:
        row = [
            text_cell(r.cohort),
            text_cell(r.mob),
            cell(f"vintage.{r.cohort}.{r.mob}.accounts", r.accounts, "count"),
        ]
        for t in v.vintage.thresholds:
            key = f"vintage.{r.cohort}.{r.mob}"
            row += [
                cell(f"{key}.ever_{t}.count", v.share("ever", "count", t, r), "rate"),
                cell(f"{key}.current_{t}.count", v.share("current", "count", t, r), "rate"),
                cell(f"{key}.ever_{t}.balance", v.share("ever", "balance", t, r), "rate"),
            ]
        rows.append(row)
    parts.append(table(headers, rows))
    parts.append(f"<h2>First-payment default (FPD{v.fpd_days}) / 首期逾期</h2>")
    headers = ["Cohort / 放款月", "Observable / 可观察户数", "FPD / 首期逾期户数",
               "FPD rate / 首期逾期率", "FPD rate (amount) / 首期逾期率（金额）",
               "Pending / 未到观察期"]  # fmt: skip
    rows = [
        [
            text_cell(c.cohort),
            cell(f"fpd.{c.cohort}.accounts", c.accounts, "count"),
            cell(f"fpd.{c.cohort}.fpd", c.fpd, "count"),
            cell(f"fpd.{c.cohort}.count", c.rate("count"), "rate"),
            cell(f"fpd.{c.cohort}.balance", c.rate("balance"), "rate"),
            cell(f"fpd.{c.cohort}.pending", c.pending, "count"),
        ]
        for c in v.fpd
    ]
    parts.append(table(headers, rows))
    return "".join(parts)


# -- the page ------------------------------------------------------------------------------------


def render_html(
    m: Monitoring,
    alerts: Sequence[Alert],
    *,
    alerts_source: str | None,
    extra_sections: Sequence[str] = (),
) -> str:
    """The whole page; ``extra_sections`` are already-escaped HTML sections added at the end."""
    charts = Charts()
    body = [
        "<h1>Overdue monitoring report / 逾期监控报告</h1>",
        f'<p class="meta">Snapshots / 快照: {esc(m.snapshot_dir)} · period / 周期: '
        f"{esc(m.period)} · {esc(m.dates[0])} → {esc(m.dates[-1])} ({len(m.dates)} dates / 个日期)"
        f" · as of / 截至 {esc(m.dates[-1])}</p>",
        kpi_header(m),
        alerts_section(alerts, alerts_source),
        distribution_section(m, charts),
        roll_section(m, charts),
        flow_section(m, charts),
        entry_section(m, charts),
        collection_section(m, charts),
        vintage_section(m, charts),
        *extra_sections,
        '<p class="note">Definitions / 口径: docs/monitoring/measures.md. Amounts in yuan with '
        "two decimals; balance = unpaid principal of all items / 金额单位为元；余额 = 全部到期及未到期"
        "本金余额。</p>",
    ]
    return (
        '<!DOCTYPE html>\n<html lang="zh-CN">\n<head>\n<meta charset="utf-8">\n'
        "<title>Overdue monitoring report / 逾期监控报告</title>\n"
        f"<style>{STYLE}</style>\n"
        f'<script type="text/javascript">{plotly_bundle()}</script>\n'
        "</head>\n<body>\n" + "\n".join(body) + "\n</body>\n</html>\n"
    )


def summary(m: Monitoring, alerts: Sequence[Alert], alerts_source: str | None) -> dict[str, Any]:
    day = m.days[-1]
    return {
        **m.to_json_dict(),
        "kpi": {
            "as_of": day.as_of,
            "accounts": day.accounts,
            "delinquent_rate_count": day.delinquent_rate("count"),
            "delinquent_rate_balance": day.delinquent_rate("balance"),
            "total_overdue_fen": day.total_overdue_fen,
            "charged_off": day.charged_off,
        },
        "alerts_source": alerts_source,
        "alerts": [a.to_json_dict() for a in alerts],
    }


def write_report(
    m: Monitoring,
    alerts: Sequence[Alert],
    out: Path,
    *,
    alerts_source: str | None = None,
    extra_sections: Sequence[str] = (),
) -> tuple[Path, Path]:
    """Write the HTML page to ``out`` and the JSON summary next to it; return both paths."""
    out.parent.mkdir(parents=True, exist_ok=True)
    json_path = out.with_suffix(".json")
    page = render_html(m, alerts, alerts_source=alerts_source, extra_sections=extra_sections)
    tmp = out.with_name(f".{out.name}.tmp")
    tmp.write_text(page, encoding="utf-8")
    tmp.replace(out)
    data = summary(m, alerts, alerts_source)
    json_path.write_text(json.dumps(data, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    return out, json_path
