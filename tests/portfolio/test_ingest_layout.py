"""The validated layout: reading one day without touching the others, and writing by other tools."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import duckdb
import pyarrow as pa
import pytest

from overdue.portfolio import book_layout
from overdue.portfolio.contract import ACCOUNTS, CUSTOMERS, PAYMENTS, TABLES, conform

DAYS = [date(2026, 1, 5), date(2026, 1, 6), date(2026, 1, 9)]


def _tables() -> dict[str, pa.Table]:
    customers = pa.Table.from_pylist([{"customer_id": "C1", "language": "en", "time_zone": "UTC"}])
    accounts = pa.Table.from_pylist(
        [
            {
                "account_id": "A1",
                "customer_id": "C1",
                "product": "revolving",
                "policy": "us-card",
                "currency": "USD",
                "opened_on": date(2025, 12, 1),
                "credit_limit_fen": 50_000,
            }
        ]
    )
    payments = pa.Table.from_pylist(
        [
            {
                "payment_id": f"P{i}",
                "account_id": "A1",
                "value_date": DAYS[i % 3],
                "entry_date": DAYS[i % 3],
                "amount_fen": 100 + i,
                "entry_seq": 50 - i,
            }
            for i in range(9)
        ]
    )
    return {
        "customers": conform(CUSTOMERS, customers),
        "accounts": conform(ACCOUNTS, accounts),
        "due_items": TABLES["due_items"].empty(),
        "payments": conform(PAYMENTS, payments),
    }


@pytest.fixture
def book(tmp_path: Path) -> Path:
    data_dir = tmp_path / "book"
    book_layout.write_book(data_dir, _tables(), provenance={"generator": "test"})
    return data_dir


def test_layout_on_disk(book: Path) -> None:
    folders = sorted(p.name for p in (book / "payments").iterdir())
    assert folders == [f"entry_date={d.isoformat()}" for d in DAYS]
    assert not (book / "due_items").exists()  # empty event tables are omitted
    manifest = book_layout.read_manifest(book)
    assert manifest["generator"] == "test"
    assert (manifest["first_date"], manifest["last_date"]) == ("2025-12-01", "2026-01-09")


def test_read_events_opens_only_its_day(book: Path) -> None:
    for day in DAYS[1:]:  # make every other day unreadable
        (book / "payments" / f"entry_date={day.isoformat()}" / "part-0.parquet").write_bytes(b"x")
    first = book_layout.read_events(book, "payments", DAYS[0])
    assert first.column("payment_id").to_pylist() == ["P6", "P3", "P0"]  # entry_seq order
    assert first.column("entry_date").to_pylist() == [DAYS[0]] * 3
    assert first.schema == PAYMENTS.arrow_schema()
    until = book_layout.read_events_until(book, "payments", DAYS[0])
    assert until.equals(first)
    with pytest.raises(Exception):  # noqa: B017 - the corrupted days are really corrupted
        book_layout.read_table(book, "payments")


def test_read_events_of_a_day_without_events(book: Path) -> None:
    empty = book_layout.read_events(book, "payments", date(2026, 1, 7))
    assert empty.num_rows == 0 and empty.schema == PAYMENTS.arrow_schema()
    assert book_layout.read_events(book, "due_items", DAYS[0]).num_rows == 0


def test_read_events_until_range(book: Path) -> None:
    middle = book_layout.read_events_until(book, "payments", DAYS[1], first_entry_date=DAYS[1])
    assert sorted(middle.column("payment_id").to_pylist()) == ["P1", "P4", "P7"]
    everything = book_layout.read_events_until(book, "payments", date(2030, 1, 1))
    assert everything.num_rows == 9
    assert everything.column("entry_date").to_pylist() == sorted(
        everything.column("entry_date").to_pylist()
    )


def test_duckdb_reads_the_same_layout(book: Path) -> None:
    glob = book_layout.events_glob(book, "payments")
    relation = duckdb.sql(
        f"SELECT payment_id, entry_date FROM read_parquet('{glob}', hive_partitioning = true) "
        "WHERE entry_date = DATE '2026-01-06' ORDER BY entry_seq"
    )
    assert relation is not None
    rows = relation.fetchall()
    assert rows == [("P7", DAYS[1]), ("P4", DAYS[1]), ("P1", DAYS[1])]


def test_write_book_refuses_what_breaks_the_contract(tmp_path: Path) -> None:
    tables = _tables()
    floats = tables["payments"].set_column(4, "amount_fen", pa.array([1.0] * 9, pa.float64()))
    with pytest.raises(ValueError, match="amount_fen"):
        book_layout.write_book(
            tmp_path / "a", {**tables, "payments": floats}, provenance={"generator": "t"}
        )
    twice = pa.concat_tables([tables["customers"], tables["customers"]])
    with pytest.raises(AssertionError, match="duplicate keys"):
        book_layout.write_book(
            tmp_path / "b", {**tables, "customers": twice}, provenance={"generator": "t"}
        )
    assert sorted(p.name for p in tmp_path.iterdir()) == []
