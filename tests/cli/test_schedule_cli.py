"""``overdue schedule`` and ``overdue installment`` through the real CLI app."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from overdue.cli import BadInput, app

runner = CliRunner()
HAND_EXAMPLE = [
    "schedule",
    "--principal",
    "10000.00",
    "--annual-rate",
    "0.18",
    "--term",
    "12",
    "--method",
    "equal_installment",
    "--start",
    "2024-01-31",
]


def test_json_schedule() -> None:
    result = runner.invoke(app, [*HAND_EXAMPLE, "--json"])
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)
    assert len(rows) == 12
    assert rows[0] == {
        "period": 1,
        "due_date": "2024-02-29",
        "principal": "766.80",
        "interest": "150.00",
        "payment": "916.80",
        "remaining": "9233.20",
    }
    assert rows[1]["due_date"] == "2024-03-31"
    assert rows[-1]["remaining"] == "0.00"
    assert sum(int(row["principal"].replace(".", "")) for row in rows) == 1_000_000


def test_table_schedule_has_totals() -> None:
    result = runner.invoke(app, HAND_EXAMPLE)
    assert result.exit_code == 0, result.output
    assert "916.80" in result.stdout
    assert "Total" in result.stdout and "10000.00" in result.stdout
    assert "利息" in result.stdout


@pytest.mark.parametrize("method", ["equal_principal", "interest_first", "hybrid_6_6"])
def test_every_method_runs(method: str) -> None:
    args = [*HAND_EXAMPLE[:-4], "--method", method, "--start", "2024-01-15", "--json"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)
    assert sum(int(row["principal"].replace(".", "")) for row in rows) == 1_000_000


@pytest.mark.parametrize(
    ("change", "option"),
    [
        (("--principal", "-5"), "--principal"),
        (("--principal", "100.001"), "--principal"),
        (("--principal", "0"), "--principal"),
        (("--annual-rate", "abc"), "--annual-rate"),
        (("--annual-rate", "-0.1"), "--annual-rate"),
        (("--start", "2024-02-30"), "--start"),
        (("--method", "balloon"), "--method"),
        (("--method", "hybrid_6_6"), "--term"),  # term stays 12 → replaced below
        (("--term", "0"), "--term"),
    ],
)
def test_bad_input_is_one_line(change: tuple[str, str], option: str) -> None:
    args = list(HAND_EXAMPLE)
    args[args.index(change[0]) + 1] = change[1]
    if change == ("--method", "hybrid_6_6"):
        args[args.index("--term") + 1] = "6"
    result = runner.invoke(app, args)
    assert isinstance(result.exception, BadInput), result.output
    message = str(result.exception)
    assert message.startswith(f"{option}:")
    assert "\n" not in message


def test_bad_input_exits_2_from_the_real_entry_point() -> None:
    overdue = Path(sys.executable).parent / "overdue"
    if not overdue.exists():
        pytest.skip(f"console script not installed at {overdue}")
    args = list(HAND_EXAMPLE)
    args[args.index("--method") + 1] = "balloon"
    done = subprocess.run([str(overdue), *args], capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert done.stderr.startswith("error: --method:")
    assert len(done.stderr.strip().splitlines()) == 1


def test_help_carries_an_example() -> None:
    for command in ("schedule", "installment"):
        result = runner.invoke(app, [command, "--help"])
        assert result.exit_code == 0
        assert "Example: overdue " + command in " ".join(result.stdout.split())


def test_installment_json() -> None:
    result = runner.invoke(app, ["installment", "--amount", "3000.00", "--parts", "6", "--json"])
    assert result.exit_code == 0, result.output
    plan = json.loads(result.stdout)
    assert plan["total_fee"] == "135.00"
    assert plan["parts"] == 6
    assert plan["schedule"][0] == {
        "part": 1,
        "principal": "500.00",
        "fee": "22.50",
        "payment": "522.50",
    }
    # Level parts: the list-price APR for 6 parts at 4.5 % (≈ 15.27 %, checked with numpy
    # in test_bill_installment.py).
    assert plan["nominal_apr"].startswith("0.15267")
    assert plan["effective_annual_rate"].startswith("0.16382")


def test_installment_table_shows_disclosure() -> None:
    result = runner.invoke(app, ["installment", "--amount", "1200.00", "--parts", "12"])
    assert result.exit_code == 0, result.output
    assert "年化利率" in result.stdout
    assert "15.86 %" in result.stdout
    assert "105.60" in result.stdout  # 8.8 % of 1200.00


@pytest.mark.parametrize(
    ("args", "option"),
    [
        (["--amount", "100.00", "--parts", "5"], "--parts"),
        (["--amount", "0", "--parts", "3"], "--amount"),
        (["--amount", "1.234", "--parts", "3"], "--amount"),
    ],
)
def test_installment_bad_input(args: list[str], option: str) -> None:
    result = runner.invoke(app, ["installment", *args])
    assert isinstance(result.exception, BadInput), result.output
    assert str(result.exception).startswith(f"{option}:")
