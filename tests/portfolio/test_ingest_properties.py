"""Properties of ingest on random mixes of good, bad and duplicate rows.

The expected outcome of every row is decided by how the test built it, not by asking ingest:
a good row must reach the book unchanged, a bad row must land in quarantine, a repeat must be
counted as a duplicate (or, for a due item with different content, rejected as a conflict).
"""

from __future__ import annotations

import csv
import tempfile
from datetime import date, timedelta
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from overdue.portfolio import book_layout
from overdue.portfolio.contract import TABLES
from overdue.portfolio.ingest import ingest, read_quarantine

ACCOUNTS = ("A1", "A2")
BAD_PAYMENT = {
    "zero_amount": {"amount_fen": "0"},
    "negative_amount": {"amount_fen": "-100"},
    "decimal_amount": {"amount_fen": "10.50"},
    "impossible_date": {"value_date": "2026-02-29"},
    "entry_before_value": {"entry_date": "2025-12-31"},
    "unknown_account": {"account_id": "A404"},
    "empty_account": {"account_id": ""},
}
KINDS = ("good", "duplicate", *BAD_PAYMENT)
settings_ = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _write(folder: Path, name: str, rows: list[dict[str, str]]) -> None:
    with (folder / f"{name}.csv").open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=TABLES[name].column_names, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)


def _base(folder: Path) -> None:
    _write(
        folder,
        "customers",
        [{"customer_id": "C1", "language": "en", "time_zone": "UTC", "region": "", "segment": ""}],
    )
    _write(folder, "accounts", [
        {
            "account_id": a, "customer_id": "C1", "product": "revolving", "policy": "us-card",
            "currency": "USD", "opened_on": "2025-01-01", "credit_limit_fen": "100000",
            "principal_fen": "", "term_months": "", "repayment_method": "", "annual_rate": "",
        }
        for a in ACCOUNTS
    ])  # fmt: skip
    _write(folder, "due_items", [])


row_plan = st.lists(
    st.tuples(
        st.sampled_from(KINDS),
        st.integers(0, 40),  # value date offset in days
        st.integers(0, 3),  # booking delay in days
        st.integers(1, 10**9),  # amount
        st.booleans(),  # account choice / duplicate changes content
    ),
    max_size=40,
)


@settings_
@given(plan=row_plan)
def test_payments_every_row_accounted_for(plan: list[tuple[str, int, int, int, bool]]) -> None:
    rows: list[dict[str, str]] = []
    good: dict[str, dict[str, str]] = {}
    bad_ids: set[str] = set()
    duplicate_rows: list[int] = []
    for n, (kind, offset, delay, amount, flag) in enumerate(plan):
        value = date(2026, 1, 1) + timedelta(days=offset)
        row = {
            "payment_id": f"P{n}",
            "account_id": ACCOUNTS[flag],
            "value_date": value.isoformat(),
            "entry_date": (value + timedelta(days=delay)).isoformat(),
            "amount_fen": str(amount),
            "entry_seq": str(n),
        }
        if kind == "duplicate" and good:
            original = list(good.values())[offset % len(good)]
            row = dict(original, entry_seq=str(n))  # booked again later: same payment
            if flag:
                row["amount_fen"] = str(amount)  # even with other content (idempotent by id)
            duplicate_rows.append(n + 1)
        elif kind in BAD_PAYMENT:
            row.update(BAD_PAYMENT[kind])
            bad_ids.add(row["payment_id"])
        else:
            good[row["payment_id"]] = row
        rows.append(row)

    with tempfile.TemporaryDirectory() as tmp:
        src, book = Path(tmp) / "src", Path(tmp) / "book"
        src.mkdir()
        _base(src)
        _write(src, "payments", rows)
        report = ingest(src, book).tables["payments"]
        assert report.rows_read == len(rows)
        assert report.accepted + report.rejected + report.duplicates == report.rows_read
        assert (report.accepted, report.rejected, report.duplicates) == (
            len(good),
            len(bad_ids),
            len(duplicate_rows),
        )
        stored = book_layout.read_table(book, "payments").to_pylist()
        assert {r["payment_id"]: _as_text(r) for r in stored} == good  # no good row lost
        assert {q["payment_id"] for q in read_quarantine(book, "payments")} == bad_ids
        dup_rows = [int(q["_row"]) for q in read_quarantine(book, "payments", duplicates=True)]
        assert dup_rows == duplicate_rows


