"""``overdue twin generate`` / ``calibrate`` through the real CLI app."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from overdue.cli import BadInput, app

runner = CliRunner()


def invoke(args: list[str]) -> tuple[int, str]:
    try:
        result = runner.invoke(app, args, catch_exceptions=False)
    except BadInput as exc:
        return 2, f"error: {exc}"
    return result.exit_code, result.output


@pytest.mark.parametrize("command", ["generate", "calibrate"])
def test_help_has_an_example(command: str) -> None:
    code, output = invoke(["twin", command, "--help"])
    assert code == 0
    assert "Example: overdue twin " + command in " ".join(output.split())


def test_generate_writes_a_book(tmp_path: Path) -> None:
    out = tmp_path / "book"
    args = [
        "twin",
        "generate",
        "--accounts",
        "300",
        "--months",
        "4",
        "--seed",
        "3",
        "--out",
        str(out),
    ]
    code, output = invoke(args)
    assert code == 0, output
    manifest = json.loads((out / "manifest.json").read_text())
    expected = {"seed": 3, "accounts": 300, "months": 4, "scenario": "baseline"}
    assert {key: manifest["generator"][key] for key in expected} == expected
    assert manifest["last_date"] == "2024-04-30"
    assert "payments" in output
    code, output = invoke(args)
    assert code == 2 and "replace" in output
    code, output = invoke([*args, "--replace", "--scenario", "downturn"])
    assert code == 0, output
    assert json.loads((out / "manifest.json").read_text())["generator"]["scenario"] == "downturn"


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--months", "1"], "--months"),
        (["--scenario", "boom"], "--scenario"),
        (["--start", "2024-01-15"], "--start"),
        (["--start", "1999-01-01"], "--start"),
        (["--start", "soon"], "--start"),
        (["--accounts", "0"], "--accounts"),
    ],
)
def test_bad_input_is_one_clear_line(tmp_path: Path, extra: list[str], message: str) -> None:
    code, output = invoke(["twin", "generate", "--out", str(tmp_path / "b"), *extra])
    assert code == 2
    assert output.startswith("error: " + message), output
    assert not (tmp_path / "b").exists()


def test_calibrate_needs_the_real_panel(tmp_path: Path) -> None:
    code, output = invoke(["twin", "calibrate", "--real", str(tmp_path / "missing.zip")])
    assert code == 2 and "--real" in output
