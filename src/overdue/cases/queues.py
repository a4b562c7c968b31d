"""Queues: which queue a case belongs to (by bucket, segment and language) and queue setup."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from overdue.cases.config import QueueSpec
from overdue.store.tables import Queue


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
    """The most specific matching queue wins (ties: alphabetical name); None when none match."""

    def __init__(self, rules: Iterable[QueueRule]) -> None:
        self._rules = sorted(rules, key=lambda r: (-r.specificity(), r.name))
        self._memo: dict[tuple[str, str | None, str], str | None] = {}

    def route(self, bucket: str, segment: str | None, language: str) -> str | None:
        key = (bucket, segment, language)
        if key not in self._memo:
            self._memo[key] = next(
                (r.name for r in self._rules if r.matches(bucket, segment, language)), None
            )
        return self._memo[key]

    @staticmethod
    def load(session: Session) -> QueueRouter:
        rows = session.scalars(select(Queue))
        return QueueRouter(QueueRule(q.name, q.bucket, q.segment, q.language) for q in rows)


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
