"""Cases from snapshots: opened by the entry rule, updated daily, closed when cured, settled or
placed after charge-off; a rerun of the same day changes nothing more."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from cases_world import World
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from overdue.cases.assignment import place_with_agency
from overdue.cases.config import EntryRule
from overdue.cases.sync import SNAPSHOT_COLUMNS, sync_cases
from overdue.errors import BadInput
from overdue.store.tables import Case, CaseEvent, Customer

DAY1 = date(2024, 7, 1)
DAY2 = date(2024, 7, 2)
RULE = EntryRule(min_bucket="M1", min_dpd=1, min_overdue_fen=100)


def _row(account: str, status: str, dpd: int, bucket: str, overdue: int) -> dict[str, Any]:
    return {
        "account_id": account,
        "customer_id": "S" + account,
        "product": "revolving",
        "policy": "huabei-like",
        "status": status,
        "dpd": dpd,
        "bucket_cn": bucket,
        "overdue_principal_fen": overdue,
        "overdue_interest_fen": 0,
        "overdue_fee_fen": 0,
        "penalty_outstanding_fen": 0,
        "total_overdue_fen": overdue,
        "charged_off_on": date(2024, 7, 2) if status == "charged_off" else None,
    }


def _write(root: Path, as_of: date, rows: list[dict[str, Any]]) -> None:
    folder = root / f"as_of={as_of.isoformat()}" / "accounts"
    folder.mkdir(parents=True)
    table = pa.Table.from_pylist(rows)
    assert table.column_names == SNAPSHOT_COLUMNS
    pq.write_table(table, folder / "part-0.parquet")


def _case(session: Session, account: str) -> Case:
    case = session.scalar(
        select(Case).where(Case.account_id == account).order_by(Case.case_id.desc())
    )
    assert case is not None
    return case


def test_open_update_close(session: Session, world: World, tmp_path: Path) -> None:
    _write(
        tmp_path,
        DAY1,
        [
            _row("X1", "overdue", 10, "M1", 5_000),
            _row("X2", "current", 0, "M0", 0),
            _row("X3", "overdue", 5, "M1", 50),  # below min_overdue_fen
            _row("X4", "overdue", 170, "M6", 90_000),
            _row("X5", "overdue", 29, "M1", 7_000),
            _row("X6", "overdue", 3, "M1", 1_000),
        ],
    )
    first = sync_cases(session, tmp_path, DAY1, RULE)
    assert (first.opened, first.updated, first.closed) == (4, 0, {})
    assert session.get(Customer, "SX1") is not None  # customers created (synthetic)
    place_with_agency(
        session, world.actor("manager"), _case(session, "X4").case_id, world.agency_id, as_of=DAY1
    )

    _write(
        tmp_path,
        DAY2,
        [
            _row("X1", "current", 0, "M0", 0),  # cured
            _row("X3", "overdue", 35, "M2", 6_000),  # now meets the rule
            _row("X4", "charged_off", 171, "M6", 90_000),  # placed → closed
            _row("X5", "overdue", 31, "M2", 7_100),  # bucket change
            _row("X6", "settled", 0, "M0", 0),  # settled
        ],
    )
    second = sync_cases(session, tmp_path, DAY2, RULE)
    assert second.opened == 1
    assert second.closed == {"cured": 1, "charged_off_placed": 1, "settled": 1}
    assert second.updated == 1
    assert (_case(session, "X1").status, _case(session, "X1").close_reason) == ("closed", "cured")
    assert _case(session, "X4").close_reason == "charged_off_placed"
    moved = _case(session, "X5")
    assert (moved.bucket_cn, moved.dpd, moved.overdue_fen, moved.queue) == (
        "M2",
        31,
        7_100,
        "mid-M2",
    )
    events = session.scalars(select(CaseEvent.kind).where(CaseEvent.case_id == moved.case_id)).all()
    assert events == ["bucket_changed"]

    again = sync_cases(session, tmp_path, DAY2, RULE)
    assert (again.opened, again.closed, again.updated) == (0, {}, 2)
    open_count = session.scalar(
        select(func.count())
        .select_from(Case)
        .where(Case.account_id.like("X%"), Case.status != "closed")
    )
    assert open_count == 2


def test_missing_snapshot_is_a_clear_error(session: Session, tmp_path: Path) -> None:
    with pytest.raises(BadInput, match=r"as_of=2024-07-01.*no snapshot"):
        sync_cases(session, tmp_path, DAY1, RULE)


def test_scores_set_priority(session: Session, world: World, tmp_path: Path) -> None:
    _write(
        tmp_path,
        DAY1,
        [_row("Y1", "overdue", 10, "M1", 10_000), _row("Y2", "overdue", 10, "M1", 10_000)],
    )
    scores = tmp_path / f"as_of={DAY1.isoformat()}" / "scores"
    scores.mkdir()
    pq.write_table(
        pa.table(
            {
                "account_id": ["Y1"],
                "model": ["collection"],
                "model_version": ["v1"],
                "score": [0.25],
                "score_as_of": pa.array([DAY1], pa.date32()),
            }
        ),
        scores / "part-0.parquet",
    )
    sync_cases(session, tmp_path, DAY1, RULE)
    assert (_case(session, "Y1").priority_score, _case(session, "Y1").score) == (2_500, 0.25)
    assert _case(session, "Y2").priority_score == 10_000
    assert DAY1 + timedelta(days=0) == _case(session, "Y1").opened_on
