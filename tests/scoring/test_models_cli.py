"""``overdue models …`` end to end on small files, and one-line errors (exit 2) on bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from synth import credit_table
from typer.testing import CliRunner

from overdue.cli import app

runner = CliRunner()


def _invoke(*args: str):
    return runner.invoke(app, ["models", *args])


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("cli")
    paths = {"train": root / "train.csv", "test": root / "test.parquet", "model": root / "model"}
    credit_table(2500, seed=1).to_csv(paths["train"], index=False)
    credit_table(1500, seed=2).to_parquet(paths["test"], index=False)
    result = _invoke("train", str(paths["train"]), "--target", "status", "--positive", "default",
                     "--id", "account", "--out", str(paths["model"]), "--effort", "quick",
                     "--special", "hist1=-1", "--json")  # fmt: skip
    assert result.exit_code == 0, result.output
    paths["summary"] = root / "summary.json"
    paths["summary"].write_text(result.stdout)
    return paths


def test_train_says_what_it_chose(files: dict[str, Path]) -> None:
    summary = json.loads(files["summary"].read_text())
    assert summary["kind"] in ("gbm", "scorecard") and summary["version"] == 1
    assert any("auto chose" in d for d in summary["decisions"])
    card = json.loads((files["model"] / "v1" / "model.json").read_text())
    hist1 = next(c for c in card["features"]["schema"]["columns"] if c["name"] == "hist1")
    assert hist1["special_source"] == "declared" and hist1["specials"] == [-1.0]


def test_evaluate_json(files: dict[str, Path]) -> None:
    result = _invoke("evaluate", str(files["model"]), "--data", str(files["test"]), "--json")
    assert result.exit_code == 0, result.output
    metrics = json.loads(result.stdout)
    assert set(metrics) == {"auc", "ks", "gini", "n", "base_rate"}
    assert metrics["n"] == 1500 and metrics["gini"] == pytest.approx(2 * metrics["auc"] - 1)
    assert metrics["auc"] > 0.7


def test_score_writes_every_row_with_reasons(files: dict[str, Path], tmp_path: Path) -> None:
    out = tmp_path / "scores.csv"
    result = _invoke("score", str(files["model"]), "--data", str(files["test"]), "--out", str(out))
    assert result.exit_code == 0, result.output
    scored = pd.read_csv(out)
    assert len(scored) == 1500
    assert {"account", "probability", "score", "reason_1", "reason_1_en", "reason_1_zh"} <= set(
        scored.columns
    )


def test_drift_and_report(files: dict[str, Path], tmp_path: Path) -> None:
    result = _invoke("drift", str(files["model"]), "--data", str(files["test"]), "--json")
    assert result.exit_code == 0, result.output
    drift = json.loads(result.stdout)
    assert drift["status"] == "stable" and drift["psi"] < 0.1
    result = _invoke("drift", str(files["model"]), "--data", str(files["test"]), "--reference",
                     str(files["test"]), "--json")  # fmt: skip
    assert result.exit_code == 0, result.output
    same = json.loads(result.stdout)
    assert same["psi"] == 0.0 and same["n_reference"] == same["n_current"] == 1500
    report = tmp_path / "r.html"
    result = _invoke(
        "report", str(files["model"]), "--data", str(files["test"]), "--out", str(report)
    )
    assert result.exit_code == 0, result.output
    text = report.read_text(encoding="utf-8")
    assert "Gains" in text and "Calibration" in text and "评分卡" in text
    assert "<script src=" not in text  # Plotly inlined: works offline
    result = _invoke("report", str(files["model"]))  # CV predictions, default path
    assert result.exit_code == 0, result.output
    assert (files["model"] / "v1" / "report.html").is_file()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--target", "nope"], "target column 'nope' not found"),
        (["--target", "region"], "4 distinct values"),
        (["--target", "status"], "say which one is bad with --positive"),
        (["--target", "status", "--positive", "default", "--special", "zzz=1"],
         "unknown column 'zzz'"),
        (["--target", "status", "--positive", "default", "--kind", "forest"], "--kind 'forest'"),
    ],
)  # fmt: skip
def test_bad_training_input_is_one_line_and_exit_2(
    files: dict[str, Path], tmp_path: Path, args: list[str], message: str
) -> None:
    result = _invoke("train", str(files["train"]), "--out", str(tmp_path / "m"), *args)
    assert result.exit_code == 2
    assert message in result.output
    assert not (tmp_path / "m").exists()


def test_empty_file_and_missing_columns(files: dict[str, Path], tmp_path: Path) -> None:
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    result = _invoke("train", str(empty), "--target", "t", "--out", str(tmp_path / "m"))
    assert result.exit_code == 2 and "empty" in result.output
    header_only = tmp_path / "header.csv"
    header_only.write_text("a,b,t\n")
    result = _invoke("train", str(header_only), "--target", "t", "--out", str(tmp_path / "m"))
    assert result.exit_code == 2 and "no rows" in result.output
    partial = tmp_path / "partial.csv"
    credit_table(50, seed=4).drop(columns=["balance"]).to_csv(partial, index=False)
    result = _invoke("score", str(files["model"]), "--data", str(partial), "--out",
                     str(tmp_path / "s.csv"))  # fmt: skip
    assert result.exit_code == 2 and "'balance'" in result.output
    result = _invoke("evaluate", str(tmp_path / "nowhere"), "--data", str(partial))
    assert result.exit_code == 2 and "no such model folder" in result.output


def test_help_has_examples() -> None:
    for command in ("train", "evaluate", "score", "drift", "report"):
        result = _invoke(command, "--help")
        assert result.exit_code == 0 and "Example: overdue models" in result.output


def test_the_real_entry_point_exits_2_with_one_line(tmp_path: Path) -> None:
    import subprocess
    import sys

    empty = tmp_path / "empty.csv"
    empty.write_text("")
    result = subprocess.run(
        [sys.executable, "-m", "overdue", "models", "train", str(empty), "--target", "t",
         "--out", str(tmp_path / "m")],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0 and "the file is empty" in result.stderr
