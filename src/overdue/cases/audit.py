"""The audit trail: one append-only row per change and per view of unmasked personal data."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from overdue.cases.access import Actor, require
from overdue.cases.clock import instant
from overdue.store.tables import AuditEntry

MAX_REASON_CHARS = 2000
MAX_AUDIT_PAGE = 500


def record(
    session: Session,
    actor: Actor,
    action: str,
    entity: str,
    entity_id: object | None = None,
    *,
    reason: str | None = None,
    details: dict[str, Any] | None = None,
    at: datetime | None = None,
) -> None:
    """Append one audit row (who, when, what, on which record, why)."""
    if reason is not None and len(reason) > MAX_REASON_CHARS:
        raise ValueError(f"reason: longer than {MAX_REASON_CHARS} characters")
    session.execute(
        insert(AuditEntry).values(
            at=instant(at),
            actor_user_id=actor.user_id or None,
            actor_role=actor.role,
            action=action,
            entity=entity,
            entity_id=None if entity_id is None else str(entity_id),
            reason=reason,
            details=details or {},
        )
    )


def entries(
    session: Session,
    actor: Actor,
    *,
    entity: str | None = None,
    entity_id: object | None = None,
    limit: int = 100,
) -> list[AuditEntry]:
    """The newest audit rows (admin, manager and auditor only), optionally for one record."""
    if actor.role not in {"admin", "manager", "auditor"}:
        require(actor, "manage_users")  # raises NotAllowed with a clear message
    query = select(AuditEntry).order_by(AuditEntry.id.desc()).limit(min(limit, MAX_AUDIT_PAGE))
    if entity is not None:
        query = query.where(AuditEntry.entity == entity)
    if entity_id is not None:
        query = query.where(AuditEntry.entity_id == str(entity_id))
    return list(session.scalars(query))
