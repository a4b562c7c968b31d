"""Promises in the store: payments arrive (idempotently), promises are decided, a reversal
un-keeps, reminders come due once."""

from __future__ import annotations

from datetime import timedelta

import pytest
from cases_world import AS_OF, World
from sqlalchemy.orm import Session

from overdue.cases.access import Conflict
from overdue.cases.actions import record_promise
from overdue.cases.config import PromiseRule
from overdue.cases.payments import record_payment, reverse_payment
from overdue.cases.promise_keeping import (
    decide_promises,
    mark_reminders_sent,
    promise_kpis,
    reminders_due,
)
from overdue.store.tables import Case, Promise

RULE = PromiseRule(grace_days=2, reminder_days=1)


def _promise(session: Session, world: World, case_index: int, amount: int, in_days: int) -> int:
    return record_promise(
        session,
        world.actor("manager"),
        world.cases[case_index],
        amount_fen=amount,
        promised_date=AS_OF + timedelta(days=in_days),
        as_of=AS_OF,
        rule=RULE,
    )


def test_payment_is_idempotent_by_id(session: Session, world: World) -> None:
    kwargs = {"payment_id": "P1", "account_id": "TA00001", "amount_fen": 500, "value_date": AS_OF}
    assert record_payment(session, source="webhook", **kwargs)  # type: ignore[arg-type]
    assert not record_payment(session, source="webhook", **kwargs)  # type: ignore[arg-type]
    with pytest.raises(Conflict):
        record_payment(
            session,
            payment_id="P1",
            account_id="TA00001",
            amount_fen=999,
            value_date=AS_OF,
            source="webhook",
        )


def test_kept_broken_and_unkept_by_reversal(session: Session, world: World) -> None:
    kept_id = _promise(session, world, 0, 10_000, 3)
    broken_id = _promise(session, world, 1, 20_000, 3)
    record_payment(
        session,
        payment_id="P-a",
        account_id="TA00001",
        amount_fen=4_000,
        value_date=AS_OF + timedelta(days=1),
        source="test",
    )
    record_payment(
        session,
        payment_id="P-b",
        account_id="TA00001",
        amount_fen=6_000,
        value_date=AS_OF + timedelta(days=4),  # late, within the 2 grace days
        source="test",
    )
    run = decide_promises(session, AS_OF + timedelta(days=4), RULE)
    assert run.changed == {"pending->kept": 1}
    run = decide_promises(session, AS_OF + timedelta(days=6), RULE)
    assert run.changed == {"pending->broken": 1}
    kept, broken = session.get(Promise, kept_id), session.get(Promise, broken_id)
    assert kept is not None and broken is not None
    assert (kept.status, kept.kept_amount_fen) == ("kept", 10_000)
    assert broken.status == "broken"
    case = session.get(Case, world.cases[0])
    assert case is not None and case.next_promise_on is None

    reverse_payment(session, payment_id="P-a", reversed_on=AS_OF + timedelta(days=7))
    run = decide_promises(session, AS_OF + timedelta(days=7), RULE)
    assert run.changed == {"kept->broken": 1}
    assert (kept.status, kept.kept_amount_fen) == ("broken", 6_000)
    assert decide_promises(session, AS_OF + timedelta(days=7), RULE).changed == {}

    stats = promise_kpis(session, AS_OF, AS_OF)
    assert (stats.promises, stats.kept, stats.falling_due) == (2, 0, 2)


def test_reminders_come_due_once(session: Session, world: World) -> None:
    promise_id = _promise(session, world, 0, 10_000, 3)
    assert reminders_due(session, AS_OF) == []
    due = reminders_due(session, AS_OF + timedelta(days=2))
    assert [r.promise_id for r in due] == [promise_id]
    assert due[0].customer_id == "TC00001"
    assert mark_reminders_sent(session, [promise_id], AS_OF + timedelta(days=2)) == 1
    assert reminders_due(session, AS_OF + timedelta(days=2)) == []
