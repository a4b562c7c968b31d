"""Case status history (the ``case_events`` rows shown on the timeline)."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import insert
from sqlalchemy.orm import Session

from overdue.cases.clock import instant
from overdue.store.tables import CASE_EVENT_KINDS, CaseEvent

MAX_DETAIL_CHARS = 400


def case_event(
    session: Session,
    case_id: int,
    kind: str,
    on: date,
    detail: str | None = None,
    at: datetime | None = None,
) -> None:
    assert kind in CASE_EVENT_KINDS, kind
    session.execute(
        insert(CaseEvent).values(
            case_id=case_id,
            kind=kind,
            on=on,
            at=instant(at),
            detail=None if detail is None else detail[:MAX_DETAIL_CHARS],
        )
    )
