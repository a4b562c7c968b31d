"""One test per folder of ``bad_inputs/``: each holds a small book with one thing wrong.

Every folder has ``README.md`` (what is wrong, one line) and ``expected.json`` (written by hand from
the folder's content: which file, row and column are at fault, the reason code, and the counts).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from overdue.cli import app
from overdue.portfolio import book_layout
from overdue.portfolio.ingest import ingest, read_quarantine

CORPUS = Path(__file__).parent / "bad_inputs"
CASES = sorted(p.name for p in CORPUS.iterdir() if p.is_dir())


def _expected(case: str) -> dict[str, Any]:
    expected: dict[str, Any] = json.loads(
        (CORPUS / case / "expected.json").read_text(encoding="utf-8")
    )
    return expected


def test_corpus_is_complete() -> None:
    required = {
        "wrong_type_amount",
        "wrong_type_enum",
        "missing_column",
        "extra_column",
        "negative_amount",
        "unknown_account",
        "duplicate_payment_identical",
        "duplicate_payment_different",
        "duplicate_item_conflict",
        "impossible_date",
        "non_utf8",
        "empty_file",
        "entry_before_value",
    }
    assert required <= set(CASES)
    for case in CASES:
        readme = (CORPUS / case / "README.md").read_text(encoding="utf-8").strip()
        assert readme and "\n" not in readme, f"{case}: README.md must be one line"


@pytest.mark.parametrize("case", CASES)
def test_bad_input(case: str, tmp_path: Path) -> None:
    expected = _expected(case)
    data_dir = tmp_path / "book"
    report = ingest(CORPUS / case, data_dir)
    assert report.exit_code == expected["exit_code"]
    if expected["kind"] == "file":
        _assert_file_error(report.file_errors, expected, data_dir, tmp_path)
        return
    counts = expected["counts"]
    table_report = report.tables[counts["table"]]
    for name in ("rows_read", "accepted", "rejected", "duplicates"):
        assert getattr(table_report, name) == counts[name], name
    quarantined = read_quarantine(
        data_dir, counts["table"], duplicates=expected["kind"] == "duplicate"
    )
    hits = [
        r
        for r in quarantined
        if r["_file"] == expected["file"]
        and int(r["_row"]) == expected["row"]
        and expected["column"] in r["_column"].split("|")
        and expected["code"] in r["_reason"]
    ]
    assert len(hits) == 1, quarantined
    if expected["kind"] == "rejected":
        message = next(m for m in table_report.examples if f"row {expected['row']}," in m)
        for part in (
            expected["file"],
            f"row {expected['row']}",
            expected["column"],
            expected["code"],
        ):
            assert part in message, (part, message)
    if "kept" in expected:
        kept = book_layout.read_table(data_dir, counts["table"]).to_pylist()
        key = next(iter(expected["kept"]))
        row = next(r for r in kept if r[key] == expected["kept"][key])
        assert {k: row[k] for k in expected["kept"]} == expected["kept"]


def _assert_file_error(
    errors: list[str], expected: dict[str, Any], data_dir: Path, tmp: Path
) -> None:
    assert len(errors) == 1, errors
    assert errors[0].startswith(expected["file"]), errors
    assert expected["code"] in errors[0]
    if "column" in expected:
        assert expected["column"] in errors[0]
    assert not data_dir.exists(), "a file-level error writes nothing"
    assert [p.name for p in tmp.iterdir()] == [], "no temporary folder left behind"


@pytest.mark.parametrize("case", ["non_utf8", "bad_field_count"])
def test_rest_of_file_still_ingests(case: str, tmp_path: Path) -> None:
    ingest(CORPUS / case, tmp_path / "book")
    payments = book_layout.read_table(tmp_path / "book", "payments")
    assert sorted(payments.column("payment_id").to_pylist()) == ["P1", "P3"]


def test_extra_column_allowed_with_flag(tmp_path: Path) -> None:
    report = ingest(CORPUS / "extra_column", tmp_path / "book", allow_extra_columns=True)
    assert report.exit_code == 0
    payments = book_layout.read_table(tmp_path / "book", "payments")
    assert payments.num_rows == 3 and "channel" not in payments.column_names


def test_quarantine_keeps_original_text(tmp_path: Path) -> None:
    ingest(CORPUS / "wrong_type_amount", tmp_path / "book")
    (row,) = read_quarantine(tmp_path / "book", "payments")
    assert row["amount_fen"] == "1096.00" and row["payment_id"] == "P2"


@pytest.mark.parametrize("case", ["missing_column", "empty_file", "missing_table"])
def test_cli_file_error_exit_2(case: str, tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["ingest", str(CORPUS / case), "--out", str(tmp_path / "b")])
    assert result.exit_code == 2
    assert f"error: {_expected(case)['file']}" in result.output
    assert not (tmp_path / "b").exists()


def test_cli_rejections_exit_0_and_strict_exit_1(tmp_path: Path) -> None:
    src = tmp_path / "src"
    shutil.copytree(CORPUS / "negative_amount", src)
    runner = CliRunner()
    strict = runner.invoke(app, ["ingest", str(src), "--out", str(tmp_path / "s"), "--strict"])
    assert strict.exit_code == 1 and not (tmp_path / "s").exists()
    normal = runner.invoke(app, ["ingest", str(src), "--out", str(tmp_path / "n"), "--json"])
    assert normal.exit_code == 0
    summary = json.loads(normal.stdout)
    assert summary["written"] and summary["tables"]["due_items"]["rejected"] == 1
    assert (tmp_path / "n" / "quarantine" / "due_items.csv").is_file()


def test_cli_duplicates_do_not_fail_strict(tmp_path: Path) -> None:
    case = CORPUS / "duplicate_payment_identical"
    result = CliRunner().invoke(
        app, ["ingest", str(case), "--out", str(tmp_path / "b"), "--strict"]
    )
    assert result.exit_code == 0, result.output
    assert (tmp_path / "b" / "quarantine" / "payments.duplicates.csv").is_file()
