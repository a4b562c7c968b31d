"""Waivers from the operation into the ledger.

Two kinds of reduction are decided in the store and must reach the book's ``waivers`` table, or
the end-of-day batch would keep an account overdue that the operation settled:

- a **waiver** of one component (penalty, fee, interest, principal) of a case, proposed and
  approved through the authority matrix (maker-checker, ``kind = "waiver"``); the approval writes
  a ledger waiver (``authority._apply`` → :func:`record_approved_waiver`);
- the **discount of a paid settlement**: once the ledger shows the payments (the account's
  ``paid_total_fen`` in the latest snapshot before the export exceeds the one at the settlement's
  creation by at least the settled amount), what is left of each overdue component is waived,
  valued on the day the settlement was paid (the penalty accrued meanwhile included: the deal is
  "pay this and the rest is forgiven"). Until then the settlement is reported as waiting, for at
  most ``SETTLEMENT_WAIT_DAYS``.

``export_waivers`` books every ledger waiver not yet exported into
``BOOK/waivers/entry_date=<as_of>/part-store.parquet`` (the data contract's columns; ``entry_seq``
above the twin's and the simulator's ranges) and marks it exported; a rerun of the same date
rewrites the same file with the same rows. Run it before ``overdue eod BOOK --as-of <as_of>``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any, Final

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from sqlalchemy import select
from sqlalchemy.orm import Session

from overdue.cases.access import Actor, Conflict, load_case, require
from overdue.cases.authority import propose
from overdue.cases.config import AuthorityMatrix
from overdue.cases.sync import read_snapshot
from overdue.errors import BadInput
from overdue.portfolio.eod import snapshot_dates
from overdue.store.tables import LEDGER_WAIVER_COMPONENTS, Case, LedgerWaiver, Settlement

PART_FILE: Final = "part-store.parquet"
ENTRY_SEQ_BASE: Final = 1 << 62  # above the twin's and the simulator's entry_seq ranges
MAX_EXPORT_ROWS: Final = 10_000_000
SETTLEMENT_WAIT_DAYS: Final = 60  # a paid settlement whose payments the ledger never shows
# the snapshot column holding what is still overdue of each component
SNAPSHOT_COMPONENT: Final = {
    "penalty": "penalty_outstanding_fen",
    "fee": "overdue_fee_fen",
    "interest": "overdue_interest_fen",
    "principal": "overdue_principal_fen",
}
CASE_COMPONENT: Final = {
    "penalty": "penalty_fen",
    "fee": "fee_fen",
    "interest": "interest_fen",
    "principal": "principal_fen",
}
WAIVERS_SCHEMA: Final = pa.schema(
    [
        ("waiver_id", pa.string()),
        ("account_id", pa.string()),
        ("value_date", pa.date32()),
        ("entry_date", pa.date32()),
        ("component", pa.string()),
        ("amount_fen", pa.int64()),
        ("approver", pa.string()),
        ("entry_seq", pa.int64()),
    ]
)


def propose_waiver(
    session: Session,
    actor: Actor,
    case_id: int,
    *,
    component: str,
    amount_fen: int,
    matrix: AuthorityMatrix,
    reason: str | None = None,
    at: datetime | None = None,
) -> int:
    """Propose to waive ``amount_fen`` of one component of the case; returns the approval id."""
    require(actor, "propose")
    if component not in LEDGER_WAIVER_COMPONENTS:
        raise ValueError(f"component: {component!r} is not one of {LEDGER_WAIVER_COMPONENTS}")
    case = load_case(session, actor, case_id, for_update=True)
    if case.status == "closed":
        raise Conflict(f"case {case_id}: closed")
    owed = int(getattr(case, CASE_COMPONENT[component]))
    if not 0 < amount_fen <= owed:
        raise ValueError(f"amount_fen: {amount_fen} must be between 1 and the {component} owed, {owed}")
    details = {"component": component, "amount_fen": amount_fen}
    return propose(session, actor, kind="waiver", case_id=case_id, amount_fen=amount_fen,
                   matrix=matrix, details=details, reason=reason, at=at)  # fmt: skip


def record_approved_waiver(
    session: Session, approval_id: int, case_id: int, details: dict[str, object], approver: str,
    as_of: date,
) -> None:  # fmt: skip
    """The ledger waiver of an approved waiver request (called by the authority matrix)."""
    case = session.get(Case, case_id)
    assert case is not None, f"approval {approval_id}: case {case_id} missing"
    amount = int(str(details["amount_fen"]))
    assert amount > 0, f"approval {approval_id}: waiver of {amount} fen"
    waiver = LedgerWaiver(
        waiver_id=f"W{approval_id}", case_id=case_id, account_id=case.account_id,
        value_date=as_of, component=str(details["component"]), amount_fen=amount,
        approver=approver[:64], source="waiver", source_id=approval_id,
    )  # fmt: skip
    session.add(waiver)


@dataclass
class ExportResult:
    as_of: date
    exported: int = 0
    settlements_waived: int = 0
    settlements_waiting: list[int] = field(default_factory=list)
    file: Path | None = None

    def summary(self) -> str:
        waiting = len(self.settlements_waiting)
        where = f" into {self.file}" if self.file else ""
        return (
            f"{self.as_of}: {self.exported} waivers booked{where}; {self.settlements_waived} paid "
            f"settlements waived, {waiting} waiting for the ledger to show their payments"
        )


def export_waivers(session: Session, book_dir: Path, snapshot_dir: Path, as_of: date) -> ExportResult:
    """Book the ledger waivers not yet exported (and paid settlements' discounts) on ``as_of``."""
    result = ExportResult(as_of)
    _settlement_waivers(session, snapshot_dir, as_of, result)
    rows = list(
        session.scalars(
            select(LedgerWaiver)
            .where((LedgerWaiver.exported_on.is_(None)) | (LedgerWaiver.exported_on == as_of))
            .order_by(LedgerWaiver.id)
            .limit(MAX_EXPORT_ROWS + 1)
        )
    )
    assert len(rows) <= MAX_EXPORT_ROWS, f"more than {MAX_EXPORT_ROWS} waivers to book at once"
    late = [r.waiver_id for r in rows if r.value_date > as_of]
    if late:
        raise BadInput(f"waivers {late[:5]}: value date after the booking date {as_of}")
    for row in rows:
        row.exported_on = as_of
    folder = book_dir / "waivers" / f"entry_date={as_of.isoformat()}"
    if rows:
        folder.mkdir(parents=True, exist_ok=True)
        result.file = folder / PART_FILE
        tmp = folder / f".{PART_FILE}.tmp"
        pq.write_table(_table(rows, as_of), tmp)
        tmp.replace(result.file)  # atomic: a crash leaves the old file or the new one
    elif (folder / PART_FILE).exists():
        (folder / PART_FILE).unlink()
    result.exported = len(rows)
    session.flush()
    return result


def _table(rows: list[LedgerWaiver], as_of: date) -> pa.Table:
    return pa.Table.from_pylist(
        [
            {
                "waiver_id": r.waiver_id,
                "account_id": r.account_id,
                "value_date": r.value_date,
                "entry_date": as_of,
                "component": r.component,
                "amount_fen": r.amount_fen,
                "approver": r.approver,
                "entry_seq": ENTRY_SEQ_BASE + r.id,
            }
            for r in rows
        ],
        schema=WAIVERS_SCHEMA,
    )


def _settlement_waivers(
    session: Session, snapshot_dir: Path, as_of: date, result: ExportResult
) -> None:
    waived = select(LedgerWaiver.source_id).where(LedgerWaiver.source == "settlement")
    recent = as_of - timedelta(days=SETTLEMENT_WAIT_DAYS)  # bounds the rows looked at daily
    pending = session.execute(
        select(Settlement, Case)
        .join(Case, Case.case_id == Settlement.case_id)
        .where(
            Settlement.status == "paid",
            Settlement.id.not_in(waived),
            Settlement.decided_on >= recent,
        )
    ).all()
    if not pending:
        return
    days = snapshot_dates(snapshot_dir)
    earlier = [d for d in days if d < as_of]
    if not earlier:
        result.settlements_waiting = [s.id for s, _ in pending]
        return
    accounts = {c.account_id for _, c in pending}
    owed = _owed_by_component(snapshot_dir, earlier[-1], accounts)
    paid_before = _paid_before(snapshot_dir, days, pending)
    for settlement, case in pending:
        left = owed.get(case.account_id)
        base = paid_before.get(settlement.id)
        if left is None or base is None or left[PAID_TOTAL] - base < settlement.amount_fen:
            result.settlements_waiting.append(settlement.id)  # the ledger has not the payments
            continue
        left.pop(PAID_TOTAL)
        paid_on = settlement.decided_on or as_of
        if not any(amount > 0 for amount in left.values()):
            continue  # nothing left to waive: paid in full
        for component, amount in left.items():
            if amount <= 0:
                continue
            waiver = LedgerWaiver(
                waiver_id=f"S{settlement.id}-{component}", case_id=case.case_id,
                account_id=case.account_id, value_date=min(paid_on, as_of),
                component=component, amount_fen=amount, approver="settlement",
                source="settlement", source_id=settlement.id,
            )  # fmt: skip
            session.add(waiver)
        result.settlements_waived += 1
    session.flush()


PAID_TOTAL: Final = "paid_total"


def _paid_before(
    snapshot_dir: Path, days: list[date], pending: Sequence[Any]
) -> dict[int, int]:
    """Per settlement: the account's ``paid_total_fen`` in the latest snapshot up to the
    settlement's creation (what the ledger shows paid since then was paid toward it); each
    snapshot read once for all the settlements that need it."""
    by_day: dict[date, list[tuple[int, str]]] = {}
    for settlement, case in pending:
        before = [d for d in days if d <= settlement.created_on]
        if before:
            by_day.setdefault(before[-1], []).append((settlement.id, case.account_id))
    out: dict[int, int] = {}
    for day, wanted in by_day.items():
        rows = _owed_by_component(snapshot_dir, day, {account for _, account in wanted})
        for settlement_id, account in wanted:
            if account in rows:
                out[settlement_id] = rows[account][PAID_TOTAL]
    return out


def _owed_by_component(snapshot_dir: Path, day: date, accounts: set[str]) -> dict[str, dict[str, int]]:
    table = read_snapshot(snapshot_dir, day, extra=("paid_total_fen",))
    table = table.filter(pc.is_in(table["account_id"], value_set=pa.array(sorted(accounts))))
    out: dict[str, dict[str, int]] = {}
    for row in table.to_pylist():
        owed = {c: int(row[col] or 0) for c, col in SNAPSHOT_COMPONENT.items()}
        out[row["account_id"]] = {**owed, PAID_TOTAL: int(row["paid_total_fen"] or 0)}
    return out
