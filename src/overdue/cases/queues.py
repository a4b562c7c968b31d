"""Queues: which queue a case belongs to (by bucket, segment and language) and queue setup."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from overdue.cases.config import QueueSpec
from overdue.store.tables import Case, Queue


@dataclass(frozen=True)
class QueueRule:
    name: str
    bucket: str | None
    segment: str | None
    language: str | None

    def matches(self, bucket: str, segment: str | None, language: str) -> bool:
        return (
            (self.bucket is None or self.bucket == bucket)
            and (self.segment is None or self.segment == segment)
            and (self.language is None or self.language == language)
        )

    def specificity(self) -> int:
        return sum(v is not None for v in (self.bucket, self.segment, self.language))


class QueueRouter:
    """The most specific matching queue with room wins (ties: alphabetical name); None when none
    match. A queue's ``capacity`` is the number of open cases it may hold: a case that would go
    over it overflows to the next matching queue with room; when every matching queue is full it
    goes to the most specific one and is counted in ``overflowed`` (reported by the sync). A case
    already in a matching queue keeps its place unless a more specific queue has room."""

    def __init__(
        self,
        rules: Iterable[QueueRule],
        capacity: Mapping[str, int] | None = None,
        held: Mapping[str, int] | None = None,
    ) -> None:
        self._rules = sorted(rules, key=lambda r: (-r.specificity(), r.name))
        self._memo: dict[tuple[str, str | None, str], tuple[str, ...]] = {}
        self._capacity = dict(capacity or {})
        self._held = dict(held or {})
        self.overflowed: dict[str, int] = {}

    def matching(self, bucket: str, segment: str | None, language: str) -> tuple[str, ...]:
        key = (bucket, segment, language)
        if key not in self._memo:
            self._memo[key] = tuple(
                r.name for r in self._rules if r.matches(bucket, segment, language)
            )
        return self._memo[key]

    def held(self, queue: str) -> int:
        return self._held.get(queue, 0)

    def route(
        self, bucket: str, segment: str | None, language: str, current: str | None = None
    ) -> str | None:
        names = self.matching(bucket, segment, language)
        for name in names:
            if name == current:
                return current
            if self._has_room(name):
                self._move(current, name)
                return name
        if not names:
            self._move(current, None)
            return None
        self.overflowed[names[0]] = self.overflowed.get(names[0], 0) + 1
        self._move(current, names[0])
        return names[0]

    def leave(self, queue: str | None) -> None:
        """A case left ``queue`` (closed): its place is free."""
        self._move(queue, None)

    def _has_room(self, name: str) -> bool:
        limit = self._capacity.get(name)
        return limit is None or self._held.get(name, 0) < limit

    def _move(self, old: str | None, new: str | None) -> None:
        if old is not None and self._held.get(old, 0) > 0:
            self._held[old] -= 1
        if new is not None:
            self._held[new] = self._held.get(new, 0) + 1

    @staticmethod
    def load(session: Session) -> QueueRouter:
        """The queues, their capacities and the open cases each holds now."""
        queues = list(session.scalars(select(Queue)))
        held = session.execute(
            select(Case.queue, func.count())
            .where(Case.status != "closed", Case.queue.is_not(None))
            .group_by(Case.queue)
        )
        return QueueRouter(
            (QueueRule(q.name, q.bucket, q.segment, q.language) for q in queues),
            capacity={q.name: q.capacity for q in queues},
            held={str(name): int(n) for name, n in held},
        )


def ensure_queues(session: Session, specs: Sequence[QueueSpec], team_id: int | None = None) -> int:
    """Create the queues of ``specs`` that do not exist yet; returns how many were created."""
    known = set(session.scalars(select(Queue.name)))
    created = 0
    for spec in specs:
        if spec.name in known:
            continue
        session.add(
            Queue(
                name=spec.name,
                bucket=spec.bucket,
                segment=spec.segment,
                language=spec.language,
                sla_days=spec.sla_days,
                capacity=spec.capacity,
                team_id=team_id,
            )
        )
        created += 1
    session.flush()
    return created


DEFAULT_QUEUES = (
    QueueSpec(name="early-zh", bucket="M1", language="zh-CN", sla_days=2),
    QueueSpec(name="early-en", bucket="M1", language="en", sla_days=2),
    QueueSpec(name="mid-M2", bucket="M2", sla_days=3),
    QueueSpec(name="mid-M3", bucket="M3", sla_days=3),
    QueueSpec(name="late", sla_days=5),
)
