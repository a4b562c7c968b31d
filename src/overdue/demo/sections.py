"""Sections the demo adds to its monitoring report: the book's models and the strategies per arm.

Each function takes what the step returned and gives one escaped HTML ``<section>``; nothing here
computes a figure, it only shows what the models and strategy steps measured.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from overdue.reports.monitoring_report import esc, table
from overdue.strategy.arm_figures import arm_rows

MODEL_TITLES = {
    "early_warning": "Early warning (before the due date) / 到期前预警",
    "collection": "Collection score (cure within 30 days of entering M1) / 催收评分（M1 30 天内治愈）",
}


def _row(cells: Sequence[str]) -> list[str]:
    """Already-escaped cell texts as table cells; the first is a text cell."""
    return [
        f'<td class="text">{c}</td>' if i == 0 else f"<td>{c}</td>" for i, c in enumerate(cells)
    ]


def _pct(value: object) -> str:
    return "–" if value is None else f"{float(value) * 100:.1f} %"  # type: ignore[arg-type]


def _num(value: object, digits: int = 3) -> str:
    return "–" if value is None else f"{float(value):.{digits}f}"  # type: ignore[arg-type]


def models_section(result: Mapping[str, Any]) -> str:
    """AUC, KS, Gini and capture at 10 % / 20 % per model on its later (validation) dates."""
    rows = []
    charts = []
    for name, fig in result.get("models", {}).items():
        rows.append(
            _row(
                [
                    esc(MODEL_TITLES.get(name, name)),
                    _num(fig["auc"]),
                    _num(fig["ks"]),
                    _num(fig["gini"]),
                    _pct(fig["capture_10"]),
                    _pct(fig["capture_20"]),
                    f"{int(fig['n']):,}",
                    _pct(fig["base_rate"]),
                    esc(", ".join(str(d) for d in fig.get("valid_dates", []))),
                ]
            )
        )
        svg_path = Path(fig["gains_svg"])
        if svg_path.is_file():
            charts.append(f'<div class="gains">{svg_path.read_text(encoding="utf-8")}</div>')
    skipped = "".join(
        f"<li>{esc(name)}: {esc(reason)}</li>" for name, reason in result.get("skipped", {}).items()
    )
    headers = [
        "model / 模型",
        "AUC",
        "KS",
        "Gini",
        "bads in riskiest 10 % / 最高风险 10% 捕获",
        "in riskiest 20 % / 20% 捕获",
        "validation rows / 验证样本",
        "bad rate / 坏样本率",
        "validation dates / 验证日期",
    ]
    scored = result.get("scored")
    return (
        "<section><h2>Models on this book / 本账簿上的模型</h2>"
        "<p>Trained on earlier observation dates, measured on later ones (time-based validation); "
        "the last snapshot is scored with the model version stamped on every score. / "
        "用较早观察日训练、较晚观察日验证（按时间切分）；最后一天的快照已评分，每个分数带模型版本。</p>"
        + table(headers, rows)
        + "".join(charts)
        + (f"<p>Scored accounts / 已评分账户: {esc(scored)}</p>" if scored is not None else "")
        + (f"<ul>{skipped}</ul>" if skipped else "")
        + "</section>"
    )


def strategies_section(result: Mapping[str, Any]) -> str:
    """Contacts, blocked attempts by rule, promises and recoveries per strategy arm."""
    arms, blocked = arm_rows(result)
    rows = [
        _row(
            [
                esc(arm.strategy),
                esc(arm.arm),
                f"{int(arm.customers):,}",
                f"{int(arm.contacts):,}",
                f"{int(arm.blocked):,}",
                f"{int(arm.promises):,}",
                f"{int(arm.recovered_fen) / 100:,.2f}",
                f"{int(arm.complaints):,}",
            ]
        )
        for arm in arms
    ]
    headers = [
        "strategy / 策略",
        "arm / 组",
        "customers / 客户",
        "contacts sent / 已发送联系",
        "blocked / 被拦截",
        "promises / 承诺还款",
        "recovered (yuan) / 回收（元）",
        "complaints / 投诉",
    ]
    blocked_rows = [_row([esc(rule), f"{count:,}"]) for rule, count in sorted(blocked.items())]
    days = f"{esc(result.get('first_day'))} → {esc(result.get('last_day'))}"
    return (
        "<section><h2>Strategies per arm / 各实验组策略效果</h2>"
        f"<p>Simulated days / 模拟日期: {days}; every contact passed the compliance gate. "
        "Per-contact log / 逐条联系记录: "
        f"{esc(result.get('contacts_csv'))}</p>"
        + table(headers, rows)
        + "<h3>Blocked attempts by rule / 按规则统计的拦截</h3>"
        + table(["rule / 规则", "attempts / 次数"], blocked_rows)
        + "</section>"
    )