def _as_text(row: dict[str, object]) -> dict[str, str]:
    return {k: v.isoformat() if isinstance(v, date) else str(v) for k, v in row.items()}


@settings_
@given(plan=st.lists(st.tuples(st.sampled_from(["new", "same", "changed"]), st.integers(0, 99)),
                     max_size=30))  # fmt: skip
def test_due_items_identical_repeat_is_duplicate_changed_is_conflict(
    plan: list[tuple[str, int]],
) -> None:
    rows: list[dict[str, str]] = []
    kept: dict[str, dict[str, str]] = {}
    expected_duplicates = expected_conflicts = 0
    for n, (kind, pick) in enumerate(plan):
        if kind == "new" or not kept:
            row = {
                "item_id": f"I{n}", "account_id": "A1", "due_date": "2026-03-10",
                "principal_fen": str(1000 + n), "interest_fen": "0", "fee_fen": "0",
                "minimum_fen": "", "entry_date": "2026-03-01", "entry_seq": str(n),
            }  # fmt: skip
            kept[row["item_id"]] = row
        else:
            row = dict(list(kept.values())[pick % len(kept)], entry_seq=str(n))
            if kind == "changed":
                row["fee_fen"] = str(pick + 1)
                expected_conflicts += 1
            else:
                expected_duplicates += 1
        rows.append(row)

    with tempfile.TemporaryDirectory() as tmp:
        src, book = Path(tmp) / "src", Path(tmp) / "book"
        src.mkdir()
        _base(src)
        _write(src, "due_items", rows)
        _write(src, "payments", [])
        report = ingest(src, book).tables["due_items"]
        assert (report.accepted, report.duplicates, report.rejected) == (
            len(kept),
            expected_duplicates,
            expected_conflicts,
        )
        stored = book_layout.read_table(book, "due_items").to_pylist()
        assert {r["item_id"]: r["principal_fen"] for r in stored} == {
            k: int(v["principal_fen"]) for k, v in kept.items()
        }
        reasons = [q["_reason"] for q in read_quarantine(book, "due_items")]
        assert all(r.startswith("key_conflict") for r in reasons)


@settings_
@given(st.lists(st.tuples(st.integers(1890, 2210), st.integers(0, 13), st.integers(0, 32)),
                min_size=1, max_size=50))  # fmt: skip
def test_a_date_is_accepted_exactly_when_it_exists(ymd: list[tuple[int, int, int]]) -> None:
    rows, real = [], set()
    for n, (y, m, d) in enumerate(ymd):
        text = f"{y:04d}-{m:02d}-{d:02d}"
        try:
            exists = 1900 <= date(y, m, d).year <= 2200
        except ValueError:
            exists = False
        if exists:
            real.add(f"P{n}")
        rows.append({
            "payment_id": f"P{n}", "account_id": "A1", "value_date": text,
            "entry_date": "2200-12-31", "amount_fen": "1", "entry_seq": str(n),
        })  # fmt: skip
    with tempfile.TemporaryDirectory() as tmp:
        src, book = Path(tmp) / "src", Path(tmp) / "book"
        src.mkdir()
        _base(src)
        _write(src, "payments", rows)
        ingest(src, book)
        stored = book_layout.read_table(book, "payments")
        assert set(stored.column("payment_id").to_pylist()) == real
        for row in stored.to_pylist():
            assert row["value_date"].isoformat() == rows[int(row["payment_id"][1:])]["value_date"]
