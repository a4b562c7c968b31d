"""Quality checks on contacts: a reproducible random sample of recorded contacts, each scored
against a checklist; violations (failed critical items) per collector and per agency."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from overdue.cases import audit
from overdue.cases.access import Actor, Conflict, NotFound, require
from overdue.cases.clock import instant
from overdue.store.tables import ContactAttempt, QualityReview

CHECKLIST = (
    "identified_self",
    "verified_right_party",
    "stated_purpose",
    "no_threats",
    "no_third_party_disclosure",
    "polite_language",
    "offered_options",
    "recorded_outcome_correctly",
)
CRITICAL = frozenset({"verified_right_party", "no_threats", "no_third_party_disclosure"})
MAX_POOL = 200_000
MAX_SAMPLE = 5_000


def sample_contacts(session: Session, start: date, end: date, size: int, seed: int) -> list[int]:
    """``size`` contact ids drawn without replacement (seeded) from the contacts with a
    recording from ``start`` to ``end`` (UTC days) that were not reviewed yet."""
    if not 0 < size <= MAX_SAMPLE:
        raise ValueError(f"size: {size} must be between 1 and {MAX_SAMPLE}")
    first = datetime.combine(start, time(), UTC)
    after = datetime.combine(end + timedelta(days=1), time(), UTC)
    reviewed = select(QualityReview.contact_attempt_id)
    pool = session.scalars(
        select(ContactAttempt.id)
        .where(
            ContactAttempt.recording_ref.is_not(None),
            ContactAttempt.attempted_at >= first,
            ContactAttempt.attempted_at < after,
            ContactAttempt.id.not_in(reviewed),
        )
        .order_by(ContactAttempt.id)
        .limit(MAX_POOL)
    ).all()
    return sorted(random.Random(seed).sample(list(pool), min(size, len(pool))))


def score(checklist: dict[str, bool]) -> tuple[int, list[str]]:
    """(score 0..100 = share of items passed, failed critical items)."""
    unknown = set(checklist) - set(CHECKLIST)
    missing = set(CHECKLIST) - set(checklist)
    if unknown or missing:
        raise ValueError(
            f"checklist: unknown {sorted(unknown)}, missing {sorted(missing)}; items: "
            + ", ".join(CHECKLIST)
        )
    passed = sum(1 for item in CHECKLIST if checklist[item])
    violations = [item for item in CHECKLIST if item in CRITICAL and not checklist[item]]
    return round(100 * passed / len(CHECKLIST)), violations


def review_contact(
    session: Session,
    actor: Actor,
    contact_attempt_id: int,
    checklist: dict[str, bool],
    *,
    at: datetime | None = None,
) -> int:
    """Score one recorded contact; returns the review id."""
    require(actor, "quality_review")
    contact = session.get(ContactAttempt, contact_attempt_id)
    if contact is None:
        raise NotFound(f"contact {contact_attempt_id}: not found")
    if contact.recording_ref is None:
        raise Conflict(f"contact {contact_attempt_id}: no recording to review")
    points, violations = score(checklist)
    when = instant(at)
    review = QualityReview(
        contact_attempt_id=contact_attempt_id,
        reviewer_user_id=actor.user_id,
        reviewed_at=when,
        collector_user_id=contact.user_id,
        agency_id=contact.agency_id,
        checklist_scores={k: bool(v) for k, v in checklist.items()},
        violations=violations,
        score=points,
    )
    session.add(review)
    session.flush()
    audit.record(
        session,
        actor,
        "quality_review",
        "contact",
        contact_attempt_id,
        details={"review_id": review.id, "score": points, "violations": violations},
        at=when,
    )
    return review.id


@dataclass(frozen=True)
class QualitySummary:
    who: str  # "user:<id>" or "agency:<id>"
    reviews: int
    average_score: int
    violations: int


def quality_by_collector_and_agency(session: Session) -> list[QualitySummary]:
    out: list[QualitySummary] = []
    for column, label in (
        (QualityReview.collector_user_id, "user"),
        (QualityReview.agency_id, "agency"),
    ):
        rows = session.execute(
            select(column, func.count(), func.avg(QualityReview.score))
            .where(column.is_not(None))
            .group_by(column)
            .order_by(column)
        ).all()
        violations: dict[int, int] = {}
        for key, items in session.execute(
            select(column, QualityReview.violations).where(column.is_not(None))
        ):
            violations[key] = violations.get(key, 0) + len(items or [])
        out += [
            QualitySummary(f"{label}:{key}", count, round(float(avg or 0)), violations.get(key, 0))
            for key, count, avg in rows
        ]
    return out
