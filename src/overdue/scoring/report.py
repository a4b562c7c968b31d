"""A self-contained, offline HTML report of one model version.

Plotly's JavaScript is inlined from the Python package (no network): gains and lift, calibration,
the scorecard table, features (types, sentinel codes, dropped columns) and every decision taken
in training with its cross-validated numbers.
"""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from overdue.scoring import evaluation
from overdue.scoring.model import ScoringModel

STYLE = """
body{font-family:system-ui,-apple-system,"Segoe UI","PingFang SC","Microsoft YaHei","Noto Sans CJK SC",sans-serif;
margin:2rem auto;max-width:1100px;color:#1d2733;padding:0 1rem}
h1{font-size:1.6rem}h2{font-size:1.2rem;margin-top:2rem;border-bottom:1px solid #d5dbe1}
table{border-collapse:collapse;font-size:.85rem;margin:.5rem 0}
td,th{border:1px solid #d5dbe1;padding:.25rem .5rem;text-align:right}
th{background:#f1f4f7}td.l,th.l{text-align:left}.muted{color:#5c6b7a}
.grid{display:grid;grid-template-columns:1fr 1fr;gap:1rem}
"""


def _e(value: Any) -> str:
    return html.escape(str(value))


def _cell(value: Any, digits: int) -> str:
    if isinstance(value, bool | np.bool_):
        return str(value)
    if isinstance(value, int | np.integer):
        return str(int(value))
    if isinstance(value, float | np.floating):
        return f"{value:.{digits}f}"
    return str(value)


def _table(frame: pd.DataFrame, left: tuple[str, ...] = (), digits: int = 4) -> str:
    head = "".join(f'<th class="{"l" if c in left else ""}">{_e(c)}</th>' for c in frame.columns)
    rows = []
    for record in frame.itertuples(index=False, name=None):  # keeps each column's type
        cells = [
            f'<td class="{"l" if column in left else ""}">{_e(_cell(value, digits))}</td>'
            for column, value in zip(frame.columns, record, strict=True)
        ]
        rows.append("<tr>" + "".join(cells) + "</tr>")
    return f"<table><tr>{head}</tr>{''.join(rows)}</table>"


def _figure_html(figure: Any) -> str:
    return figure.to_html(full_html=False, include_plotlyjs=False, config={"displaylogo": False})


def _gains_figure(gains: pd.DataFrame) -> str:
    import plotly.graph_objects as go

    figure = go.Figure()
    x = np.r_[0.0, gains["cum_population"].to_numpy()]
    y = np.r_[0.0, gains["cum_bad_capture"].to_numpy()]
    figure.add_trace(go.Scatter(x=x, y=y, mode="lines+markers", name="model"))
    figure.add_trace(go.Scatter(x=[0, 1], y=[0, 1], mode="lines", name="random",
                                line={"dash": "dash", "color": "#999"}))  # fmt: skip
    figure.update_layout(title="Gains: share of bads caught / 累计坏客户捕获率",
                         xaxis_title="share of accounts, riskiest first", yaxis_title="share of bads",
                         height=380, margin={"t": 50, "l": 50, "r": 20, "b": 50})  # fmt: skip
    return _figure_html(figure)


def _lift_figure(gains: pd.DataFrame) -> str:
    import plotly.graph_objects as go

    figure = go.Figure(go.Bar(x=gains["decile"], y=gains["lift"], name="lift"))
    figure.update_layout(title="Lift by decile / 分十等分提升度", xaxis_title="decile (1 = riskiest)",
                         yaxis_title="bad rate / overall bad rate", height=380,
                         margin={"t": 50, "l": 50, "r": 20, "b": 50})  # fmt: skip
    return _figure_html(figure)


def _calibration_figure(calibration: pd.DataFrame) -> str:
    import plotly.graph_objects as go

    top = float(max(calibration["predicted"].max(), calibration["observed"].max()))
    figure = go.Figure()
    figure.add_trace(go.Scatter(x=calibration["predicted"], y=calibration["observed"],
                                mode="lines+markers", name="observed"))  # fmt: skip
    figure.add_trace(go.Scatter(x=[0, top], y=[0, top], mode="lines", name="perfect",
                                line={"dash": "dash", "color": "#999"}))  # fmt: skip
    figure.update_layout(title="Calibration / 校准", xaxis_title="mean predicted probability",
                         yaxis_title="observed bad rate", height=380,
                         margin={"t": 50, "l": 50, "r": 20, "b": 50})  # fmt: skip
    return _figure_html(figure)


