"""Teams, agencies and users (admin pages and the demo seed call these)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from overdue.cases import audit
from overdue.cases.access import Actor, Conflict, require
from overdue.cases.clock import instant
from overdue.cases.users import hash_password
from overdue.store.tables import LANGUAGES, ROLES, TEAM_KINDS, Agency, Team, User

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
