"""The monitoring report: offline, one Plotly bundle, and numbers equal to an independent count.

The expected figures are recomputed here in plain Python from the hand-made snapshot rows
(``test_monitoring_support.hand_rows``), not through the measure functions.
"""

from __future__ import annotations

import itertools
import json
import re
import tomllib
from collections import Counter, defaultdict
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from plotly.offline import get_plotlyjs
from test_monitoring_support import hand_history, hand_rows
from test_monitoring_vintage import write_history
from typer.testing import CliRunner

from overdue.cli import app
from overdue.domain.buckets import CN_BUCKETS
from overdue.portfolio.alerts import evaluate, parse_config
from overdue.portfolio.monitoring import monitor
from overdue.reports.monitoring_report import write_report

runner = CliRunner()
ALERTS_TOML = """
[[rule]]
name = "roll M0 -> M1 / M0→M1 迁徙率"
measure = "roll_rate"
from = "M0"
to = "M1"
basis = "balance"
op = ">"
threshold = 0.4
severity = "critical"
"""


def data_cells(page: str) -> dict[str, str]:
    found = re.findall(r'data-key="([^"]+)" data-value="([^"]*)"', page)
    cells = dict(found)
    assert len(cells) == len(found), "every data-key appears once"
    return cells


def ratio(a: int, b: int) -> float | None:
    return None if b == 0 else a / b


def balance(row: dict[str, Any]) -> int:
    return sum(i["unpaid_principal_fen"] for i in row["items"])


def expected_figures(rows: dict[date, list[dict[str, Any]]]) -> dict[str, float | int | None]:
    """The page's figures, counted directly from the snapshot rows."""
    dates = sorted(rows)
    out: dict[str, float | int | None] = {}
    last = rows[dates[-1]]
    active = [r for r in last if r["status"] != "settled"]
    late = [r for r in active if r["status"] in ("overdue", "charged_off")]
    out["kpi.accounts"] = len(last)
    out["kpi.delinquent_rate_count"] = len(late) / len(active)
    out["kpi.delinquent_rate_balance"] = sum(map(balance, late)) / sum(map(balance, last))
    out["kpi.total_overdue_fen"] = sum(r["total_overdue_fen"] for r in last)
    out["kpi.charged_off"] = sum(r["status"] == "charged_off" for r in last)
    for day in dates:
        at = day.isoformat()
        counts = Counter(r["bucket_cn"] for r in rows[day])
        sums: dict[str, int] = defaultdict(int)
        for r in rows[day]:
            sums[r["bucket_cn"]] += balance(r)
        for b in CN_BUCKETS:
            out[f"dist.cn.count.{at}.{b}"] = counts[b]
            out[f"dist.cn.balance.{at}.{b}"] = sums[b]
    pair_count: Counter[tuple[str, str]] = Counter()
    pair_weight: Counter[tuple[str, str]] = Counter()
    for before, after in itertools.pairwise(dates):
        now = {r["account_id"]: r["bucket_cn"] for r in rows[after]}
        for r in rows[before]:
            if r["account_id"] in now:
                pair_count[(r["bucket_cn"], now[r["account_id"]])] += 1
                pair_weight[(r["bucket_cn"], now[r["account_id"]])] += balance(r)
    for s in CN_BUCKETS:
        row_count = sum(pair_count[(s, t)] for t in CN_BUCKETS)
        row_weight = sum(pair_weight[(s, t)] for t in CN_BUCKETS)
        for t in CN_BUCKETS:
            out[f"roll.pairs.{s}.{t}"] = pair_count[(s, t)]
            out[f"roll.count.{s}.{t}"] = ratio(pair_count[(s, t)], row_count)
            out[f"roll.balance.{s}.{t}"] = ratio(pair_weight[(s, t)], row_weight)
    for low, high in itertools.pairwise(CN_BUCKETS):
        num = sum(Counter(r["bucket_cn"] for r in rows[t])[high] for t in dates[1:])
        den = sum(Counter(r["bucket_cn"] for r in rows[t])[low] for t in dates[:-1])
        out[f"flow.count.{low}"] = ratio(num, den)
    for before, after in itertools.pairwise(dates):
        new = [
            r for r in rows[after] if r["charged_off_on"] and before < r["charged_off_on"] <= after
        ]
        out[f"day.{after}.new_charge_offs"] = len(new)
        out[f"day.{after}.new_charge_off_fen"] = sum(map(balance, new))
        judged = entered = 0
        for r in last:
            for i in r["items"]:
                owes = i["principal_fen"] + i["interest_fen"] + i["fee_fen"]
                if not (before < i["due_date"] <= after) or owes == 0:
                    continue
                if i["due_date"] + timedelta(days=1) > dates[-1]:  # grace 0: pending
                    continue
                unpaid = sum(
                    i[f"unpaid_{c}_fen"] for c in ("principal", "interest", "fee", "penalty")
                )
                is_open = unpaid > 0 and not i["closed_by_minimum"]
                judged += 1
                entered += i["penalty_days"] > 0 or is_open
        out[f"entry.{after}.count"] = ratio(entered, judged)
    return out


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, dict[str, Any], Path]:
    folder = tmp_path_factory.mktemp("report")
    hand_history(folder / "snapshots")
    m = monitor(folder / "snapshots")
    alerts = evaluate(parse_config(tomllib.loads(ALERTS_TOML), "a.toml"), m)
    html_path, json_path = write_report(
        m, alerts, folder / "out" / "report.html", alerts_source="a.toml"
    )
    return html_path.read_text(encoding="utf-8"), json.loads(json_path.read_text()), folder


