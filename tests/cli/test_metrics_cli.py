"""``overdue metrics roll-rate | flow-rate | vintage`` through the real CLI app."""

from __future__ import annotations

import io
import itertools
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from overdue.cli import app

runner = CliRunner()
REPO = Path(__file__).resolve().parents[2]
DATA = REPO.parent / "shared" / "data"
CREDIT_RECORD = DATA / "credit_record.zip"
COLUMNS = ["--id", "acct", "--period", "month", "--state", "status"]
CREDIT_COLUMNS = ["--id", "ID", "--period", "MONTHS_BALANCE", "--state", "STATUS"]

# Months: a 2023-12 -> 2024-01 -> 2024-02; b has a gap (2024-01 missing); c 1 -> 0.
PANEL_CSV = """acct,month,status,balance_fen
a,2023-12,0,1000
a,2024-01,1,1500
a,2024-02,1,1600
b,2023-12,0,3000
b,2024-02,2,2000
c,2024-01,1,500
c,2024-02,0,0
"""


def write_panel(tmp_path: Path, name: str = "panel.csv", body: str = PANEL_CSV) -> Path:
    path = tmp_path / name
    path.write_text(body)
    return path


def invoke(*args: str | Path) -> tuple[int, str, str]:
    result = runner.invoke(app, [str(a) for a in args])
    return result.exit_code, result.stdout, result.stderr


def test_roll_rate_json_contract(tmp_path: Path) -> None:
    code, out, _ = invoke("metrics", "roll-rate", write_panel(tmp_path), *COLUMNS, "--json")
    assert code == 0
    data = json.loads(out)
    assert list(data) == ["states", "counts", "rates"]
    # pairs: a 0->1 (w 1000), a 1->1 (w 1500), c 1->0 (w 500); b's gap breaks its pair.
    assert data == {
        "states": ["0", "1", "2"],
        "counts": [[0, 1, 0], [1, 1, 0], [0, 0, 0]],
        "rates": [[0.0, 1.0, 0.0], [0.5, 0.5, 0.0], [None, None, None]],
    }
    assert all(isinstance(c, int) for row in data["counts"] for c in row)


def test_roll_rate_weighted_and_ordered_states(tmp_path: Path) -> None:
    path = write_panel(tmp_path)
    args = ["--weight", "balance_fen", "--states", "1,0", "--json"]
    code, out, _ = invoke("metrics", "roll-rate", path, *COLUMNS, *args)
    assert code == 0
    assert json.loads(out) == {
        "states": ["1", "0"],
        "counts": [[1, 1], [1, 0]],
        "rates": [[1500 / 2000, 500 / 2000], [1.0, 0.0]],
    }


def test_parquet_and_zipped_inputs_give_the_same_matrix(tmp_path: Path) -> None:
    csv_path = write_panel(tmp_path)
    table = pacsv.read_csv(csv_path, convert_options=pacsv.ConvertOptions(
        column_types={"status": pa.string(), "month": pa.string()}))  # fmt: skip
    parquet_path = tmp_path / "panel.parquet"
    pq.write_table(table, parquet_path)
    zipped_csv = tmp_path / "csv.zip"
    with zipfile.ZipFile(zipped_csv, "w") as archive:
        archive.write(csv_path, "inside/panel.csv")
    zipped_parquet = tmp_path / "parquet.zip"
    buffer = io.BytesIO()
    pq.write_table(table, buffer)
    with zipfile.ZipFile(zipped_parquet, "w") as archive:
        archive.writestr("panel.parquet", buffer.getvalue())
    outputs = set()
    for path in (csv_path, parquet_path, zipped_csv, zipped_parquet):
        code, out, err = invoke("metrics", "roll-rate", path, *COLUMNS, "--json")
        assert code == 0, err
        outputs.add(out)
    assert len(outputs) == 1


def test_roll_rate_table_output(tmp_path: Path) -> None:
    code, out, _ = invoke("metrics", "roll-rate", write_panel(tmp_path), *COLUMNS)
    assert code == 0
    assert "Roll-rate counts" in out and "Roll rates in %" in out
    assert "50.00" in out and "3 pairs" in out


def test_flow_rate_command(tmp_path: Path) -> None:
    args = ["--ladder", "0,1,2", "--weight", "balance_fen", "--json"]
    code, out, _ = invoke("metrics", "flow-rate", write_panel(tmp_path), *COLUMNS, *args)
    assert code == 0
    data = json.loads(out)
    # 0->1: (1 at 2024-01: a 1500 + c 500) + (1 at 2024-02: a 1600) / (0 at 2023-12: 4000 + 0)
    # 1->2: (2 at 2024-01: 0) + (2 at 2024-02: b 2000) / (1 at 2023-12: 0 + 1 at 2024-01: 2000)
    assert [s["rate"] for s in data["flow_rates"]] == [3600 / 4000, 2000 / 2000]
    assert data["net_flow_to_loss"] == pytest.approx(0.9)
    assert data["cure_rates"] == {"1": 500 / 2000, "2": None}