def _features_section(model: ScoringModel) -> str:
    schema = model.schema
    rows = pd.DataFrame([
        {"column": c.name, "kind": c.kind,
         "sentinel codes": ", ".join(f"{v:g}" for v in c.specials) or "",
         "codes from": c.special_source,
         "levels": len(c.levels) if c.kind == "categorical" else ""}
        for c in schema.columns
    ])  # fmt: skip
    parts = [_table(rows, left=("column", "kind", "sentinel codes", "codes from"))]
    if schema.dropped:
        dropped = pd.DataFrame([{"column": d.name, "reason": d.reason} for d in schema.dropped])
        parts.append(
            "<h3>Dropped columns / 未使用的列</h3>" + _table(dropped, left=("column", "reason"))
        )
    if model.engineered and schema.engineered:
        eng = pd.DataFrame([{"feature": e.name, "en": e.en, "zh": e.zh} for e in schema.engineered])
        parts.append(
            "<h3>Engineered features / 衍生特征</h3>" + _table(eng, left=("feature", "en", "zh"))
        )
    return "".join(parts)


def _scorecard_section(model: ScoringModel) -> str:
    if model.scorecard is None:
        return "<p class='muted'>This model has no scorecard part (kind gbm).</p>"
    table = model.scorecard.table()
    params = model.scaling
    intro = (
        f"<p>Points: {params.base_points:g} points at good:bad odds {params.base_odds:g}:1, "
        f"{params.pdo:g} points to double the odds (PDO). An account's score is the sum of the "
        "points of its bins; higher is safer. / 评分 = 各分箱分数之和，越高越安全。</p>"
    )
    return intro + _table(table, left=("variable", "description", "bin"), digits=3)


def _cv_section(card: dict[str, Any]) -> str:
    cv = card["metrics"]["cv"]
    rows = [{"model": k, "cv_auc": v["auc"], "folds": ", ".join(f"{a:.4f}" for a in v["fold_aucs"])}
            for k, v in cv.items() if isinstance(v, dict) and "fold_aucs" in v]  # fmt: skip
    decisions = "".join(f"<li>{_e(d)}</li>" for d in card["decisions"])
    notes = "".join(f"<li>{_e(n)}</li>" for n in card.get("notes", []))
    return (
        (_table(pd.DataFrame(rows), left=("model", "folds")) if rows else "")
        + f"<ul>{decisions}</ul>"
        + (f"<h3>Notes</h3><ul>{notes}</ul>" if notes else "")
    )


def build_report(model: ScoringModel, y: np.ndarray, probability: np.ndarray, source: str) -> str:
    from plotly.offline import get_plotlyjs

    card = model.card
    result = evaluation.summary(y, probability)
    gains = evaluation.gains_table(y, probability)
    calibration = evaluation.calibration_table(y, probability)
    metrics = pd.DataFrame([result.to_dict() | {"brier": evaluation.brier(y, probability)}])
    data = card["data"]
    head = (
        f"<h1>Model report / 模型报告: {_e(card['kind'])} v{card['version']}</h1>"
        f"<p class='muted'>created {_e(card['created_at'])} · data {_e(data['file'])} "
        f"(sha256 {_e(data['sha256'][:16])}…, {data['rows_used']} rows, bad rate "
        f"{data['bad_rate']:.4f}) · target {_e(card['target']['column'])} = "
        f"{_e(', '.join(card['target']['positive']))} · seed {card['seed']}</p>"
    )
    body = [
        head,
        f"<h2>Performance / 模型表现</h2><p>On {_e(source)}.</p>",
        _table(metrics),
        "<div class='grid'>", _gains_figure(gains), _lift_figure(gains), "</div>",
        "<h3>Gains and lift by decile / 分十等分</h3>",
        _table(gains),
        "<h2>Calibration / 校准</h2>",
        _calibration_figure(calibration),
        _table(calibration),
        "<h2>How the model was chosen / 模型选择</h2>",
        _cv_section(card),
        "<h2>Scorecard / 评分卡</h2>",
        _scorecard_section(model),
        "<h2>Features / 特征</h2>",
        _features_section(model),
    ]  # fmt: skip
    return (
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
        f"<title>Model report v{card['version']}</title><style>{STYLE}</style>"
        f"<script>{get_plotlyjs()}</script></head><body>{''.join(body)}</body></html>"
    )


def write_report(
    model: ScoringModel, folder: Path, y: np.ndarray, probability: np.ndarray, source: str,
    target: Path,
) -> Path:  # fmt: skip
    assert folder.is_dir()
    text = build_report(model, y, probability, source)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(target.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(target)
    return target
