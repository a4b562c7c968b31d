"""Admin functions (users, queues) and the collector / team performance figures."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from cases_world import AS_OF, AT, World
from sqlalchemy.orm import Session

from overdue.cases.access import NotAllowed
from overdue.cases.actions import log_contact_outcome, record_promise
from overdue.cases.complaints import register_complaint
from overdue.cases.config import PromiseRule
from overdue.cases.payments import record_payment, reverse_payment
from overdue.cases.performance import collector_performance, team_performance
from overdue.cases.promise_keeping import decide_promises
from overdue.cases.users import verify_password
from overdue.cases.users_admin import (
    create_user,
    list_queues,
    list_users,
    update_queue,
    update_user,
)
from overdue.store.tables import User


def test_users_listed_created_and_updated(session: Session, world: World) -> None:
    admin = world.actor("admin")
    rows = {r.username: r for r in list_users(session, world.actor("manager"))}
    assert rows["t-collector1"].open_cases == 2
    with pytest.raises(NotAllowed):
        list_users(session, world.actor("collector1"))
    user_id = create_user(
        session, admin, username="new-collector", password="s3cret!", role="collector"
    )
    user = session.get(User, user_id)
    assert user is not None and verify_password(user.password_hash, "s3cret!")
    with pytest.raises(NotAllowed):
        update_user(session, world.actor("manager"), user_id, capacity=10)
    update_user(session, admin, user_id, languages=["en"], max_open_cases=7)
    assert (user.skills["languages"], user.max_open_cases) == (["en"], 7)
    with pytest.raises(ValueError, match="languages"):
        update_user(session, admin, user_id, languages=["fr"])
    queue = list_queues(session)[0]
    update_queue(session, world.actor("manager"), queue.id, sla_days=9)
    assert queue.sla_days == 9


def test_collector_performance(session: Session, world: World) -> None:
    collector = world.actor("collector1")
    case_id = world.cases[0]
    for i, rpc in enumerate((True, False, True)):
        log_contact_outcome(
            session,
            collector,
            case_id,
            channel="voice_agent",
            outcome="promise_to_pay" if rpc else "no_answer",
            connected=rpc,
            right_party=rpc,
            at=AT + timedelta(minutes=i),
        )
    record_promise(session, collector, case_id, amount_fen=30_000, promised_date=AS_OF, as_of=AS_OF)
    record_payment(
        session,
        payment_id="perf-1",
        account_id="TA00001",
        amount_fen=30_000,
        value_date=AS_OF,
        source="test",
    )
    record_payment(
        session,
        payment_id="perf-2",
        account_id="TA00001",
        amount_fen=5_000,
        value_date=AS_OF,
        source="test",
    )
    reverse_payment(session, payment_id="perf-2", reversed_on=AS_OF)
    decide_promises(session, AS_OF, PromiseRule())
    register_complaint(
        session, world.actor("service"), customer_id="TC00001", channel="app", category="rudeness"
    )
    rows = {r.who: r for r in collector_performance(session, AS_OF, AS_OF)}
    mine = rows["t-collector1"]
    assert (mine.contacts, mine.right_party, mine.promises, mine.kept) == (3, 2, 1, 1)
    assert mine.kept_rate == Decimal(1)
    assert mine.collected_fen == 30_000
    assert rows["t-collector2"].contacts == 0
    teams = team_performance(list(rows.values()))
    assert sum(t.contacts for t in teams) == 3
    assert len(teams) == 1 and teams[0].team_id == world.teams["collection"]
