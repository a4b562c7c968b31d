"""Inbound events: replays are no-ops; STOP / 退订 replies become channel opt-outs."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from contact_rows import AS_OF, T0, outbox_rows
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, func, insert, select

from overdue.cases.payments import record_payment
from overdue.contact.inbound import EVENTS, InboundError, is_opt_out, opted_out, receive
from overdue.contact.outbox import enqueue
from overdue.store.db import session_scope
from overdue.store.tables import Customer, Payment

AT = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize("text", ["STOP", "stop", "Stop.", "ＳＴＯＰ", "ｓｔｏｐ", " UNSUBSCRIBE ",
                                  "Unsubscribe please", "退订", "退订。", "退订谢谢", "TD", "td",
                                  "ＴＤ", "Ｔｄ!", "t d", "STOP ALL", "quit"])
def test_opt_out_words(text: str) -> None:
    assert is_opt_out(text)


@pytest.mark.parametrize("text", ["", "   ", "I will pay tomorrow", "don't stop", "我不想退订",
                                  "TDX", "stopping by later", "好的，明天还款", "OK"])
def test_not_opt_out(text: str) -> None:
    assert not is_opt_out(text)


@settings(deadline=None)  # shared, loaded machines: no per-example time limit
@given(st.sampled_from(["stop", "unsubscribe", "td", "退订"]), st.booleans(), st.booleans(),
       st.sampled_from(["", ".", "!", "。", "！", " "]))
def test_opt_out_ignores_case_width_and_punctuation(word: str, upper: bool, wide: bool, tail: str) -> None:
    text = word.upper() if upper else word
    if wide:  # full-width forms of ASCII letters
        text = "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in text)
    assert is_opt_out(text + tail)


def _customer(engine: Engine, customer_id: str) -> None:
    with session_scope(engine) as session:
        session.execute(insert(Customer).values(customer_id=customer_id, name="张三"))


def _events(engine: Engine) -> int:
    with engine.connect() as connection:
        return int(connection.execute(select(func.count()).select_from(EVENTS)).scalar_one())


def test_stop_reply_opts_the_customer_out_of_that_channel(store_engine: Engine) -> None:
    rows = outbox_rows(3, channels=("sms",))
    _customer(store_engine, rows[0]["customer_id"])
    reply = {"reply_id": "r-1", "channel": "sms", "from_address": rows[0]["to_address"],
             "text": "ＴＤ"}
    other = {"reply_id": "r-2", "channel": "sms", "from_address": rows[1]["to_address"],
             "text": "退订"}
    chat = {"reply_id": "r-3", "channel": "sms", "from_address": rows[2]["to_address"],
            "text": "明天还"}
    with session_scope(store_engine) as session:
        enqueue(session, rows, now=T0)
        result = receive(session, "reply", [reply, other, chat], received_at=AT)
    assert (result.inserted, result.duplicates, len(result.opt_outs)) == (3, 0, 2)
    assert [o.customer_id for o in result.unapplied_opt_outs] == [rows[1]["customer_id"]]
    with session_scope(store_engine) as session:
        assert opted_out(session, rows[0]["customer_id"], "sms")
        assert not opted_out(session, rows[0]["customer_id"], "email")
        replay = receive(session, "reply", [reply, other], received_at=AT)
    assert (replay.inserted, replay.duplicates, replay.opt_outs) == (0, 2, [])
    assert _events(store_engine) == 3


def test_payments_receipts_and_call_outcomes_are_idempotent(store_engine: Engine) -> None:
    rows = outbox_rows(2, channels=("voice_robot",))
    payment = {"payment_id": "P1", "account_id": "A000001", "amount_fen": 12_345,
               "value_date": AS_OF}
    receipt = {"provider_message_id": "m-1", "idempotency_key": rows[0]["idempotency_key"],
               "status": "delivered"}
    call = {"call_id": "call-9", "idempotency_key": rows[1]["idempotency_key"], "connected": True,
            "right_party": True, "conversation": False, "outcome": "promise"}
    with session_scope(store_engine) as session:
        enqueue(session, rows, now=T0)
        first = receive(session, "payment", [payment, payment], received_at=AT)
        assert (first.inserted, first.payments_recorded) == (1, 1)
        assert receive(session, "delivery_receipt", [receipt], received_at=AT).matched_outbox == 1
        assert receive(session, "call_outcome", [call], received_at=AT).matched_outbox == 1
    with session_scope(store_engine) as session:
        again = receive(session, "payment", [payment], received_at=AT)
        assert (again.inserted, again.duplicates) == (0, 1)
        stored = session.execute(select(Payment.payment_id, Payment.amount_fen)).all()
    assert [tuple(r) for r in stored] == [("P1", 12_345)]
    assert _events(store_engine) == 3


def test_a_payment_id_known_with_other_details_is_a_conflict(store_engine: Engine) -> None:
    with session_scope(store_engine) as session:
        record_payment(session, payment_id="P7", account_id="A1", amount_fen=100,
                       value_date=AS_OF, source="web", received_at=AT)
    event = {"payment_id": "P7", "account_id": "A1", "amount_fen": 999, "value_date": AS_OF}
    with session_scope(store_engine) as session:
        result = receive(session, "payment", [event], received_at=AT)
    assert result.payments_recorded == 0 and "P7" in result.conflicts[0]
    with session_scope(store_engine) as session:
        assert session.execute(select(Payment.amount_fen)).scalars().all() == [100]


@pytest.mark.parametrize(("kind", "event", "field"), [
    ("payment", {"payment_id": "P", "account_id": "A", "amount_fen": 1.5, "value_date": "2026-11-28"}, "amount_fen"),
    ("payment", {"payment_id": "P", "account_id": "A", "amount_fen": 0, "value_date": "2026-11-28"}, "amount_fen"),
    ("payment", {"payment_id": "P", "account_id": "A", "amount_fen": 5, "value_date": "28/11"}, "value_date"),
    ("payment", {"account_id": "A", "amount_fen": 5, "value_date": "2026-11-28"}, "payment_id"),
    ("delivery_receipt", {"provider_message_id": "m", "status": "lost"}, "status"),
    ("call_outcome", {"call_id": "c", "connected": "yes", "right_party": True, "conversation": True}, "connected"),
    ("reply", {"reply_id": "r", "channel": "fax", "from_address": "x", "text": "STOP"}, "channel"),
])
def test_bad_events_name_the_field(store_engine: Engine, kind: str, event: dict, field: str) -> None:
    with session_scope(store_engine) as session, pytest.raises(InboundError, match=f"{kind} event 0: {field}"):
        receive(session, kind, [event], received_at=AT)


def test_a_stop_reply_reaches_the_gate_as_an_opt_out_flag(store_engine: Engine) -> None:
    import pyarrow as pa

    from overdue.compliance.gate import check
    from overdue.compliance.history import ContactHistory
    from overdue.compliance.profile import load_profile
    from overdue.contact.inbound import opt_out_flags
    from overdue.contact.keys import contact_key

    rows = outbox_rows(1, channels=("sms",))
    customer = rows[0]["customer_id"]
    _customer(store_engine, customer)
    reply = {"reply_id": "r-9", "channel": "sms", "from_address": rows[0]["to_address"],
             "text": "Ｓｔｏｐ"}
    with session_scope(store_engine) as session:
        enqueue(session, rows, now=T0)
        receive(session, "reply", [reply], received_at=AT)
        flags = opt_out_flags(session)
        assert opt_out_flags(session, ["someone-else"]).num_rows == 0
    assert flags.column("customer_id").to_pylist() == [customer]
    assert flags.column("opt_out_sms").to_pylist() == [True]
    assert flags.column("opt_out_email").to_pylist() == [False]
    channels = ["sms", "email"]
    planned = pa.table({
        "contact_id": [contact_key(AS_OF, "A000000", "d2", c) for c in channels],
        "as_of": pa.array([AS_OF] * 2, pa.date32()),
        "customer_id": [customer] * 2,
        "account_id": ["A000000"] * 2,
        "channel": channels,
        "to_address": [rows[0]["to_address"], "c0@example.com"],
        "recipient_kind": ["debtor"] * 2,
        "planned_at_utc": pa.array([datetime(2026, 11, 29, 2, 0, tzinfo=UTC)] * 2,
                                   pa.timestamp("us", tz="UTC")),
        "time_zone": ["Asia/Shanghai"] * 2,
        "language": ["zh-CN"] * 2,
        "template": ["reminder"] * 2,
        "tone": ["friendly"] * 2,
        "strategy": ["default"] * 2,
        "strategy_version": ["1"] * 2,
        "segment": ["early"] * 2,
        "arm": ["champion"] * 2,
        "step_id": ["d2"] * 2,
        "priority": [1, 1],
        "reason": ["reminder"] * 2,
    })
    gated = check(planned, ContactHistory(), flags, load_profile("cn"))
    assert gated.column("allowed").to_pylist() == [False, True]
    assert gated.column("blocked_rule").to_pylist() == ["opt_out", ""]
