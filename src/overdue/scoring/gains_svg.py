"""A small self-contained SVG gains chart (cumulative share of bads found vs share reviewed)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from html import escape

WIDTH = 360
HEIGHT = 260
MARGIN = 40


def _xy(population: float, capture: float) -> tuple[float, float]:
    plot_w, plot_h = WIDTH - 2 * MARGIN, HEIGHT - 2 * MARGIN
    return MARGIN + population * plot_w, HEIGHT - MARGIN - capture * plot_h


def gains_svg(gains: Mapping[str, Sequence[float]], title: str) -> str:
    """``gains``: evaluation.gains_table(...).to_dict(orient="list")."""
    curve = zip(gains["cum_population"], gains["cum_bad_capture"], strict=True)
    points = [(0.0, 0.0), *curve]
    path = " ".join(f"{x:.1f},{y:.1f}" for x, y in (_xy(p, c) for p, c in points))
    x0, y0 = _xy(0, 0)
    x1, y1 = _xy(1, 1)
    ticks = []
    for k in range(0, 11, 2):
        tx, _ = _xy(k / 10, 0)
        _, ty = _xy(0, k / 10)
        ticks.append(f'<text x="{tx:.0f}" y="{HEIGHT - MARGIN + 14}" font-size="9" '
                     f'text-anchor="middle">{k * 10}%</text>')  # fmt: skip
        ticks.append(f'<text x="{MARGIN - 4}" y="{ty + 3:.0f}" font-size="9" '
                     f'text-anchor="end">{k * 10}%</text>')  # fmt: skip
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" '
        f'viewBox="0 0 {WIDTH} {HEIGHT}" font-family="sans-serif">'
        f"<title>{escape(title)}</title>"
        f'<text x="{WIDTH / 2}" y="16" font-size="12" text-anchor="middle">{escape(title)}</text>'
        f'<rect x="{MARGIN}" y="{MARGIN}" width="{WIDTH - 2 * MARGIN}" '
        f'height="{HEIGHT - 2 * MARGIN}" fill="none" stroke="#999"/>'
        f'<line x1="{x0}" y1="{y0}" x2="{x1}" y2="{y1}" stroke="#bbb" stroke-dasharray="4"/>'
        f'<polyline points="{path}" fill="none" stroke="#c0392b" stroke-width="2"/>'
        + "".join(ticks)
        + f'<text x="{WIDTH / 2}" y="{HEIGHT - 6}" font-size="10" text-anchor="middle">'
        "accounts reviewed, riskiest first / 按风险从高到低审查的账户占比</text>"
        f'<text x="10" y="{HEIGHT / 2}" font-size="10" text-anchor="middle" '
        f'transform="rotate(-90 10 {HEIGHT / 2})">bads found / 找到的逾期账户</text>'
        "</svg>"
    )
