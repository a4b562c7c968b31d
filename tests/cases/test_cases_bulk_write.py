"""Batched writes (COPY on PostgreSQL): awkward text survives, updates by key land."""

from __future__ import annotations

from cases_world import AT, World
from sqlalchemy import select
from sqlalchemy.orm import Session

from overdue.cases.bulk_write import insert_rows, update_rows
from overdue.store.tables import Case, Note


def test_text_with_tabs_newlines_and_backslashes(session: Session, world: World) -> None:
    body = "tab\there\nnew line \\N back\\slash 'quote' \"dq\" 中文"
    insert_rows(
        session,
        Note,
        [{"case_id": world.cases[0], "user_id": None, "created_at": AT, "body": body}],
    )
    stored = session.scalars(select(Note.body).where(Note.case_id == world.cases[0])).all()
    assert stored == [body]


def test_update_rows_by_key(session: Session, world: World) -> None:
    loaded = session.get(Case, world.cases[0])
    assert loaded is not None and loaded.dpd == 10
    update_rows(
        session,
        Case,
        "case_id",
        [
            {"case_id": world.cases[0], "dpd": 11, "queue": None},
            {"case_id": world.cases[1], "dpd": 41, "queue": "late"},
        ],
    )
    rows = session.execute(
        select(Case.case_id, Case.dpd, Case.queue).where(Case.case_id.in_(world.cases[:2]))
    ).all()
    assert sorted(rows) == [(world.cases[0], 11, None), (world.cases[1], 41, "late")]
    session.refresh(loaded)
    assert loaded.dpd == 11
