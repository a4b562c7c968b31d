"""Ingest end to end: round trip, layout, manifest, atomic writes, CSV and Parquet sources."""

from __future__ import annotations

import csv
import json
import random
from datetime import date, timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from overdue.cli import app
from overdue.portfolio import book_layout
from overdue.portfolio.contract import TABLES
from overdue.portfolio.ingest import SourceFileError, ingest, read_quarantine

Rows = list[dict[str, str]]


def write_csv(folder: Path, name: str, rows: Rows, columns: list[str] | None = None) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    columns = columns or list(TABLES[name].column_names)
    path = folder / f"{name}.csv"
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(
            handle, fieldnames=columns, lineterminator="\n", extrasaction="ignore"
        )
        writer.writeheader()
        writer.writerows(rows)
    return path


def make_book(seed: int = 3, days: int = 12) -> dict[str, Rows]:
    """A small valid book as text rows: 3 customers, 4 accounts, events over ``days`` days."""
    rng = random.Random(seed)
    start = date(2026, 1, 1)
    customers = [
        {"customer_id": f"C{i}", "language": lang, "time_zone": tz, "region": "", "segment": "s"}
        for i, (lang, tz) in enumerate(
            [("zh-CN", "Asia/Shanghai"), ("en", "America/Chicago"), ("zh-CN", "Asia/Urumqi")]
        )
    ]
    accounts = [
        {
            "account_id": f"A{i}",
            "customer_id": f"C{i % 3}",
            "product": "revolving",
            "policy": "huabei-like",
            "currency": "CNY",
            "opened_on": "2025-06-01",
            "credit_limit_fen": str(100000 * (i + 1)),
            "principal_fen": "",
            "term_months": "",
            "repayment_method": "",
            "annual_rate": "",
        }
        for i in range(4)
    ]
    items, payments, seq = [], [], 0
    for day in range(days):
        entry = start + timedelta(days=day)
        for _ in range(rng.randint(0, 3)):
            seq += 1
            items.append(
                {
                    "item_id": f"I{seq}",
                    "account_id": f"A{rng.randrange(4)}",
                    "due_date": (entry + timedelta(days=rng.randint(0, 20))).isoformat(),
                    "principal_fen": str(rng.randint(0, 10**6)),
                    "interest_fen": str(rng.randint(0, 999)),
                    "fee_fen": "0",
                    "minimum_fen": str(rng.randint(0, 999)),
                    "entry_date": entry.isoformat(),
                    "entry_seq": str(seq),
                }
            )
            payments.append(
                {
                    "payment_id": f"P{seq}",
                    "account_id": f"A{rng.randrange(4)}",
                    "value_date": (entry - timedelta(days=rng.randint(0, 3))).isoformat(),
                    "entry_date": entry.isoformat(),
                    "amount_fen": str(rng.randint(1, 10**6)),
                    "entry_seq": str(1000 - seq),  # booking order need not follow file order
                }
            )
    return {"customers": customers, "accounts": accounts, "due_items": items, "payments": payments}


def write_book_csv(folder: Path, book: dict[str, Rows]) -> Path:
    for name, rows in book.items():
        write_csv(folder, name, rows)
    return folder


def typed(name: str, row: dict[str, str]) -> dict[str, object]:
    """What the book should hold for a source row, converted here independently of ingest."""
    out: dict[str, object] = {}
    for col in TABLES[name].columns:
        text = row.get(col.name, "").strip()
        if text == "":
            out[col.name] = None
        elif col.kind in ("fen", "int"):
            out[col.name] = int(text)
        elif col.kind == "date":
            out[col.name] = date.fromisoformat(text)
        else:
            out[col.name] = text
    return out


def test_round_trip_equals_source_rows(tmp_path: Path) -> None:
    book = make_book()
    src = write_book_csv(tmp_path / "src", book)
    report = ingest(src, tmp_path / "book")
    assert report.exit_code == 0 and report.rejected == 0
    for name, rows in book.items():
        stored = book_layout.read_table(tmp_path / "book", name).to_pylist()
        expected = [typed(name, r) for r in rows]
        key = TABLES[name].key
        assert sorted(stored, key=lambda r: str(r[key])) == sorted(
            expected, key=lambda r: str(r[key])
        )


