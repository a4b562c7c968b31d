"""Waivers decided in the operation reach the ledger: an approved penalty waiver and a paid
settlement's discount are booked into the book's waivers table, the end-of-day batch applies
them, and the settled account is not reopened as a new case. A rerun of the export books the
same rows into the same file."""

from __future__ import annotations

import shutil
from datetime import date, timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from cases_world import World
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from overdue.cases import authority
from overdue.cases.config import AuthorityMatrix, EntryRule, SettlementRule
from overdue.cases.payments import record_payment
from overdue.cases.settlements import evaluate_settlements, propose_settlement
from overdue.cases.sync import read_snapshot, sync_cases
from overdue.cases.waivers import export_waivers, propose_waiver
from overdue.portfolio.eod import run_eod
from overdue.store.tables import Case, LedgerWaiver, Settlement
from overdue.strategy.sim_book import make_base_book

MATRIX = AuthorityMatrix()
RULE = EntryRule(min_bucket="M1", min_dpd=1, min_overdue_fen=100)


@pytest.fixture(scope="module")
def base_book(tmp_path_factory: pytest.TempPathFactory) -> tuple[date, Path]:
    return make_base_book(400, 6, seed=31, out=tmp_path_factory.mktemp("ledger") / "book")


def _state(snaps: Path, day: date, account_id: str) -> dict[str, object]:
    table = read_snapshot(snaps, day, extra=("paid_total_fen", "waived_total_fen"))
    rows = table.filter(pc.equal(table["account_id"], account_id)).to_pylist()
    assert len(rows) == 1
    return rows[0]


def _pay_in_book(book: Path, day: date, account_id: str, amount_fen: int) -> None:
    folder = book / "payments" / f"entry_date={day.isoformat()}"
    folder.mkdir(parents=True, exist_ok=True)
    table = pa.table(
        {
            "payment_id": ["SETTLE-1"],
            "account_id": [account_id],
            "value_date": pa.array([day], pa.date32()),
            "amount_fen": pa.array([amount_fen], pa.int64()),
            "entry_seq": pa.array([(1 << 61) + 1], pa.int64()),
        }
    )
    pq.write_table(table, folder / "part-settle.parquet")


def _pick(snaps: Path, day: date) -> str:
    table = read_snapshot(snaps, day)
    rows = [
        r
        for r in table.to_pylist()
        if r["status"] == "overdue" and 5_000 <= r["total_overdue_fen"] <= 100_000
        and r["penalty_outstanding_fen"] > 0 and r["dpd"] < 60
    ]  # fmt: skip
    assert rows, "the twin book has a small overdue account with penalty"
    return str(sorted(rows, key=lambda r: r["account_id"])[0]["account_id"])


def test_penalty_waiver_and_paid_settlement_reach_the_ledger(
    session: Session, world: World, base_book: tuple[date, Path], tmp_path: Path
) -> None:
    start, base = base_book
    book = tmp_path / "book"
    shutil.copytree(base, book)
    snaps = tmp_path / "snaps"
    run_eod(book, start, snaps)
    sync_cases(session, snaps, start, RULE, book_dir=book)
    account_id = _pick(snaps, start)
    case = session.scalar(select(Case).where(Case.account_id == account_id))
    assert case is not None and case.penalty_fen > 0
    manager, admin = world.actor("manager"), world.actor("admin")

    # 1. a penalty waiver, maker-checker, into the ledger
    waive = min(case.penalty_fen, 300)
    approval_id = propose_waiver(session, manager, case.case_id, component="penalty",
                                 amount_fen=waive, matrix=MATRIX)  # fmt: skip
    authority.decide(session, admin, approval_id, approve=True, matrix=MATRIX, as_of=start)
    day1 = start + timedelta(days=1)
    first = export_waivers(session, book, snaps, day1)
    assert first.exported == 1 and first.file is not None
    booked = pq.read_table(first.file).to_pylist()
    assert [(r["component"], r["amount_fen"], r["approver"]) for r in booked] == [
        ("penalty", waive, "t-admin")  # the approver's username
    ]
    before = _state(snaps, start, account_id)
    run_eod(book, day1, snaps)
    after = _state(snaps, day1, account_id)
    assert after["waived_total_fen"] == int(str(before["waived_total_fen"])) + waive

    # 2. a settlement: 70 % paid, the rest waived once the ledger shows the payment
    sync_cases(session, snaps, day1, RULE, book_dir=book)
    session.refresh(case)
    amount = case.overdue_fen - case.overdue_fen * 3 // 10
    settlement_id = propose_settlement(session, manager, case.case_id, amount_fen=amount,
                                       due_on=day1 + timedelta(days=10), as_of=day1,
                                       rule=SettlementRule(), matrix=MATRIX)  # fmt: skip
    settlement = session.get(Settlement, settlement_id)
    assert settlement is not None and settlement.approval_id is not None
    authority.decide(
        session, admin, settlement.approval_id, approve=True, matrix=MATRIX, as_of=day1
    )
    day2 = day1 + timedelta(days=1)
    record_payment(session, payment_id="SETTLE-1", account_id=account_id, amount_fen=amount,
                   value_date=day2, source="test")  # fmt: skip
    _pay_in_book(book, day2, account_id, amount)
    assert evaluate_settlements(session, day2) == {"paid": 1}
    early = export_waivers(session, book, snaps, day2)  # the ledger has not seen the payment
    assert early.settlements_waiting == [settlement_id] and early.exported == 0
    run_eod(book, day2, snaps)
    day3 = day2 + timedelta(days=1)
    done = export_waivers(session, book, snaps, day3)
    assert done.settlements_waived == 1 and done.exported >= 1
    again = export_waivers(session, book, snaps, day3)  # a rerun books the same rows again
    assert again.exported == done.exported and again.settlements_waived == 0
    assert done.file is not None and pq.read_table(done.file).num_rows == done.exported
    run_eod(book, day3, snaps)
    settled = _state(snaps, day3, account_id)
    assert settled["total_overdue_fen"] == 0 and settled["status"] in ("current", "settled")
    sync_cases(session, snaps, day3, RULE, book_dir=book)
    opened = session.scalar(
        select(func.count()).where(Case.account_id == account_id, Case.status != "closed")
    )
    assert opened == 0  # settled for good: no new case
    waived = session.scalar(
        select(func.sum(LedgerWaiver.amount_fen)).where(LedgerWaiver.source == "settlement")
    )
    assert waived is not None and waived > 0
