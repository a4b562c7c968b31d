"""Cases from the end-of-day snapshot: open, update and close them in bulk.

``sync_cases`` reads ``SNAPSHOT_DIR/as_of=YYYY-MM-DD/accounts/*.parquet`` (and the ``scores``
folder when the models wrote one) and, for the business date ``as_of``:

- opens a case for every account meeting the entry rule that has no open or paused case;
- updates every open or paused case: DPD, bucket, amounts, queue, score and priority
  (priority = collection score × balance in fen when a score exists, else the balance);
- never reopens an account whose case was closed for good (charged off and placed, written
  off) or closed on ``as_of`` itself (a rerun);
- closes cases whose account is cured (DPD 0; ``settled`` when nothing is owed any more) or was
  charged off while placed with an agency (``charged_off_placed``).

Writes are batched (``COPY`` and one ``UPDATE ... FROM`` on PostgreSQL, executemany elsewhere);
a rerun of the same day changes nothing more.
"""

from __future__ import annotations

import time as wallclock
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds
from sqlalchemy import select
from sqlalchemy.orm import Session

from overdue.cases.book_import import (
    account_row,
    chunks,
    ensure_customers,
    read_book,
    upsert_accounts,
)
from overdue.cases.bulk_write import insert_rows, update_rows
from overdue.cases.clock import instant
from overdue.cases.config import BUCKETS_CN, EntryRule
from overdue.cases.queues import QueueRouter
from overdue.errors import BadInput
from overdue.store.tables import Case, CaseEvent, Customer

SNAPSHOT_COLUMNS = [
    "account_id",
    "customer_id",
    "product",
    "policy",
    "status",
    "dpd",
    "bucket_cn",
    "overdue_principal_fen",
    "overdue_interest_fen",
    "overdue_fee_fen",
    "penalty_outstanding_fen",
    "total_overdue_fen",
    "charged_off_on",
]
COLLECTION_MODEL = "collection"


@dataclass
class SyncResult:
    as_of: date
    opened: int = 0
    updated: int = 0
    closed: dict[str, int] = field(default_factory=dict)
    customers_added: int = 0
    missing_from_snapshot: int = 0
    over_capacity: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0

    def summary(self) -> str:
        closed = ", ".join(f"{k} {v}" for k, v in sorted(self.closed.items())) or "none"
        return (
            f"{self.as_of}: opened {self.opened}, updated {self.updated}, closed {closed}; "
            f"{self.customers_added} new customers; {self.missing_from_snapshot} open cases "
            f"without a snapshot row{self._over()} ({self.seconds:.1f} s)"
        )

    def _over(self) -> str:
        if not self.over_capacity:
            return ""
        full = ", ".join(f"{k} +{v}" for k, v in sorted(self.over_capacity.items()))
        return f"; over capacity (every matching queue full): {full}"


@dataclass(frozen=True)
class _OpenCase:
    case_id: int
    status: str
    bucket_cn: str
    segment: str | None
    language: str
    agency_id: int | None
    queue: str | None


def snapshot_folder(snapshot_dir: Path, as_of: date) -> Path:
    return snapshot_dir / f"as_of={as_of.isoformat()}"


def read_snapshot(snapshot_dir: Path, as_of: date, extra: tuple[str, ...] = ()) -> pa.Table:
    folder = snapshot_folder(snapshot_dir, as_of) / "accounts"
    if not folder.is_dir():
        raise BadInput(f"{folder}: no snapshot for {as_of} (run: overdue eod ... --as-of {as_of})")
    table = ds.dataset(folder, format="parquet").to_table(columns=[*SNAPSHOT_COLUMNS, *extra])
    return table