def test_read_events_gives_one_booking_day_in_entry_seq_order(tmp_path: Path) -> None:
    book = make_book(days=6)
    ingest(write_book_csv(tmp_path / "src", book), tmp_path / "book")
    days = book_layout.partition_dates(tmp_path / "book", "payments")
    assert days == sorted({date.fromisoformat(r["entry_date"]) for r in book["payments"]})
    for day in days:
        got = book_layout.read_events(tmp_path / "book", "payments", day).to_pylist()
        want = [
            typed("payments", r) for r in book["payments"] if r["entry_date"] == day.isoformat()
        ]
        assert got == sorted(want, key=lambda r: r["entry_seq"])  # type: ignore[arg-type,return-value]
    until = book_layout.read_events_until(tmp_path / "book", "payments", days[2])
    assert until.num_rows == sum(
        date.fromisoformat(r["entry_date"]) <= days[2] for r in book["payments"]
    )


def test_manifest(tmp_path: Path) -> None:
    book = make_book()
    src = write_book_csv(tmp_path / "src", book)
    ingest(src, tmp_path / "book")
    manifest = json.loads((tmp_path / "book" / "manifest.json").read_text(encoding="utf-8"))
    all_dates = [
        r[c] for rows in book.values() for r in rows for c in r if c.endswith(("_date", "_on"))
    ]
    entry_dates = [r["entry_date"] for t in ("due_items", "payments") for r in book[t]]
    assert manifest == {
        "format": "overdue-book/1",
        "first_date": min(all_dates),
        "last_date": max(entry_dates),
        "tables": {name: len(rows) for name, rows in book.items()},
        "account_no": True,  # every event file holds its account's row (book_layout)
        "source": str(src.resolve()),
    }


def test_event_files_hold_their_account_row(tmp_path: Path) -> None:
    """``account_no`` in each event file is the row of its account in accounts.parquet."""
    ingest(write_book_csv(tmp_path / "src", make_book()), tmp_path / "book")
    accounts = pq.read_table(tmp_path / "book" / "accounts.parquet").column("account_id")
    rows = {account: row for row, account in enumerate(accounts.to_pylist())}
    checked = 0
    for name in ("due_items", "payments"):
        for file in sorted((tmp_path / "book" / name).glob("*/*.parquet")):
            events = pq.read_table(file, columns=["account_id", "account_no"]).to_pylist()
            assert [e["account_no"] for e in events] == [rows[e["account_id"]] for e in events]
            checked += len(events)
    assert checked > 0


def test_parquet_source_gives_the_same_book(tmp_path: Path) -> None:
    book = make_book()
    ingest(write_book_csv(tmp_path / "csv", book), tmp_path / "from_csv")
    parquet_src = tmp_path / "parquet"
    parquet_src.mkdir()
    for name in book:
        table = pa.Table.from_pylist(
            [typed(name, r) for r in book[name]], TABLES[name].arrow_schema()
        )
        pq.write_table(table, parquet_src / f"{name}.parquet")
    assert ingest(parquet_src, tmp_path / "from_parquet").exit_code == 0
    for name in book:
        a = book_layout.read_table(tmp_path / "from_csv", name)
        b = book_layout.read_table(tmp_path / "from_parquet", name)
        assert a.equals(b), name


def test_parquet_float_amount_is_a_file_error(tmp_path: Path) -> None:
    book = make_book()
    src = write_book_csv(tmp_path / "src", book)
    (src / "payments.csv").unlink()
    rows = [typed("payments", r) for r in book["payments"]]
    table = pa.Table.from_pylist(rows).set_column(
        4,
        "amount_fen",
        pa.array([float(r["amount_fen"]) for r in rows]),  # type: ignore[arg-type]
    )
    pq.write_table(table, src / "payments.parquet")
    report = ingest(src, tmp_path / "book")
    assert report.exit_code == 2
    assert report.file_errors == [
        "payments.parquet: column amount_fen has type double; expected int64"
    ]


def test_parquet_text_columns_are_checked_per_row(tmp_path: Path) -> None:
    book = make_book()
    src = write_book_csv(tmp_path / "src", book)
    (src / "payments.csv").unlink()
    rows = [dict(r) for r in book["payments"]]
    rows[1]["amount_fen"] = "12.5"
    pq.write_table(pa.Table.from_pylist(rows), src / "payments.parquet")
    report = ingest(src, tmp_path / "book")
    assert report.tables["payments"].rejected == 1
    (bad,) = read_quarantine(tmp_path / "book", "payments")
    assert (bad["_file"], bad["_row"], bad["_column"]) == ("payments.parquet", "2", "amount_fen")


