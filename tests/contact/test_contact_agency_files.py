"""Agency placement files (xlsx and csv) round trip; agency results validated row by row."""

from __future__ import annotations

import csv
from datetime import date
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from openpyxl import Workbook, load_workbook

from overdue.contact.agency_files import (
    BadRow,
    fen_to_yuan,
    read_agency_results,
    read_placement,
    write_errors,
    write_placement,
    yuan_to_fen,
)

PLACED_ON = date(2026, 11, 28)


def _accounts() -> pa.Table:
    return pa.table({
        "account_id": ["A1", "A2", "A3"],
        "customer_id": ["C1", "C2", "C3"],
        "name": ["张三", "李四", "Jane Roe"],
        "phone": ["13812341234", "13900001111", "2125550100"],
        "id_number": ["110101199003071234", "31010119850101002X", None],
        "address": ["北京市朝阳区建国路 1 号", "上海市浦东新区 8 号", None],
        "total_overdue_fen": [123_456, 5, 100_000_000_001],
        "penalty_accrued_fen": [1_234, 0, 99],
        "dpd": [35, 3, 200],
        "remaining_daily_contacts": [2, 3, 0],
    })


@pytest.mark.parametrize("kind", ["xlsx", "csv"])
def test_placement_round_trip_is_exact_and_masked(tmp_path: Path, kind: str) -> None:
    [path] = write_placement(_accounts(), tmp_path, agency="acme", placed_on=PLACED_ON,
                             formats=[kind])
    assert path.name == f"placement_acme_2026-11-28.{kind}"
    back = read_placement(path)
    assert back.column("total_overdue_fen").to_pylist() == [123_456, 5, 100_000_000_001]
    assert back.column("penalty_accrued_fen").to_pylist() == [1_234, 0, 99]
    assert back.column("remaining_daily_contacts").to_pylist() == [2, 3, 0]
    assert back.column("phone").to_pylist()[0] == "13812341234"  # the agency must call
    assert back.column("id_number").to_pylist()[0] == "110***********1234"
    assert back.column("address").to_pylist()[0] == "北京市朝阳区****"
    assert set(back.column("agency").to_pylist()) == {"acme"}


def test_placement_shows_yuan_with_two_decimals(tmp_path: Path) -> None:
    csv_path, xlsx_path = write_placement(_accounts(), tmp_path, agency="acme", placed_on=PLACED_ON,
                                          formats=["csv", "xlsx"])
    with csv_path.open(encoding="utf-8-sig") as handle:
        first = next(csv.DictReader(handle))
    assert first["total_overdue_yuan"] == "1234.56" and first["penalty_accrued_yuan"] == "12.34"
    sheet = load_workbook(xlsx_path).active
    assert sheet is not None
    header = [c.value for c in sheet[1]]
    assert sheet.cell(2, header.index("total_overdue_yuan") + 1).value == pytest.approx(1234.56)


def test_placement_refuses_a_negative_allowance(tmp_path: Path) -> None:
    accounts = _accounts().set_column(9, "remaining_daily_contacts", pa.array([1, -1, 0]))
    with pytest.raises(ValueError, match="row 1: remaining_daily_contacts"):
        write_placement(accounts, tmp_path, agency="acme", placed_on=PLACED_ON)


@settings(deadline=None)  # shared, loaded machines: no per-example time limit
@given(st.integers(min_value=-(10**13), max_value=10**13))
def test_fen_yuan_round_trip_through_text_and_float(amount_fen: int) -> None:
    yuan = fen_to_yuan(amount_fen)
    assert yuan.as_tuple().exponent == -2
    assert yuan_to_fen(str(yuan), "x") == amount_fen
    assert yuan_to_fen(float(yuan), "x") == amount_fen  # what a spreadsheet cell gives back


@pytest.mark.parametrize("bad", ["1.234", "abc", "", None, True, "NaN"])
def test_yuan_refuses_what_is_not_an_amount(bad: object) -> None:
    with pytest.raises(BadRow):
        yuan_to_fen(bad, "amount_yuan")


