"""Queue capacity: a queue holds at most ``capacity`` open cases. New cases overflow to the next
matching queue with room; when every matching queue is full they go to the most specific one and
the sync reports it; a case keeps its place in its queue; closing a case frees its place."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from cases_world import World
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session
from test_cases_sync import RULE, _row, _write

from overdue.cases.queues import QueueRouter, QueueRule
from overdue.cases.sync import sync_cases
from overdue.store.tables import Case, Queue

DAY1 = date(2024, 8, 1)
DAY2 = date(2024, 8, 2)


def _held(session: Session, queue: str) -> int:
    return int(
        session.scalar(select(func.count()).where(Case.queue == queue, Case.status != "closed"))
        or 0
    )


def _set_capacity(session: Session, queue: str, capacity: int) -> None:
    session.execute(update(Queue).where(Queue.name == queue).values(capacity=capacity))


def test_full_queue_overflows_then_reports(session: Session, world: World, tmp_path: Path) -> None:
    assert world.agency_id  # the world's queues exist
    _set_capacity(session, "early-zh", _held(session, "early-zh") + 1)
    _write(tmp_path, DAY1, [_row(f"Q{i}", "overdue", 5, "M1", 5_000) for i in range(3)])
    first = sync_cases(session, tmp_path, DAY1, RULE)
    queues = sorted(session.scalars(select(Case.queue).where(Case.account_id.like("Q%"))).all())
    assert queues == ["early-zh", "late", "late"]  # one place left; the rest to the broader queue
    assert first.over_capacity == {}

    _set_capacity(session, "late", _held(session, "late"))
    rows = [_row(f"Q{i}", "overdue", 6, "M1", 5_000) for i in range(3)]
    _write(tmp_path, DAY2, [*rows, _row("Q9", "overdue", 5, "M1", 5_000)])
    second = sync_cases(session, tmp_path, DAY2, RULE)
    assert second.over_capacity == {"early-zh": 1}  # every matching queue full
    assert "over capacity" in second.summary()
    kept = sorted(
        session.scalars(select(Case.queue).where(Case.account_id.in_(["Q0", "Q1", "Q2"]))).all()
    )
    assert kept == ["early-zh", "late", "late"]  # open cases keep their places


RULES = [
    QueueRule("a", "M1", None, "zh-CN"),
    QueueRule("b", "M1", None, None),
    QueueRule("c", None, None, None),
]


@settings(max_examples=200, deadline=None)
@given(
    capacity=st.fixed_dictionaries({n: st.integers(0, 4) for n in "abc"}),
    steps=st.lists(
        st.tuples(st.sampled_from(["M1", "M2"]), st.sampled_from(["zh-CN", "en"]), st.booleans()),
        max_size=40,
    ),
)
def test_router_never_fills_a_queue_beyond_capacity_without_counting_it(
    capacity: dict[str, int], steps: list[tuple[str, str, bool]]
) -> None:
    router = QueueRouter(RULES, capacity=capacity)
    placed: list[str] = []
    for bucket, language, close_one in steps:
        if close_one and placed:
            router.leave(placed.pop(0))
        queue = router.route(bucket, None, language)
        assert queue is not None  # "c" matches everything
        assert queue in router.matching(bucket, None, language)
        placed.append(queue)
    for name in "abc":
        held = placed.count(name)
        assert router.held(name) == held
        assert held <= capacity[name] + router.overflowed.get(name, 0)
