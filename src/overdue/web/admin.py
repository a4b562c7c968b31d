"""Administration: users, teams, queues and capacities (admin only; every change audited).

The case services have no user-management functions yet, so these live here; they check the
``manage_users`` permission with overdue.cases.access.require and write the audit trail with
overdue.cases.audit.record, like the case services do.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from overdue.cases import audit
from overdue.cases.access import Actor, Conflict, NotFound, require
from overdue.cases.users import hash_password
from overdue.store.tables import Agency, Case, Queue, Team, User

Role = Literal["admin", "manager", "analyst", "collector", "agency", "customer_service", "auditor"]
MAX_USERS_SHOWN = 1000
EDITABLE = ("display_name", "team_id", "capacity", "max_open_cases", "active")


@dataclass(frozen=True)
class UserRow:
    id: int
    username: str
    display_name: str
    role: str
    team_id: int | None
    team: str | None
    agency_id: int | None
    language: str
    capacity: int
    max_open_cases: int
    open_cases: int
    active: bool


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


def users(session: Session, actor: Actor) -> list[UserRow]:
    require(actor, "manage_users")
    open_by_user = dict(
        session.execute(
            sa.select(Case.assigned_user_id, sa.func.count())
            .where(Case.status != "closed", Case.assigned_user_id.is_not(None))
            .group_by(Case.assigned_user_id)
        ).all()
    )
    rows = session.execute(
        sa.select(User, Team.name)
        .outerjoin(Team, Team.id == User.team_id)
        .order_by(User.id)
        .limit(MAX_USERS_SHOWN)
    ).all()
    return [
        UserRow(
            u.id, u.username, u.display_name, u.role, u.team_id, team, u.agency_id, u.language,
            u.capacity, u.max_open_cases, int(open_by_user.get(u.id, 0)), u.active,
        )
        for u, team in rows
    ]


def teams(session: Session, actor: Actor) -> list[dict[str, Any]]:
    require(actor, "manage_users")
    members = dict(
        session.execute(
            sa.select(User.team_id, sa.func.count()).where(User.active.is_(True)).group_by(User.team_id)
        ).all()
    )
    return [
        {"id": t.id, "name": t.name, "kind": t.kind, "members": int(members.get(t.id, 0))}
        for t in session.scalars(sa.select(Team).order_by(Team.name))
    ]


def agencies(session: Session, actor: Actor) -> list[Agency]:
    require(actor, "manage_users")
    return list(session.scalars(sa.select(Agency).order_by(Agency.code)))


def queues(session: Session, actor: Actor) -> list[QueueRow]:
    require(actor, "manage_users")
    open_by_queue = dict(
        session.execute(
            sa.select(Case.queue, sa.func.count()).where(Case.status != "closed").group_by(Case.queue)
        ).all()
    )
    rows = session.execute(
        sa.select(Queue, Team.name).outerjoin(Team, Team.id == Queue.team_id).order_by(Queue.name)
    ).all()
    return [
        QueueRow(
            q.id, q.name, q.bucket, q.segment, q.language, team, q.sla_days, q.capacity,
            int(open_by_queue.get(q.name, 0)),
        )
        for q, team in rows
    ]


def create_user(
    session: Session,
    actor: Actor,
    *,
    username: str,
    display_name: str,
    role: str,
    password: str,
    team_id: int | None,
    agency_id: int | None,
    language: str,
    capacity: int,
    max_open_cases: int,
    at: datetime,
) -> int:
    require(actor, "manage_users")
    if role == "agency" and agency_id is None:
        raise ValueError("agency_id: an agency user must belong to an agency")
    _check_refs(session, team_id, agency_id)
    if session.scalar(sa.select(User.id).where(User.username == username)) is not None:
        raise Conflict(f"username {username!r} is taken")
    user = User(
        username=username,
        display_name=display_name,
        role=role,
        team_id=team_id,
        agency_id=agency_id,
        language=language,
        password_hash=hash_password(password),
        skills={},
        capacity=capacity,
        max_open_cases=max_open_cases,
        active=True,
        created_at=at,
    )
    session.add(user)
    try:
        session.flush()
    except IntegrityError:
        raise Conflict(f"username {username!r} is taken") from None
    audit.record(
        session, actor, "create_user", "user", user.id, details={"role": role}, at=at
    )
    return user.id


def _check_refs(session: Session, team_id: int | None, agency_id: int | None) -> None:
    if team_id is not None and session.get(Team, team_id) is None:
        raise NotFound(f"team {team_id}: not found")
    if agency_id is not None and session.get(Agency, agency_id) is None:
        raise NotFound(f"agency {agency_id}: not found")


def update_user(
    session: Session, actor: Actor, user_id: int, changes: dict[str, Any], *, at: datetime
) -> None:
    require(actor, "manage_users")
    unknown = set(changes) - set(EDITABLE)
    if unknown:
        raise ValueError(f"cannot change {', '.join(sorted(unknown))}")
    user = session.get(User, user_id)
    if user is None:
        raise NotFound(f"user {user_id}: not found")
    _check_refs(session, changes.get("team_id"), None)
    if user_id == actor.user_id and changes.get("active") is False:
        raise Conflict("you cannot deactivate yourself")
    before = {k: getattr(user, k) for k in changes}
    for key, value in changes.items():
        setattr(user, key, value)
    session.flush()
    audit.record(
        session,
        actor,
        "update_user",
        "user",
        user_id,
        details={"before": before, "after": changes},
        at=at,
    )


def update_queue(
    session: Session, actor: Actor, queue_id: int, *, capacity: int, sla_days: int, at: datetime
) -> None:
    require(actor, "manage_users")
    if not 0 <= capacity <= 10_000_000 or not 0 <= sla_days <= 365:
        raise ValueError("capacity must be 0..10000000 and sla_days 0..365")
    queue = session.get(Queue, queue_id)
    if queue is None:
        raise NotFound(f"queue {queue_id}: not found")
    before = {"capacity": queue.capacity, "sla_days": queue.sla_days}
    queue.capacity, queue.sla_days = capacity, sla_days
    session.flush()
    audit.record(
        session,
        actor,
        "update_queue",
        "queue",
        queue_id,
        details={"before": before, "after": {"capacity": capacity, "sla_days": sla_days}},
        at=at,
    )