def _results_workbook(path: Path) -> Path:
    book = Workbook()
    contacts = book.active
    assert contacts is not None
    contacts.title = "contacts"
    contacts.append(["agency_contact_id", "account_id", "customer_id", "channel", "to_address",
                     "attempted_at", "time_zone", "connected", "right_party", "outcome"])
    contacts.append(["k1", "A1", "C1", "voice_agent", "13812341234", "2026-11-28T10:15:00+08:00",
                     "Asia/Shanghai", "是", "是", "promise"])
    contacts.append(["k2", "A1", "C1", "voice_agent", "13812341234", "2026-11-28T23:30:00+08:00",
                     "Asia/Shanghai", "false", "", "no_answer"])
    contacts.append(["k3", "A9", "C9", "voice_agent", "1", "2026-11-28T10:00:00+08:00",
                     "Asia/Shanghai", "true", "true", ""])  # not placed with this agency
    contacts.append(["k4", "A2", "C2", "sms", "139", "2026-11-28 10:00", "Asia/Shanghai",
                     "true", "true", ""])  # no UTC offset
    contacts.append(["k5", "A2", "C2", "voice_agent", "139", "2026-11-28T10:00:00+08:00",
                     "Mars/Base", "true", "true", ""])
    contacts.append(["k6", "A2", "C2", "voice_agent", "139", "2026-11-28T10:00:00+08:00",
                     "Asia/Shanghai", "maybe", "", ""])
    payments = book.create_sheet("payments")
    payments.append(["payment_id", "account_id", "amount_yuan", "value_date"])
    payments.append(["P1", "A1", 1234.56, "2026-11-28"])
    payments.append(["P1", "A1", 1234.56, "2026-11-28"])  # repeated: kept once
    payments.append(["P2", "A2", "12.345", "2026-11-28"])
    payments.append(["P3", "A2", "-5", "2026-11-28"])
    payments.append(["P4", "A2", "5", "28/11/2026"])
    book.save(path)
    return path


def test_agency_results_are_validated_row_by_row(tmp_path: Path) -> None:
    path = _results_workbook(tmp_path / "acme_results.xlsx")
    results = read_agency_results([path], agency="acme", placed_accounts=["A1", "A2", "A3"])
    assert results.contacts.num_rows == 2 and results.payments.num_rows == 1
    assert results.payments.column("amount_fen").to_pylist() == [123_456]
    first, second = results.contacts.to_pylist()
    assert first["source"] == "acme" and first["connected"] and first["right_party"]
    assert str(first["attempted_at_utc"]) == "2026-11-28 02:15:00+00:00"
    assert not second["connected"] and not second["right_party"]
    where = {(e.row, e.column) for e in results.errors}
    assert where == {(4, "account_id"), (5, "attempted_at"), (6, "time_zone"), (7, "connected"),
                     (4, "amount_yuan"), (5, "amount_yuan"), (6, "value_date")}
    assert all(e.file == "acme_results.xlsx" for e in results.errors)
    report = write_errors(results.errors, tmp_path / "rejected.csv")
    assert report.read_text("utf-8-sig").startswith("file,row,column,reason")


def test_agency_results_from_csv_and_into_the_contact_history(tmp_path: Path) -> None:
    contacts = tmp_path / "contacts.csv"
    contacts.write_text(
        "account_id,customer_id,channel,to_address,attempted_at,time_zone,connected\n"
        "A1,C1,voice_agent,13812341234,2026-11-28T09:00:00+08:00,Asia/Shanghai,1\n"
        "A1,C1,voice_agent,13812341234,2026-11-28T09:05:00+08:00,Asia/Shanghai,0\n",
        encoding="utf-8",
    )
    payments = tmp_path / "payments.csv"
    payments.write_text("payment_id,account_id,amount_yuan,value_date\nP9,A1,10.50,2026-11-27\n",
                        encoding="utf-8-sig")
    missing = tmp_path / "bad.csv"
    missing.write_text("account_id,attempted_at\nA1,2026-11-28T09:00:00+08:00\n", encoding="utf-8")
    results = read_agency_results([contacts, payments, missing], agency="acme")
    assert results.contacts.num_rows == 2
    assert results.payments.to_pylist()[0]["amount_fen"] == 1_050
    assert [(e.file, e.row) for e in results.errors] == [("bad.csv", 1)]
    from overdue.compliance.history import ContactHistory

    assert ContactHistory().record(results.contacts) == 2
    assert Decimal("10.50") == fen_to_yuan(1_050)