def test_both_csv_and_parquet_is_a_file_error(tmp_path: Path) -> None:
    book = make_book()
    src = write_book_csv(tmp_path / "src", book)
    pq.write_table(pa.table({"x": [1]}), src / "payments.parquet")
    report = ingest(src, tmp_path / "book")
    assert (
        report.exit_code == 2 and "both payments.csv and payments.parquet" in report.file_errors[0]
    )


def test_header_only_file_is_an_empty_table(tmp_path: Path) -> None:
    book = make_book()
    book["payments"] = []
    src = write_book_csv(tmp_path / "src", book)
    report = ingest(src, tmp_path / "book")
    assert report.exit_code == 0 and report.tables["payments"].rows_read == 0
    assert not (tmp_path / "book" / "payments").exists()
    assert book_layout.read_table(tmp_path / "book", "payments").num_rows == 0


def test_nullable_columns_may_be_left_out(tmp_path: Path) -> None:
    book = make_book()
    src = write_book_csv(tmp_path / "src", book)
    write_csv(src, "customers", book["customers"], ["customer_id", "language", "time_zone"])
    assert ingest(src, tmp_path / "book").exit_code == 0
    customers = book_layout.read_table(tmp_path / "book", "customers")
    assert customers.column("region").null_count == customers.num_rows


def test_row_numbers_count_blank_lines_and_multiline_records(tmp_path: Path) -> None:
    book = make_book()
    src = write_book_csv(tmp_path / "src", book)
    header = ",".join(TABLES["waivers"].column_names)
    (src / "waivers.csv").write_text(
        f"{header}\n"
        "W1,A1,2026-01-02,2026-01-02,fee,100,lead.wang,1\n"  # row 1
        "\n"  # row 2: blank, skipped but counted
        'W2,A1,2026-01-02,2026-01-02,fee,100,"lead\nli",2\n'  # row 3 spans two lines
        "W3,A1,2026-01-02,2026-01-02,fee,-5,lead.wang,3\n",  # row 4: negative
        encoding="utf-8",
    )
    report = ingest(src, tmp_path / "book")
    waivers = report.tables["waivers"]
    assert (waivers.rows_read, waivers.accepted, waivers.rejected) == (3, 2, 1)
    (bad,) = read_quarantine(tmp_path / "book", "waivers")
    assert (bad["_row"], bad["_column"], bad["waiver_id"]) == ("4", "amount_fen", "W3")


def test_values_are_trimmed_and_original_text_is_quarantined(tmp_path: Path) -> None:
    book = make_book()
    book["payments"][0]["payment_id"] = "  P-trim "
    book["payments"][1]["amount_fen"] = " -7 "
    src = write_book_csv(tmp_path / "src", book)
    ingest(src, tmp_path / "book")
    ids = book_layout.read_table(tmp_path / "book", "payments").column("payment_id").to_pylist()
    assert "P-trim" in ids
    (bad,) = read_quarantine(tmp_path / "book", "payments")
    assert bad["amount_fen"] == " -7 " and bad["_reason"].startswith("not_positive")


def test_rejected_account_takes_its_events_along(tmp_path: Path) -> None:
    book = make_book()
    book["accounts"][0]["currency"] = "EUR"
    src = write_book_csv(tmp_path / "src", book)
    report = ingest(src, tmp_path / "book")
    on_a0 = sum(r["account_id"] == "A0" for r in book["payments"])
    assert report.tables["payments"].rejected == on_a0
    reasons = {r["_reason"] for r in read_quarantine(tmp_path / "book", "payments")}
    assert reasons <= {"unknown_reference: account_id 'A0' is not in accounts"}


def test_policy_file_in_source_folder(tmp_path: Path) -> None:
    book = make_book()
    book["accounts"][0]["policy"] = "my-card"
    book["accounts"][1]["policy"] = "other-card"
    src = write_book_csv(tmp_path / "src", book)
    (src / "policies").mkdir()
    (src / "policies" / "my-card.toml").write_text('name = "my-card"\n', encoding="utf-8")
    report = ingest(src, tmp_path / "book")
    assert report.tables["accounts"].rejected == 1
    assert (tmp_path / "book" / "policies" / "my-card.toml").is_file()
    (bad,) = read_quarantine(tmp_path / "book", "accounts")
    assert bad["account_id"] == "A1" and bad["_column"] == "policy"


