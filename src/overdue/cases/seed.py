"""The demo's store: teams, queues, one user per role with known passwords, cases from the book.

``seed_demo(engine, book_dir, snapshot_dir, as_of)`` migrates the database, creates what is
missing (a rerun changes nothing it already made), syncs the cases of ``as_of`` and assigns them
to the two collectors (one agency placement for the agency user). Returns
{role: (username, password)}, plus "collector2" for the second collector.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from pathlib import Path

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from overdue.cases.access import SYSTEM, Actor
from overdue.cases.assignment import auto_assign, place_with_agency
from overdue.cases.config import EntryRule, QueueSpec
from overdue.cases.queues import DEFAULT_QUEUES, ensure_queues
from overdue.cases.sync import SyncResult, sync_cases
from overdue.cases.users_admin import create_user, ensure_agency, ensure_team
from overdue.store import migrate
from overdue.store.tables import Case, User

# username, role, display name, team key, languages, buckets
DEMO_USERS = (
    ("admin", "admin", "系统管理员 Admin", None, (), ()),
    ("manager", "manager", "逾期负责人 Head of overdue", "collection", (), ()),
    ("analyst", "analyst", "风险分析师 Analyst", "risk", (), ()),
    ("collector1", "collector", "催收员一 Collector 1", "collection", ("zh-CN",), ()),
    ("collector2", "collector", "催收员二 Collector 2", "collection", ("zh-CN", "en"), ()),
    ("agency1", "agency", "合作机构 Agency user", "agency", (), ()),
    ("service1", "customer_service", "客服 Customer service", "customer_service", (), ()),
    ("auditor", "auditor", "审计 Auditor", None, (), ()),
)
DEMO_PLACEMENTS = 5


def demo_password(username: str) -> str:
    return f"{username}-demo-2024"


def _teams(session: Session) -> dict[str, int]:
    return {
        "collection": ensure_team(session, "催收一组 Collections", "collection"),
        "customer_service": ensure_team(session, "客服 Customer service", "customer_service"),
        "risk": ensure_team(session, "风险 Risk", "risk"),
        "legal": ensure_team(session, "法务 Legal", "legal"),
        "agency": ensure_team(session, "外包机构 Agencies", "agency"),
    }


def _users(session: Session, teams: dict[str, int], agency_id: int, at: datetime | None) -> None:
    known = set(session.scalars(select(User.username)))
    for username, role, display, team, languages, buckets in DEMO_USERS:
        if username in known:
            continue
        create_user(
            session,
            SYSTEM,
            username=username,
            password=demo_password(username),
            role=role,
            display_name=display,
            team_id=teams[team] if team else None,
            agency_id=agency_id if role == "agency" else None,
            languages=languages,
            buckets=buckets,
            max_open_cases=400,
            at=at,
        )


def _place_some(session: Session, agency_id: int, as_of: date, at: datetime | None) -> None:
    placed = session.scalar(select(Case.case_id).where(Case.agency_id == agency_id).limit(1))
    if placed is not None:
        return
    late = session.scalars(
        select(Case.case_id)
        .where(Case.status == "open", Case.assigned_user_id.is_(None))
        .order_by(Case.dpd.desc(), Case.case_id)
        .limit(DEMO_PLACEMENTS)
    ).all()
    for case_id in late:
        place_with_agency(session, SYSTEM, case_id, agency_id, as_of=as_of, at=at)


def seed_demo(
    engine: Engine,
    book_dir: Path,
    snapshot_dir: Path,
    as_of: date,
    *,
    rule: EntryRule | None = None,
    at: datetime | None = None,
) -> dict[str, tuple[str, str]]:
    """Seed the demo store (see the module doc); returns the logins."""
    migrate.upgrade(engine=engine)
    with Session(engine, expire_on_commit=False) as session, session.begin():
        teams = _teams(session)
        agency_id = ensure_agency(session, "AG01", "示例催收公司 Example Collections Ltd")
        _users(session, teams, agency_id, at)
        ensure_queues(session, DEFAULT_QUEUES, team_id=teams["collection"])
        sync_cases(session, snapshot_dir, as_of, rule or EntryRule(), book_dir=book_dir, at=at)
        _place_some(session, agency_id, as_of, at)
        collectors = session.scalars(
            select(User.id).where(User.role == "collector").order_by(User.id)
        ).all()
        auto_assign(session, SYSTEM, collector_ids=collectors, at=at)
    logins = {}
    for username, role, *_ in DEMO_USERS:
        key = "collector2" if username == "collector2" else role
        logins[key] = (username, demo_password(username))
    return logins


def sync_and_assign(
    engine: Engine,
    snapshot_dir: Path,
    as_of: date,
    rule: EntryRule,
    *,
    book_dir: Path | None = None,
    actor: Actor = SYSTEM,
    assign: bool = True,
    queues: Sequence[QueueSpec] = DEFAULT_QUEUES,
) -> SyncResult:
    """A daily run: create missing ``queues``, sync the cases of ``as_of`` and (``assign``)
    assign new ones to collectors."""
    with Session(engine, expire_on_commit=False) as session, session.begin():
        ensure_queues(session, queues)
        result = sync_cases(session, snapshot_dir, as_of, rule, book_dir=book_dir)
        if assign:
            auto_assign(session, actor)
    return result