def read_scores(snapshot_dir: Path, as_of: date) -> dict[str, tuple[float, str]]:
    """account_id → (collection score, model version), empty when no scores were written."""
    folder = snapshot_folder(snapshot_dir, as_of) / "scores"
    if not folder.is_dir():
        return {}
    table = ds.dataset(folder, format="parquet").to_table(
        columns=["account_id", "model", "model_version", "score"],
        filter=pc.field("model") == COLLECTION_MODEL,
    )
    return {
        a: (float(s), str(v))
        for a, s, v in zip(
            table["account_id"].to_pylist(),
            table["score"].to_pylist(),
            table["model_version"].to_pylist(),
            strict=True,
        )
        if s is not None
    }


def _open_cases(session: Session) -> dict[str, _OpenCase]:
    rows = session.execute(
        select(
            Case.account_id,
            Case.case_id,
            Case.status,
            Case.bucket_cn,
            Case.segment,
            Case.language,
            Case.agency_id,
            Case.queue,
        ).where(Case.status != "closed")
    )
    return {r[0]: _OpenCase(*r[1:]) for r in rows}


FINAL_CLOSE_REASONS = ("charged_off_placed", "written_off")


def _not_reopened(session: Session, as_of: date) -> set[str]:
    """Accounts that get no new case: closed for good, or closed on ``as_of`` (a rerun)."""
    rows = session.scalars(
        select(Case.account_id)
        .where(
            Case.status == "closed",
            Case.close_reason.in_(FINAL_CLOSE_REASONS) | (Case.closed_on >= as_of),
        )
        .distinct()
    )
    return set(rows)


def _meets_entry(row: dict[str, Any], rule: EntryRule) -> bool:
    bucket = row["bucket_cn"]
    return (
        row["status"] in {"overdue", "in_grace", "charged_off"}
        and row["dpd"] >= max(rule.min_dpd, 1)
        and bucket in BUCKETS_CN
        and BUCKETS_CN.index(bucket) >= rule.bucket_rank()
        and row["total_overdue_fen"] >= rule.min_overdue_fen
    )


def _close_reason(row: dict[str, Any], case: _OpenCase) -> str | None:
    if row["status"] == "settled":
        return "settled"
    if row["dpd"] == 0:
        return "cured"
    if row["status"] == "charged_off" and case.agency_id is not None:
        return "charged_off_placed"
    return None


def _figures(row: dict[str, Any], scores: dict[str, tuple[float, str]]) -> dict[str, Any]:
    overdue = max(0, int(row["total_overdue_fen"]))
    score, version = scores.get(row["account_id"], (None, None))
    priority = overdue if score is None else round(score * overdue)
    return {
        "dpd": int(row["dpd"]),
        "bucket_cn": row["bucket_cn"],
        "overdue_fen": overdue,
        "principal_fen": int(row["overdue_principal_fen"]),
        "interest_fen": int(row["overdue_interest_fen"]),
        "fee_fen": int(row["overdue_fee_fen"]),
        "penalty_fen": int(row["penalty_outstanding_fen"]),
        "balance_fen": overdue,
        "score": score,
        "score_model_version": version,
        "priority_score": priority,
    }


def _relevant_rows(table: pa.Table, open_ids: Iterable[str]) -> list[dict[str, Any]]:
    known = pa.array(list(open_ids), pa.string())
    mask = pc.or_(pc.greater(table["dpd"], 0), pc.is_in(table["account_id"], value_set=known))
    return table.filter(mask).to_pylist()


def _people(session: Session, customer_ids: set[str]) -> dict[str, tuple[str, str | None]]:
    found: dict[str, tuple[str, str | None]] = {}
    for part in chunks(sorted(customer_ids), 5_000):
        rows = session.execute(
            select(Customer.customer_id, Customer.language, Customer.segment).where(
                Customer.customer_id.in_(part)
            )
        )
        found.update({c: (lang, seg) for c, lang, seg in rows})
    return found


