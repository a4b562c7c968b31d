"""Teams, agencies and users (admin pages and the demo seed call these)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from overdue.cases import audit
from overdue.cases.access import Actor, Conflict, NotAllowed, NotFound, require
from overdue.cases.clock import instant
from overdue.cases.users import hash_password
from overdue.store.tables import LANGUAGES, ROLES, TEAM_KINDS, Agency, Case, Queue, Team, User

MAX_OPEN_CASES_LIMIT = 100_000


def ensure_team(session: Session, name: str, kind: str) -> int:
    if kind not in TEAM_KINDS:
        raise ValueError(f"kind: {kind!r} is not one of {', '.join(TEAM_KINDS)}")
    found = session.scalar(select(Team.id).where(Team.name == name))
    if found is not None:
        return found
    team = Team(name=name, kind=kind)
    session.add(team)
    session.flush()
    return team.id


def ensure_agency(
    session: Session, code: str, name: str, daily_contact_allowance: int = 1000
) -> int:
    found = session.scalar(select(Agency.id).where(Agency.code == code))
    if found is not None:
        return found
    agency = Agency(code=code, name=name, daily_contact_allowance=daily_contact_allowance)
    session.add(agency)
    session.flush()
    return agency.id


def create_user(
    session: Session,
    actor: Actor,
    *,
    username: str,
    password: str,
    role: str,
    display_name: str | None = None,
    team_id: int | None = None,
    agency_id: int | None = None,
    language: str = "zh-CN",
    languages: Sequence[str] = (),
    buckets: Sequence[str] = (),
    capacity: int = 80,
    max_open_cases: int = 500,
    at: datetime | None = None,
) -> int:
    """Create a user (admin only; audited, without the password). Returns the user id."""
    require(actor, "manage_users")
    name = username.strip()
    if not name or len(name) > 80:
        raise ValueError("username: 1 to 80 characters")
    if role not in ROLES:
        raise ValueError(f"role: {role!r} is not one of {', '.join(ROLES)}")
    if language not in LANGUAGES:
        raise ValueError(f"language: {language!r} is not one of {', '.join(LANGUAGES)}")
    if role == "agency" and agency_id is None:
        raise ValueError("agency_id: an agency user needs an agency")
    if not 0 <= max_open_cases <= MAX_OPEN_CASES_LIMIT:
        raise ValueError(f"max_open_cases: must be between 0 and {MAX_OPEN_CASES_LIMIT}")
    if session.scalar(select(User.id).where(User.username == name)) is not None:
        raise Conflict(f"username {name!r} is taken")
    when = instant(at)
    user = User(
        username=name,
        display_name=display_name or name,
        role=role,
        team_id=team_id,
        agency_id=agency_id,
        language=language,
        password_hash=hash_password(password),
        skills={"languages": list(languages), "buckets": list(buckets)},
        capacity=capacity,
        max_open_cases=max_open_cases,
        active=True,
        created_at=when,
    )
    session.add(user)
    session.flush()
    audit.record(
        session,
        actor,
        "create_user",
        "user",
        user.id,
        details={"username": name, "role": role, "team_id": team_id, "agency_id": agency_id},
        at=when,
    )
    return user.id


def set_active(
    session: Session, actor: Actor, user_id: int, active: bool, *, at: datetime | None = None
) -> None:
    require(actor, "manage_users")
    user = session.get(User, user_id)
    if user is None:
        raise Conflict(f"user {user_id}: not found")
    user.active = active
    audit.record(session, actor, "set_active", "user", user_id, details={"active": active}, at=at)


@dataclass(frozen=True)
class UserRow:
    user_id: int
    username: str
    display_name: str
    role: str
    team_id: int | None
    agency_id: int | None
    language: str
    skills: dict[str, Any]
    capacity: int
    max_open_cases: int
    open_cases: int
    active: bool


MAX_USERS_LISTED = 1000


def list_users(session: Session, actor: Actor) -> list[UserRow]:
    """Every user with their open case count (admin and manager)."""
    if actor.role not in {"admin", "manager"}:
        raise NotAllowed(f"role {actor.role} may not list users")
    counts = {
        user_id: int(n)
        for user_id, n in session.execute(
            select(Case.assigned_user_id, func.count())
            .where(Case.status != "closed", Case.assigned_user_id.is_not(None))
            .group_by(Case.assigned_user_id)
        )
    }
    users = session.scalars(select(User).order_by(User.username).limit(MAX_USERS_LISTED))
    return [
        UserRow(
            u.id,
            u.username,
            u.display_name,
            u.role,
            u.team_id,
            u.agency_id,
            u.language,
            dict(u.skills),
            u.capacity,
            u.max_open_cases,
            counts.get(u.id, 0),
            u.active,
        )
        for u in users
    ]


def update_user(
    session: Session,
    actor: Actor,
    user_id: int,
    *,
    team_id: int | None = None,
    languages: Sequence[str] | None = None,
    buckets: Sequence[str] | None = None,
    capacity: int | None = None,
    max_open_cases: int | None = None,
    at: datetime | None = None,
) -> None:
    """Change a user's team, skills or limits (admin; audited with the new values)."""
    require(actor, "manage_users")
    user = session.get(User, user_id)
    if user is None:
        raise NotFound(f"user {user_id}: not found")
    changes: dict[str, Any] = {}
    if team_id is not None:
        if session.get(Team, team_id) is None:
            raise NotFound(f"team {team_id}: not found")
        user.team_id = changes["team_id"] = team_id
    if languages is not None or buckets is not None:
        skills = dict(user.skills)
        if languages is not None:
            bad = [lang for lang in languages if lang not in LANGUAGES]
            if bad:
                raise ValueError(f"languages: {bad} not in {', '.join(LANGUAGES)}")
            skills["languages"] = list(languages)
        if buckets is not None:
            skills["buckets"] = list(buckets)
        user.skills = changes["skills"] = skills
    if capacity is not None:
        if not 0 <= capacity <= 10_000:
            raise ValueError("capacity: must be between 0 and 10000 contacts a day")
        user.capacity = changes["capacity"] = capacity
    if max_open_cases is not None:
        if not 0 <= max_open_cases <= MAX_OPEN_CASES_LIMIT:
            raise ValueError(f"max_open_cases: must be between 0 and {MAX_OPEN_CASES_LIMIT}")
        user.max_open_cases = changes["max_open_cases"] = max_open_cases
    audit.record(session, actor, "update_user", "user", user_id, details=changes, at=at)