def test_vintage_command(tmp_path: Path) -> None:
    args = ["--dpd-map", "0=0,1=30,2=60", "--thresholds", "30,60", "--json", "--by-cohort"]
    code, out, _ = invoke("metrics", "vintage", write_panel(tmp_path), *COLUMNS, *args)
    assert code == 0
    data = json.loads(out)
    by_mob = {row["mob"]: row for row in data["by_mob"]}
    # cohorts: a, b 2023-12; c 2024-01. Last month 2024-02.
    assert [by_mob[k]["accounts"] for k in (0, 1, 2)] == [3, 3, 2]
    assert [by_mob[k]["ever_30_count"] for k in (0, 1, 2)] == [1, 2, 2]  # c stays ever 30+
    assert [by_mob[k]["current_30_count"] for k in (0, 1, 2)] == [1, 1, 2]
    assert [by_mob[k]["ever_60_count"] for k in (0, 1, 2)] == [0, 0, 1]
    assert {row["cohort"] for row in data["by_cohort"]} == {"2023-12", "2024-01"}
    code, out, _ = invoke("metrics", "vintage", write_panel(tmp_path), *COLUMNS, *args[:4])
    assert code == 0 and "Vintage" in out


BAD_CASES = [
    ("acct,month,stat\na,2024-01,0\n", [], "column 'status' not found"),
    (PANEL_CSV + "a,2024-01,2,5\n", [], "duplicate rows for (acct=a, month=2024-01) at lines 3"),
    (PANEL_CSV.replace("1600", "lots"), ["--weight", "balance_fen"], "must be numeric"),
    (PANEL_CSV.replace("1600", "-1"), ["--weight", "balance_fen"], "line 4: column"),
    ("", [], "the file is empty"),
    ("acct,month,status\n", [], "no data rows"),
]


@pytest.mark.parametrize(("body", "extra", "message"), BAD_CASES)
def test_bad_input_is_one_line_and_exit_2(
    tmp_path: Path, body: str, extra: list[str], message: str
) -> None:
    path = write_panel(tmp_path, body=body)
    code, out, err = invoke("metrics", "roll-rate", path, *COLUMNS, *extra, "--json")
    assert code == 2
    assert out == ""
    assert err.startswith("error: ") and err.count("\n") == 1
    assert message in err and str(path) in err


def test_bad_options_exit_2(tmp_path: Path) -> None:
    path = write_panel(tmp_path)
    assert invoke("metrics", "roll-rate", tmp_path / "nope.csv", *COLUMNS)[0] == 2
    assert invoke("metrics", "roll-rate", path, *COLUMNS, "--states", "0,0")[0] == 2
    assert invoke("metrics", "flow-rate", path, *COLUMNS, "--ladder", "0")[0] == 2
    code, _, err = invoke("metrics", "vintage", path, *COLUMNS, "--dpd-map", "0=1")
    assert code == 2 and "state '1' in column 'status' is not in --dpd-map" in err


def test_entry_point_prints_one_line(tmp_path: Path) -> None:
    path = write_panel(tmp_path, body="acct,month\n")
    overdue = Path(sys.executable).with_name("overdue")
    done = subprocess.run(
        [str(overdue), "metrics", "roll-rate", str(path), *COLUMNS],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and "column 'status' not found" in done.stderr


# ---------------------------------------------------------------------------------------------
# The real credit_record panel (Kaggle "Credit Card Approval Prediction", CC0)


def need_credit_record() -> Path:
    if not CREDIT_RECORD.is_file():
        if os.environ.get("CI") == "true":
            pytest.fail(f"{CREDIT_RECORD} is missing (CI=true: the real data must be there)")
        pytest.skip(f"real data not found at {CREDIT_RECORD}")
    return CREDIT_RECORD


def consecutive_pairs(path: Path) -> tuple[int, int]:
    """(rows, pairs with the same ID and MONTHS_BALANCE one more), counted with numpy."""
    with zipfile.ZipFile(path) as archive:
        table = pacsv.read_csv(io.BytesIO(archive.read("credit_record.csv")))
    ids = table["ID"].to_numpy()
    months = table["MONTHS_BALANCE"].to_numpy()
    order = np.lexsort((months, ids))
    ids, months = ids[order], months[order]
    same = (ids[1:] == ids[:-1]) & (months[1:] - months[:-1] == 1)
    return len(ids), int(same.sum())


def test_real_credit_record_roll_rate() -> None:
    path = need_credit_record()
    states = ["C", "X", "0", "1", "2", "3", "4", "5"]
    code, out, err = invoke(
        "metrics", "roll-rate", path, *CREDIT_COLUMNS, "--states", ",".join(states), "--json"
    )
    assert code == 0, err
    data = json.loads(out)
    assert data["states"] == states
    assert len(data["counts"]) == 8 and all(len(row) == 8 for row in data["counts"])
    rows, pairs = consecutive_pairs(path)
    assert rows == 1_048_575
    assert sum(map(sum, data["counts"])) == pairs
    for row in data["rates"]:
        assert sum(row) == pytest.approx(1.0)


def test_real_credit_record_vintage() -> None:
    path = need_credit_record()
    dpd_map = "0=1,1=30,2=60,3=90,4=120,5=150,C=0,X=0"
    code, out, err = invoke(
        "metrics", "vintage", path, *CREDIT_COLUMNS, "--dpd-map", dpd_map, "--json"
    )
    assert code == 0, err
    by_mob = json.loads(out)["by_mob"]
    assert [row["mob"] for row in by_mob] == list(range(61))  # MONTHS_BALANCE -60 .. 0
    assert by_mob[0]["accounts"] == by_mob[0]["observed"] == 45_985  # every ID, README count
    for earlier, later in itertools.pairwise(by_mob):
        assert later["accounts"] <= earlier["accounts"]
        assert row_ok(later)


def row_ok(row: dict[str, float]) -> bool:
    return (
        row["ever_90"] <= row["ever_60"] <= row["ever_30"] and row["current_30"] <= row["ever_30"]
    )
