"""Delivery receipts and call outcomes land on the case: one contact attempt per outbox message
(keyed by its idempotency key), updated by a later event, never doubled by a replay; the gate
for people counts that message once, by its real outcome."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from contact_rows import AS_OF, T0, outbox_rows
from sqlalchemy import Engine, insert, select, update

from overdue.cases.contact_gate import contact_history
from overdue.contact.inbound import receive
from overdue.contact.outbox import enqueue
from overdue.store.db import session_scope
from overdue.store.tables import Account, Case, ContactAttempt, Customer, OutboxMessage

AT = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)


def _debtor_with_case(engine: Engine, customer_id: str, account_id: str) -> int:
    with session_scope(engine) as session:
        session.execute(insert(Customer).values(customer_id=customer_id, time_zone="Asia/Shanghai"))
        session.execute(
            insert(Account).values(
                account_id=account_id,
                customer_id=customer_id,
                product="revolving",
                policy="huabei-like",
                status="overdue",
                dpd=5,
                bucket_cn="M1",
                snapshot_as_of=AS_OF,
            )
        )
        return int(
            session.execute(
                insert(Case)
                .values(
                    account_id=account_id,
                    customer_id=customer_id,
                    opened_on=AS_OF,
                    dpd=5,
                    bucket_cn="M1",
                    overdue_fen=10_000,
                    balance_fen=10_000,
                    updated_on=AS_OF,
                )
                .returning(Case.case_id)
            ).scalar_one()
        )


def _attempts(engine: Engine) -> list[tuple[object, ...]]:
    with session_scope(engine) as session:
        rows = session.execute(
            select(
                ContactAttempt.contact_id, ContactAttempt.case_id, ContactAttempt.channel,
                ContactAttempt.connected, ContactAttempt.right_party, ContactAttempt.outcome,
                ContactAttempt.arm,
            ).order_by(ContactAttempt.id)
        )  # fmt: skip
        return [tuple(r) for r in rows]


def test_receipts_and_call_outcomes_become_attempts_on_the_case(store_engine: Engine) -> None:
    robot, sms, stranger = outbox_rows(3, channels=("voice_robot", "sms", "sms"))
    case_id = _debtor_with_case(store_engine, robot["customer_id"], robot["account_id"])
    assert _debtor_with_case(store_engine, sms["customer_id"], sms["account_id"]) == case_id + 1
    with session_scope(store_engine) as session:
        enqueue(session, [robot, sms, stranger], now=T0)
        session.execute(update(OutboxMessage).values(status="sent", sent_at=T0))
    call = {"call_id": "call-1", "idempotency_key": robot["idempotency_key"], "connected": True,
            "right_party": True, "conversation": True, "outcome": "promise_to_pay",
            "at": "2026-11-28T18:05:00+08:00"}  # fmt: skip
    bounced = {"provider_message_id": "m-2", "idempotency_key": sms["idempotency_key"],
               "status": "bounced"}  # fmt: skip
    unknown = {"provider_message_id": "m-3", "idempotency_key": stranger["idempotency_key"],
               "status": "delivered"}  # fmt: skip
    with session_scope(store_engine) as session:
        first = receive(session, "call_outcome", [call], received_at=AT)
        receipts = receive(session, "delivery_receipt", [bounced, unknown], received_at=AT)
        replay = receive(session, "call_outcome", [call], received_at=AT)
    assert (first.attempts_recorded, receipts.attempts_recorded, receipts.unlinked) == (1, 1, 1)
    assert replay.attempts_recorded == 0 and replay.duplicates == 1
    sms_case = case_id + 1
    assert _attempts(store_engine) == [
        (
            robot["idempotency_key"],
            case_id,
            "voice_robot",
            True,
            True,
            "promise_to_pay",
            "champion",
        ),
        (sms["idempotency_key"], sms_case, "sms", False, False, "failed", "champion"),
    ]
    with session_scope(store_engine) as session:
        at = session.scalar(select(ContactAttempt.attempted_at).where(
            ContactAttempt.contact_id == robot["idempotency_key"]))  # fmt: skip
        customer = session.get(Customer, robot["customer_id"])
        assert customer is not None
        history = contact_history(session, customer, T0 + timedelta(days=1))
    assert at is not None and at.replace(tzinfo=UTC) == datetime(2026, 11, 28, 10, 5, tzinfo=UTC)
    counted = history.attempts()
    assert counted.num_rows == 1  # the outbox row and its attempt are one contact
    assert counted["conversation"].to_pylist() == [True]


def test_a_later_event_updates_the_same_attempt(store_engine: Engine) -> None:
    (robot,) = outbox_rows(1, channels=("voice_robot",))
    _debtor_with_case(store_engine, robot["customer_id"], robot["account_id"])
    with session_scope(store_engine) as session:
        enqueue(session, [robot], now=T0)
    delivered = {"provider_message_id": "m-9", "idempotency_key": robot["idempotency_key"],
                 "status": "delivered"}  # fmt: skip
    call = {"call_id": "call-9", "idempotency_key": robot["idempotency_key"], "connected": False,
            "right_party": False, "conversation": False}  # fmt: skip
    with session_scope(store_engine) as session:
        receive(session, "delivery_receipt", [delivered], received_at=AT)
        receive(session, "call_outcome", [call], received_at=AT)
    rows = _attempts(store_engine)
    assert len(rows) == 1 and rows[0][3:6] == (False, False, "no_answer")