def list_teams(session: Session) -> list[Team]:
    return list(session.scalars(select(Team).order_by(Team.name)))


def list_queues(session: Session) -> list[Queue]:
    return list(session.scalars(select(Queue).order_by(Queue.name)))


def update_queue(
    session: Session,
    actor: Actor,
    queue_id: int,
    *,
    sla_days: int | None = None,
    capacity: int | None = None,
    team_id: int | None = None,
    at: datetime | None = None,
) -> None:
    """Change a queue's SLA days, capacity or team (admin and manager; audited)."""
    require(actor, "assign")
    queue = session.get(Queue, queue_id)
    if queue is None:
        raise NotFound(f"queue {queue_id}: not found")
    changes: dict[str, Any] = {}
    if sla_days is not None:
        if not 0 <= sla_days <= 365:
            raise ValueError("sla_days: must be between 0 and 365")
        queue.sla_days = changes["sla_days"] = sla_days
    if capacity is not None:
        if not 0 <= capacity <= 100_000_000:
            raise ValueError("capacity: must be between 0 and 100000000")
        queue.capacity = changes["capacity"] = capacity
    if team_id is not None:
        if session.get(Team, team_id) is None:
            raise NotFound(f"team {team_id}: not found")
        queue.team_id = changes["team_id"] = team_id
    audit.record(session, actor, "update_queue", "queue", queue_id, details=changes, at=at)
