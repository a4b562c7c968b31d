"""A small collection operation for the case tests: teams, an agency, one user per role and a
few cases with customers and accounts."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from functools import lru_cache

from sqlalchemy.orm import Session

from overdue.cases.access import Actor, actor_for_user
from overdue.cases.queues import DEFAULT_QUEUES, ensure_queues
from overdue.cases.users import hash_password
from overdue.cases.users_admin import ensure_agency, ensure_team
from overdue.store.tables import Account, Case, Customer, User

AS_OF = date(2024, 6, 30)
AT = datetime(2024, 6, 30, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai


@lru_cache(maxsize=1)
def _password_hash() -> str:
    return hash_password("test-password")


@dataclass
class World:
    teams: dict[str, int]
    agency_id: int
    actors: dict[str, Actor]
    cases: list[int] = field(default_factory=list)

    def actor(self, name: str) -> Actor:
        return self.actors[name]


def add_case(
    session: Session,
    n: int,
    *,
    assigned: int | None = None,
    agency_id: int | None = None,
    language: str = "zh-CN",
    bucket: str = "M1",
    dpd: int = 10,
    overdue_fen: int = 100_000,
    priority: int | None = None,
    queue: str | None = "early-zh",
) -> int:
    customer_id, account_id = f"TC{n:05d}", f"TA{n:05d}"
    session.add(
        Customer(
            customer_id=customer_id,
            name=f"客户{n}",
            phone=f"138{n:08d}",
            email=f"c{n}@example.invalid",
            address="浙江省杭州市西湖区文三路100号",
            id_number=f"99{n:016d}",
            language=language,
            time_zone="Asia/Shanghai",
            synthetic=True,
        )
    )
    session.flush()
    session.add(
        Account(
            account_id=account_id,
            customer_id=customer_id,
            product="installment",
            policy="jiebei-like",
            status="overdue",
            dpd=dpd,
            bucket_cn=bucket,
            total_overdue_fen=overdue_fen,
            snapshot_as_of=AS_OF,
        )
    )
    session.flush()
    case = Case(
        account_id=account_id,
        customer_id=customer_id,
        status="open",
        opened_on=AS_OF,
        dpd=dpd,
        bucket_cn=bucket,
        overdue_fen=overdue_fen,
        principal_fen=overdue_fen,
        balance_fen=overdue_fen,
        queue=queue,
        language=language,
        priority_score=overdue_fen if priority is None else priority,
        assigned_user_id=assigned,
        agency_id=agency_id,
        sla_due_on=AS_OF,
        updated_on=AS_OF,
    )
    session.add(case)
    session.flush()
    return case.case_id


def build_world(session: Session) -> World:
    teams = {
        kind: ensure_team(session, f"team-{kind}", kind)
        for kind in ("collection", "customer_service", "risk", "legal", "agency")
    }
    agency_id = ensure_agency(session, "AG-T", "Test agency")
    ensure_queues(session, DEFAULT_QUEUES, team_id=teams["collection"])
    users = {
        "admin": ("admin", None),
        "manager": ("manager", "collection"),
        "analyst": ("analyst", "risk"),
        "collector1": ("collector", "collection"),
        "collector2": ("collector", "collection"),
        "agency": ("agency", "agency"),
        "service": ("customer_service", "customer_service"),
        "auditor": ("auditor", None),
    }
    actors = {}
    for name, (role, team) in users.items():
        user = User(
            username=f"t-{name}",
            display_name=name,
            role=role,
            team_id=teams[team] if team else None,
            agency_id=agency_id if role == "agency" else None,
            password_hash=_password_hash(),
            skills={"languages": ["zh-CN"] if name == "collector1" else []},
            max_open_cases=5,
            created_at=AT,
        )
        session.add(user)
        session.flush()
        actors[name] = actor_for_user(session, user.id)
    world = World(teams, agency_id, actors)
    c1, c2 = actors["collector1"].user_id, actors["collector2"].user_id
    world.cases = [
        add_case(session, 1, assigned=c1, priority=500),
        add_case(session, 2, assigned=c1, priority=900, bucket="M2", dpd=40, queue="mid-M2"),
        add_case(session, 3, assigned=c2, priority=700, language="en", queue="early-en"),
        add_case(session, 4, agency_id=agency_id, priority=100, bucket="M3", dpd=75),
        add_case(session, 5, priority=300),
    ]
    return world
