"""The generated book: contract, layout, amounts, products, events, determinism."""

from __future__ import annotations

import hashlib
import json
from datetime import date
from decimal import Decimal
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from twin_support import SMALL

from overdue.portfolio import book_layout
from overdue.portfolio.contract import TABLES, schema_problems
from overdue.twin.generate import TwinSpec, generate_book

_READ: dict[tuple[Path, str], pa.Table] = {}


def table(book: Path, name: str) -> pa.Table:
    """A table of a book through the book layout's reader (cached: the books do not change)."""
    key = (book, name)
    if key not in _READ:
        _READ[key] = book_layout.read_table(book, name)
    return _READ[key]


def digest(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def test_same_seed_gives_byte_identical_files(small_book: Path, tmp_path: Path) -> None:
    again = tmp_path / "again"
    generate_book(SMALL, again)
    first, second = digest(small_book), digest(again)
    assert len(first) > 50
    assert first == second


def test_another_seed_gives_another_book(small_book: Path, tmp_path: Path) -> None:
    other = tmp_path / "other"
    generate_book(TwinSpec(accounts=2000, months=12, seed=SMALL.seed + 1), other)
    a = table(small_book, "payments").column("amount_fen").to_numpy()
    b = table(other, "payments").column("amount_fen").to_numpy()
    assert a.size != b.size or not np.array_equal(a, b)


def test_every_table_fits_the_contract(small_book: Path) -> None:
    for name, spec in TABLES.items():
        got = table(small_book, name)
        assert schema_problems(spec, got) == [], name
        assert got.num_rows > 0, f"{name} is empty"
        key = got.column(spec.key)
        assert pc.count_distinct(key).as_py() == got.num_rows, f"{name}: duplicate keys"


def test_manifest(small_book: Path) -> None:
    manifest = book_layout.read_manifest(small_book)
    assert manifest["first_date"] == "2024-01-01"
    assert manifest["last_date"] == "2024-12-31"
    assert {"seed", "accounts", "months", "scenario"} <= set(manifest["generator"])
    assert manifest["generator"]["seed"] == SMALL.seed
    assert (
        manifest["generator"]["accounts"]
        == SMALL.accounts
        == table(small_book, "accounts").num_rows
    )
    for name, rows in manifest["tables"].items():
        assert table(small_book, name).num_rows == rows


def test_event_files_hold_the_row_of_their_account(small_book: Path) -> None:
    """``account_no`` (book_layout) is the event's account's row in accounts.parquet, in
    every event file, and the manifest says so; the contract's readers do not see it."""
    assert book_layout.is_keyed(small_book)
    accounts = pq.read_table(small_book / "accounts.parquet", columns=["account_id"])
    row_of = {a: row for row, a in enumerate(accounts.column("account_id").to_pylist())}
    for name in ("due_items", "payments", "waivers", "reversals"):
        files = sorted((small_book / name).glob("*/*.parquet"))
        events = pa.concat_tables(
            pq.read_table(f, columns=["account_id", book_layout.ACCOUNT_NO]) for f in files
        )
        ids, rows = events.column(0).to_pylist(), events.column(1).to_pylist()
        assert rows == [row_of[a] for a in ids], name
        assert book_layout.ACCOUNT_NO not in table(small_book, name).column_names


def test_event_files_are_one_per_booking_day(small_book: Path) -> None:
    for name in ("due_items", "payments", "waivers", "reversals"):
        folders = list((small_book / name).iterdir())
        assert folders and all(f.name.startswith("entry_date=") for f in folders)
        assert all([p.name for p in f.iterdir()] == ["part-0.parquet"] for f in folders)
        some = folders[0]
        day = date.fromisoformat(some.name.removeprefix("entry_date="))
        events = book_layout.read_events(small_book, name, day)
        assert events.num_rows == pq.read_metadata(some / "part-0.parquet").num_rows


def test_amounts_are_integer_fen_and_never_negative(small_book: Path) -> None:
    columns = {
        "due_items": ("principal_fen", "interest_fen", "fee_fen", "minimum_fen"),
        "payments": ("amount_fen",),
        "waivers": ("amount_fen",),
        "accounts": ("credit_limit_fen", "principal_fen"),
    }
    for name, cols in columns.items():
        got = table(small_book, name)
        for col in cols:
            assert got.schema.field(col).type == pa.int64()
            values = got.column(col).drop_null().to_numpy()
            assert values.size and values.min() >= 0, (name, col)
    assert table(small_book, "payments").column("amount_fen").to_numpy().min() > 0
    assert table(small_book, "waivers").column("amount_fen").to_numpy().min() > 0


def test_both_products_with_their_presets_and_terms(small_book: Path) -> None:
    accounts = table(small_book, "accounts").to_pandas()
    revolving = accounts[accounts["product"] == "revolving"]
    loans = accounts[accounts["product"] == "installment"]
    assert 0.4 < len(revolving) / len(accounts) < 0.75
    assert set(revolving["policy"]) == {"huabei-like"}
    assert set(loans["policy"]) == {"jiebei-like"}
    assert revolving["credit_limit_fen"].notna().all() and revolving["principal_fen"].isna().all()
    assert (
        loans[["principal_fen", "term_months", "repayment_method", "annual_rate"]]
        .notna()
        .all()
        .all()
    )
    assert set(loans["repayment_method"]) == {
        "equal_installment",
        "equal_principal",
        "interest_first",
        "hybrid_6_6",
    }
    assert set(loans.loc[loans["repayment_method"] == "hybrid_6_6", "term_months"]) == {12}
    daily = [Decimal(text) / 360 for text in loans["annual_rate"]]
    assert min(daily) >= Decimal("0.0002") and max(daily) <= Decimal("0.0006")
    opened = accounts["opened_on"]
    assert opened.min() >= date(2024, 1, 1) and opened.max() <= date(2024, 12, 31)
    assert opened.map(lambda d: d.month).nunique() >= 10, "accounts open across the window"


def test_revolving_bills_follow_statement_and_due_days(small_book: Path) -> None:
    items = table(small_book, "due_items").to_pandas()
    bills = items[items["minimum_fen"].notna()]
    assert len(bills) > 1000
    assert set(bills["entry_date"].map(lambda d: d.day)) == {1}
    assert set(bills["due_date"].map(lambda d: d.day)) == {10}
    amount = bills["principal_fen"] + bills["interest_fen"] + bills["fee_fen"]
    expected = (amount * 10 * 2 + 100) // 200  # 10 %, half-up to the fen
    assert (bills["minimum_fen"] == expected).all()
    assert (bills["interest_fen"] > 0).any(), "some bills carry revolving interest"


def test_loan_items_are_booked_at_opening(small_book: Path) -> None:
    items = table(small_book, "due_items").to_pandas()
    loans = items[items["minimum_fen"].isna()]
    accounts = table(small_book, "accounts").to_pandas().set_index("account_id")
    loan_terms = accounts[["opened_on", "principal_fen", "term_months"]].rename(
        columns={"principal_fen": "principal_fen_loan"}
    )
    joined = loans.join(loan_terms, on="account_id")
    assert (joined["entry_date"] == joined["opened_on"]).all()
    per_loan = joined.groupby("account_id").agg(
        principal=("principal_fen", "sum"),
        loan=("principal_fen_loan", "first"),
        n=("item_id", "size"),
        term=("term_months", "first"),
    )
    assert (per_loan["principal"] == per_loan["loan"]).all(), "installments repay the principal"
    assert (per_loan["n"] == per_loan["term"]).all()


def test_event_dates_and_booking_order(small_book: Path) -> None:
    last = date(2024, 12, 31)
    for name in ("due_items", "payments", "waivers", "reversals"):
        got = table(small_book, name).to_pandas()
        assert got["entry_date"].max() <= last
        later = "due_date" if name == "due_items" else "value_date"
        if name == "due_items":
            assert (got["entry_date"] <= got["due_date"]).all()
        else:
            assert (got["value_date"] <= got["entry_date"]).all(), later
        by_seq = got.sort_values("entry_seq")
        assert by_seq["entry_seq"].is_unique
        assert by_seq["entry_date"].is_monotonic_increasing, f"{name}: entry_seq follows booking"


def test_some_payments_are_backdated_a_few_days(small_book: Path) -> None:
    payments = table(small_book, "payments").to_pandas()
    lag = (payments["entry_date"] - payments["value_date"]).map(lambda d: d.days)
    assert lag.max() <= 5
    assert 0.01 < (lag > 0).mean() < 0.06


def test_reversals_take_back_payments_of_the_same_account(small_book: Path) -> None:
    payments = table(small_book, "payments").to_pandas().set_index("payment_id")
    reversals = table(small_book, "reversals").to_pandas()
    assert 0 < len(reversals) < 0.03 * len(payments)
    paid = payments.loc[reversals["payment_id"]]
    assert (paid["account_id"].to_numpy() == reversals["account_id"].to_numpy()).all()
    assert (paid["value_date"].to_numpy() <= reversals["value_date"].to_numpy()).all()


def test_waivers_are_penalty_waivers_with_an_approver(small_book: Path) -> None:
    waivers = table(small_book, "waivers").to_pandas()
    assert set(waivers["component"]) == {"penalty"}
    assert waivers["approver"].str.len().min() > 0


def test_latent_types_in_their_proportions(small_book: Path) -> None:
    truth = pq.read_table(small_book / "_truth" / "latent_types.parquet").to_pandas()
    customers = table(small_book, "customers").to_pandas()
    assert set(truth["customer_id"]) == set(customers["customer_id"])
    shares = SMALL.behaviour.mix.shares()
    counts = truth["latent_type"].value_counts()
    n = len(truth)
    for label, share in zip(
        ("reliable", "forgetful", "short_of_money", "unwilling", "fraud"), shares, strict=True
    ):
        tolerance = 4 * np.sqrt(share * (1 - share) / n) + 0.002
        assert abs(counts.get(label, 0) / n - share) < tolerance, label
        assert counts.get(label, 0) > 0, f"no {label} customer"


def test_fraud_never_pays_and_defaults_on_the_first_payment(small_book: Path) -> None:
    truth = pq.read_table(small_book / "_truth" / "latent_types.parquet").to_pandas()
    accounts = table(small_book, "accounts").to_pandas()
    fraud_customers = set(truth.loc[truth["latent_type"] == "fraud", "customer_id"])
    fraud = set(accounts.loc[accounts["customer_id"].isin(fraud_customers), "account_id"])
    assert fraud
    payments = table(small_book, "payments").to_pandas()
    assert not payments["account_id"].isin(fraud).any()
    items = table(small_book, "due_items").to_pandas()
    first_due = items[items["account_id"].isin(fraud)].groupby("account_id")["due_date"].min()
    assert len(first_due) >= 0.8 * len(fraud), "most fraud accounts reach a first due date"


def test_customers_are_chinese_or_english_speaking(small_book: Path) -> None:
    customers = table(small_book, "customers").to_pandas()
    assert set(customers["language"]) == {"zh-CN", "en"}
    assert customers["time_zone"].str.contains("/").all()
    assert customers["region"].nunique() > 5
    accounts = table(small_book, "accounts").to_pandas()
    held = accounts.groupby("customer_id").size()
    assert set(held) == {1, 2}


def test_refuses_to_overwrite_without_replace(small_book: Path, tmp_path: Path) -> None:
    target = tmp_path / "book"
    spec = TwinSpec(accounts=50, months=3, seed=1)
    generate_book(spec, target)
    with pytest.raises(ValueError, match="replace"):
        generate_book(spec, target)
    generate_book(spec, target, replace=True)
    stranger = tmp_path / "stranger"
    stranger.mkdir()
    (stranger / "notes.txt").write_text("mine")
    with pytest.raises(ValueError, match="manifest"):
        generate_book(spec, stranger, replace=True)
    assert (stranger / "notes.txt").read_text() == "mine"
    manifest = json.loads((target / "manifest.json").read_text())
    assert manifest["generator"]["accounts"] == 50
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")], "no temporary folder left"


def test_chunks_do_not_change_the_contract(tmp_path: Path) -> None:
    spec = TwinSpec(accounts=900, months=4, seed=3, chunk_size=250)
    generate_book(spec, tmp_path / "b")
    accounts = table(tmp_path / "b", "accounts")
    assert accounts.num_rows == 900
    ids = accounts.column("account_id").to_pylist()
    assert ids == [f"A{n:09d}" for n in range(1, 901)]
    seqs = table(tmp_path / "b", "payments").column("entry_seq").to_numpy()
    assert np.unique(seqs).size == seqs.size


def test_ingest_accepts_every_row_of_the_book(small_book: Path, tmp_path: Path) -> None:
    from overdue.portfolio.ingest import ingest

    source = tmp_path / "source"
    source.mkdir()
    for name in TABLES:
        pq.write_table(table(small_book, name), source / f"{name}.parquet")
    report = ingest(source, tmp_path / "ingested", strict=True).to_json()
    assert report["written"] and not report["file_errors"]
    for name, counts in report["tables"].items():
        assert counts["rejected"] == counts["duplicates"] == 0, (name, counts["examples"])
        assert counts["accepted"] == table(small_book, name).num_rows