def test_the_page_is_offline_with_one_plotly_bundle(report: tuple[str, dict, Path]) -> None:
    page, _, _ = report
    remote = re.findall(
        r"<(?:script|link|img|iframe)\b[^>]*\b(?:src|href)\s*=\s*[\"']?(?:https?:)?//", page
    )
    assert remote == []
    assert page.count(get_plotlyjs()) == 1
    assert page.count("<script") == page.count("</script>") == 1 + page.count('class="chart"')
    assert page.count('class="chart"') >= 6


def test_the_numbers_equal_an_independent_count(report: tuple[str, dict, Path]) -> None:
    page, _, _ = report
    cells = data_cells(page)
    expected = expected_figures(hand_rows())
    for key, value in expected.items():
        shown = cells[key]
        if value is None:
            assert shown == "", key
        elif isinstance(value, int) and not isinstance(value, bool):
            assert int(shown) == value, key
        else:
            assert float(shown) == pytest.approx(value), key
    assert float(cells["alert.0.value"]) == pytest.approx(2000 / 3500)
    assert "alert.1.value" not in cells  # 0.4 at 02-28 is not above 0.4


def test_headings_are_bilingual_and_the_summary_matches(report: tuple[str, dict, Path]) -> None:
    page, summary, _ = report
    for heading in re.findall(r"<h[12]>(.*?)</h[12]>", page):
        assert " / " in heading and re.search(r"[\u4e00-\u9fff]", heading), heading
    assert summary["kpi"]["accounts"] == 6
    assert summary["kpi"]["delinquent_rate_count"] == pytest.approx(4 / 5)
    assert summary["alerts"][0]["at"] == "2025-03-31"
    assert summary["distribution"]["cn"]["accounts"][0] == [2, 1, 0, 0, 1, 1, 0, 0]


def test_the_same_snapshots_give_the_same_bytes(
    report: tuple[str, dict, Path], tmp_path: Path
) -> None:
    page, _, folder = report
    m = monitor(folder / "snapshots")
    alerts = evaluate(parse_config(tomllib.loads(ALERTS_TOML), "a.toml"), m)
    again, _ = write_report(m, alerts, tmp_path / "again.html", alerts_source="a.toml")
    assert again.read_text(encoding="utf-8") == page


# -- the commands --------------------------------------------------------------------------------


def invoke(*args: str | Path) -> tuple[int, str, str]:
    result = runner.invoke(app, [str(a) for a in args])
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture(scope="module")
def history(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("cli")
    write_history(folder / "snapshots", folder / "book")
    (folder / "alerts.toml").write_text(ALERTS_TOML)
    return folder


def test_monitor_report_command(history: Path) -> None:
    out = history / "r" / "report.html"
    code, stdout, stderr = invoke(
        "monitor", "report", history / "snapshots", "--out", out, "--book", history / "book",
        "--alerts", history / "alerts.toml", "--period", "month",
    )  # fmt: skip
    assert code == 0, stderr
    assert "wrote" in stdout and out.is_file() and out.with_suffix(".json").is_file()
    page = out.read_text(encoding="utf-8")
    assert "First-payment default" in page and 'data-key="fpd.2025-01.count"' in page


def test_metrics_report_is_the_same_command(history: Path) -> None:
    out = history / "m" / "report.html"
    code, stdout, stderr = invoke(
        "metrics", "report", history / "snapshots", "--out", out, "--json"
    )
    assert code == 0, stderr
    summary = json.loads(stdout)
    assert summary["period"] == "day" and summary["vintage"] is None and out.is_file()


def test_vintage_alerts_and_measures_commands(history: Path) -> None:
    code, stdout, stderr = invoke(
        "monitor", "vintage", history / "snapshots", "--book", history / "book", "--json"
    )
    assert code == 0, stderr
    data = json.loads(stdout)
    assert data["months"] == ["2025-01", "2025-02", "2025-03", "2025-04"]
    assert {c["cohort"]: c["fpd"] for c in data["fpd"]}["2025-01"] == 2
    code, stdout, stderr = invoke(
        "monitor", "alerts", history / "snapshots", "--config", history / "alerts.toml",
        "--period", "month", "--json",
    )  # fmt: skip
    assert code == 0, stderr
    assert isinstance(json.loads(stdout), list)
    code, stdout, _ = invoke("monitor", "measures", history / "snapshots", "--period", "month")
    assert code == 0 and "2025-04-30" in stdout


def test_bad_input_is_one_error_line_and_exit_2(history: Path, tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text(
        '[[rule]]\nmeasure = "roll_rate"\nfrom = "M1"\nto = "M2"\nop = "~"\nthreshold = 1\n'
    )
    out = tmp_path / "report.html"
    code, _, stderr = invoke(
        "monitor", "report", history / "snapshots", "--out", out, "--alerts", bad
    )
    assert code == 2 and not out.exists()
    assert stderr.startswith("error: ") and f"{bad}: rule[1].op = '~'" in stderr
    assert stderr.count("\n") == 1
    code, _, stderr = invoke("monitor", "report", tmp_path / "none", "--out", out)
    assert code == 2 and "no such snapshot folder" in stderr
    code, _, stderr = invoke(
        "monitor", "report", history / "snapshots", "--out", tmp_path / "r.txt"
    )
    assert code == 2 and "is an .html file" in stderr
    code, _, stderr = invoke("monitor", "measures", history / "snapshots", "--from", "2025-13-01")
    assert code == 2 and "--from: '2025-13-01' is not a date" in stderr


@pytest.mark.parametrize("command", ["report", "vintage", "alerts", "measures"])
def test_every_command_has_an_example(command: str) -> None:
    code, stdout, _ = invoke("monitor", command, "--help")
    assert code == 0 and "Example: overdue monitor" in stdout