def test_several_errors_of_one_row_are_reported_together(tmp_path: Path) -> None:
    book = make_book()
    book["payments"][0].update(amount_fen="abc", value_date="2026-13-01")
    src = write_book_csv(tmp_path / "src", book)
    report = ingest(src, tmp_path / "book")
    assert report.tables["payments"].rejected == 1
    (bad,) = read_quarantine(tmp_path / "book", "payments")
    assert bad["_column"] == "value_date|amount_fen"
    assert "bad_date" in bad["_reason"] and "not_integer" in bad["_reason"]


# ---------------------------------------------------------------- writing safely


def test_crash_while_writing_leaves_no_book(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    src = write_book_csv(tmp_path / "src", make_book())
    calls = {"n": 0}
    real_write = pq.ParquetWriter.write_table  # every file's writes (pq.write_table's too)

    def failing_write(*args: object, **kwargs: object) -> None:
        calls["n"] += 1
        if calls["n"] == 4:  # the second row group of event rows
            raise OSError("disk full")
        real_write(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(pq.ParquetWriter, "write_table", failing_write)
    out = tmp_path / "out"
    out.mkdir()
    with pytest.raises(OSError, match="disk full"):
        ingest(src, out / "book")
    assert list(out.iterdir()) == []


def test_replace_keeps_old_book_when_writing_fails(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    src = write_book_csv(tmp_path / "src", make_book())
    ingest(src, tmp_path / "book")
    before = (tmp_path / "book" / "manifest.json").read_text(encoding="utf-8")

    def failing_write(*args: object, **kwargs: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(pq, "write_table", failing_write)
    with pytest.raises(OSError):
        ingest(src, tmp_path / "book", replace=True)
    assert (tmp_path / "book" / "manifest.json").read_text(encoding="utf-8") == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["book", "src"]


def test_replace_rules(tmp_path: Path) -> None:
    book = make_book()
    src = write_book_csv(tmp_path / "src", book)
    ingest(src, tmp_path / "book")
    with pytest.raises(book_layout.BookLayoutError, match="--replace"):
        ingest(src, tmp_path / "book")
    book["payments"] = book["payments"][:1]
    write_book_csv(src, book)
    assert ingest(src, tmp_path / "book", replace=True).exit_code == 0
    assert book_layout.read_table(tmp_path / "book", "payments").num_rows == 1
    not_a_book = tmp_path / "home"
    not_a_book.mkdir()
    (not_a_book / "notes.txt").write_text("mine", encoding="utf-8")
    with pytest.raises(book_layout.BookLayoutError, match="refusing"):
        ingest(src, not_a_book, replace=True)
    with pytest.raises(SourceFileError, match="inside the output"):
        ingest(src, tmp_path, replace=True)


def test_cli_refuses_non_empty_out(tmp_path: Path) -> None:
    src = write_book_csv(tmp_path / "src", make_book())
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "x").write_text("x", encoding="utf-8")
    result = CliRunner().invoke(app, ["ingest", str(src), "--out", str(tmp_path / "out")])
    assert result.exit_code == 2 and "error:" in result.output


def test_cli_summary_counts(tmp_path: Path) -> None:
    book = make_book()
    book["payments"].append(dict(book["payments"][0], entry_seq="5000"))  # duplicate
    book["payments"][2]["value_date"] = "2026-02-30"  # rejected
    src = write_book_csv(tmp_path / "src", book)
    result = CliRunner().invoke(app, ["ingest", str(src), "--out", str(tmp_path / "b"), "--json"])
    assert result.exit_code == 0, result.output
    payments = json.loads(result.stdout)["tables"]["payments"]
    n = len(book["payments"])
    assert (payments["rows_read"], payments["accepted"]) == (n, n - 2)
    assert (payments["rejected"], payments["duplicates"]) == (1, 1)
    assert payments["examples"] == [
        "payments.csv row 3, column value_date: bad_date: '2026-02-30' is not a real calendar date"
    ]
    table = CliRunner().invoke(app, ["ingest", str(src), "--out", str(tmp_path / "c")])
    assert (
        table.exit_code == 0 and "rows read" in table.stdout and "1 rows rejected" in table.stdout
    )
