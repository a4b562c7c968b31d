"""Administration for the pages and the API: a thin layer over overdue.cases.users_admin (which
checks the role and writes the audit trail), adding team names and per-queue open-case counts
for display."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

import sqlalchemy as sa
from sqlalchemy.orm import Session

from overdue.cases import users_admin
from overdue.cases.access import Actor, Conflict, NotFound, require
from overdue.store.tables import Agency, Case, Team, User

Role = Literal["admin", "manager", "analyst", "collector", "agency", "customer_service", "auditor"]
EDITABLE = ("team_id", "capacity", "max_open_cases", "active")


@dataclass(frozen=True)
class QueueRow:
    id: int
    name: str
    bucket: str | None
    segment: str | None
    language: str | None
    team: str | None
    sla_days: int
    capacity: int
    open_cases: int


def users(session: Session, actor: Actor) -> list[dict[str, Any]]:
    """Every user (admin only here, although the service also lets managers list them)."""
    require(actor, "manage_users")
    names = {t.id: t.name for t in users_admin.list_teams(session)}
    return [
        {**row.__dict__, "id": row.user_id, "team": names.get(row.team_id) if row.team_id else None}
        for row in users_admin.list_users(session, actor)
    ]


def teams(session: Session, actor: Actor) -> list[dict[str, Any]]:
    require(actor, "manage_users")
    members = dict(
        session.execute(
            sa.select(User.team_id, sa.func.count())
            .where(User.active.is_(True))
            .group_by(User.team_id)
        ).all()
    )
    return [
        {"id": t.id, "name": t.name, "kind": t.kind, "members": int(members.get(t.id, 0))}
        for t in users_admin.list_teams(session)
    ]


def agencies(session: Session, actor: Actor) -> list[Agency]:
    require(actor, "manage_users")
    return list(session.scalars(sa.select(Agency).order_by(Agency.code)))


def queues(session: Session, actor: Actor) -> list[QueueRow]:
    require(actor, "manage_users")
    open_by_queue = dict(
        session.execute(
            sa.select(Case.queue, sa.func.count())
            .where(Case.status != "closed")
            .group_by(Case.queue)
        ).all()
    )
    names = {t.id: t.name for t in users_admin.list_teams(session)}
    return [
        QueueRow(
            q.id,
            q.name,
            q.bucket,
            q.segment,
            q.language,
            names.get(q.team_id) if q.team_id else None,
            q.sla_days,
            q.capacity,
            int(open_by_queue.get(q.name, 0)),
        )
        for q in users_admin.list_queues(session)
    ]


def create_user(session: Session, actor: Actor, *, at: datetime, **fields: Any) -> int:
    """Create a user through the case services, after checking its team and agency exist."""
    require(actor, "manage_users")
    team_id, agency_id = fields.get("team_id"), fields.get("agency_id")
    if team_id is not None and session.get(Team, team_id) is None:
        raise NotFound(f"team {team_id}: not found")
    if agency_id is not None and session.get(Agency, agency_id) is None:
        raise NotFound(f"agency {agency_id}: not found")
    return users_admin.create_user(session, actor, at=at, **fields)


def update_user(
    session: Session, actor: Actor, user_id: int, changes: dict[str, Any], *, at: datetime
) -> None:
    """Apply ``changes`` (keys of EDITABLE) through the case services; audited there."""
    unknown = set(changes) - set(EDITABLE)
    if unknown:
        raise ValueError(f"cannot change {', '.join(sorted(unknown))}")
    user = session.get(User, user_id)
    if user is None:
        raise NotFound(f"user {user_id}: not found")
    limits = {k: changes[k] for k in ("team_id", "capacity", "max_open_cases") if k in changes}
    users_admin.update_user(session, actor, user_id, **limits, at=at)
    if "active" in changes and changes["active"] != user.active:
        if user_id == actor.user_id and not changes["active"]:
            raise Conflict("you cannot deactivate yourself")
        users_admin.set_active(session, actor, user_id, bool(changes["active"]), at=at)


def update_queue(
    session: Session, actor: Actor, queue_id: int, *, capacity: int, sla_days: int, at: datetime
) -> None:
    users_admin.update_queue(session, actor, queue_id, capacity=capacity, sla_days=sla_days, at=at)