def sync_cases(
    session: Session,
    snapshot_dir: Path,
    as_of: date,
    rule: EntryRule,
    *,
    book_dir: Path | None = None,
    at: datetime | None = None,
) -> SyncResult:
    """Open, update and close cases from the snapshot of ``as_of`` (see the module doc)."""
    started = wallclock.perf_counter()
    when = instant(at)
    result = SyncResult(as_of)
    scores = read_scores(snapshot_dir, as_of)
    open_cases = _open_cases(session)
    rows = _relevant_rows(read_snapshot(snapshot_dir, as_of), open_cases)
    seen = {r["account_id"] for r in rows}
    result.missing_from_snapshot = sum(1 for a in open_cases if a not in seen)
    blocked = _not_reopened(session, as_of)
    new_rows = [
        r
        for r in rows
        if r["account_id"] not in open_cases
        and r["account_id"] not in blocked
        and _meets_entry(r, rule)
    ]
    kept_rows = [r for r in rows if r["account_id"] in open_cases]

    book = read_book(book_dir, (r["account_id"] for r in new_rows))
    result.customers_added = ensure_customers(
        session, {r["customer_id"] for r in new_rows}, book, as_of
    )
    upsert_accounts(
        session,
        [account_row(r, book.accounts.get(r["account_id"]), as_of) for r in new_rows + kept_rows],
    )
    router = QueueRouter.load(session)
    _update_and_close(session, kept_rows, open_cases, scores, router, as_of, when, result)
    _open_new(session, new_rows, scores, router, as_of, result)
    result.over_capacity = dict(router.overflowed)
    session.flush()
    result.seconds = wallclock.perf_counter() - started
    return result


def _open_new(
    session: Session,
    rows: list[dict[str, Any]],
    scores: dict[str, tuple[float, str]],
    router: QueueRouter,
    as_of: date,
    result: SyncResult,
) -> None:
    people = _people(session, {r["customer_id"] for r in rows})
    inserts = []
    for row in rows:
        language, segment = people[row["customer_id"]]
        figures = _figures(row, scores)
        inserts.append(
            {
                "account_id": row["account_id"],
                "customer_id": row["customer_id"],
                "status": "open",
                "opened_on": as_of,
                "language": language,
                "segment": segment,
                "queue": router.route(figures["bucket_cn"], segment, language),
                "updated_on": as_of,
                "sla_due_on": as_of,
                **figures,
            }
        )
    insert_rows(session, Case, inserts)
    result.opened = len(inserts)


def _update_and_close(
    session: Session,
    rows: list[dict[str, Any]],
    open_cases: dict[str, _OpenCase],
    scores: dict[str, tuple[float, str]],
    router: QueueRouter,
    as_of: date,
    when: datetime,
    result: SyncResult,
) -> None:
    updates: list[dict[str, Any]] = []
    events: list[dict[str, Any]] = []
    for row in rows:
        case = open_cases[row["account_id"]]
        figures = _figures(row, scores)
        reason = _close_reason(row, case)
        change: dict[str, Any] = {
            "case_id": case.case_id,
            "updated_on": as_of,
            "status": case.status,
            "closed_on": None,
            "close_reason": None,
            "queue": router.route(figures["bucket_cn"], case.segment, case.language, case.queue),
            **figures,
        }
        if reason is not None:
            router.leave(change["queue"])
            change["queue"] = case.queue
            change.update(status="closed", closed_on=as_of, close_reason=reason)
            result.closed[reason] = result.closed.get(reason, 0) + 1
            events.append(_event(case.case_id, "closed", as_of, when, reason))
        else:
            if figures["bucket_cn"] != case.bucket_cn:
                detail = f"{case.bucket_cn} → {figures['bucket_cn']}"
                events.append(_event(case.case_id, "bucket_changed", as_of, when, detail))
        updates.append(change)
    update_rows(session, Case, "case_id", updates)
    insert_rows(session, CaseEvent, events)
    result.updated = len(updates) - sum(result.closed.values())


def _event(case_id: int, kind: str, on: date, at: datetime, detail: str) -> dict[str, Any]:
    return {"case_id": case_id, "kind": kind, "on": on, "at": at, "detail": detail}
